import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Two cores: keep workers at two so property tests don't starve each other.
    maxWorkers: 2,
    testTimeout: 60_000,
  },
});
