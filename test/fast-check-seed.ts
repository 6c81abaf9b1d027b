/**
 * Vitest setup file (runs in each worker before each test file): when SMSG_TEST_SEED is set,
 * every fast-check property runs from that seed, so a failure fast-check reported ("seed: N,
 * path: …") can be replayed for the whole suite with SMSG_TEST_SEED=N. Unset, fast-check draws a
 * fresh seed per property, as it does by default. See test/helpers/test-seed.ts.
 */
import fc from "fast-check";
import { seedFromEnv } from "./helpers/test-seed.js";

const seed = seedFromEnv();
if (seed !== undefined) fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: seed | 0 });
