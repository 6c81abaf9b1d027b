import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Compiles to dist/ first when a source changed, for suites that run the built CLI; gives
    // the run its own temporary folder, removed at the end; and starts the run's one embedded
    // PostgreSQL server (each test file gets its own database on it).
    globalSetup: ["./test/global-setup.ts", "./test/temp-root.ts", "./test/embedded-pg-setup.ts"],
    // Two cores: keep workers at two so property tests don't starve each other.
    maxWorkers: 2,
    testTimeout: 60_000,
  },
});
