import { defineConfig } from "vitest/config";
import { SlowestFirstSequencer } from "./test/slowest-first-sequencer.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Compiles to dist/ first when a source changed, for suites that run the built CLI; gives
    // the run its own temporary folder, removed at the end; and starts the run's one embedded
    // PostgreSQL server (each test file gets its own database on it).
    globalSetup: ["./test/global-setup.ts", "./test/temp-root.ts", "./test/embedded-pg-setup.ts"],
    // SMSG_TEST_SEED, when set, fixes fast-check's seed too (test/helpers/test-seed.ts).
    setupFiles: ["./test/fast-check-seed.ts"],
    // Two cores: two workers. Each e2e file also runs a relay process and `smsg` processes, so
    // more workers would only make every test slower; fewer would leave a core idle while a
    // worker waits on its children.
    maxWorkers: 2,
    // On a fresh clone (no durations yet) the slowest files start first, so that neither worker
    // ends the run alone with one of them (test/slowest-first-sequencer.ts).
    sequence: { sequencer: SlowestFirstSequencer },
    // Hang guards, not speed checks. The slowest test or step takes a few seconds on an idle
    // 2-core machine; 60 s leaves room for one that runs several times slower while other work
    // holds the cores. Hooks start relays and join users: vitest's default 10 s hook timeout
    // expired under load, and with four or more processes per core such a hook took over 30 s.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
