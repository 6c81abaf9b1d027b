/**
 * Seeded randomness for test decisions (when to kill a process, which case to pick), so that a
 * failing run can be replayed. The seed comes from SMSG_TEST_SEED when it is set (an unsigned
 * 32-bit integer) and is otherwise drawn fresh for each test file, so repeated runs explore
 * different choices; a failing test prints the seed and the command that replays it. The same
 * variable fixes fast-check's seed (test/fast-check-seed.ts); fast-check prints its own seed
 * and path on failure either way.
 *
 * Random bytes that only have to be unique (database names, idempotency ids, key material)
 * keep using node:crypto: they decide nothing about what a test checks.
 */
import { randomInt } from "node:crypto";
import { beforeEach } from "vitest";

export const SEED_VARIABLE = "SMSG_TEST_SEED";

/** SMSG_TEST_SEED as a seed, undefined when unset; throws on a value that is not one. */
export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[SEED_VARIABLE];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < -0x8000_0000 || n > 0xffff_ffff)
    throw new Error(`${SEED_VARIABLE} must be an integer from -2147483648 to 4294967295, not ${JSON.stringify(raw)}`);
  return n;
}

/** A seeded source of numbers in [0, 1) (mulberry32: small, fast, and plenty for choosing delays). */
export interface SeededRandom {
  readonly seed: number;
  /** The next number in [0, 1). */
  next(): number;
  /** An integer from 0 to `max` inclusive. */
  int(max: number): number;
}

export function seededRandom(seed: number): SeededRandom {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  return { seed, next, int: (max) => Math.floor(next() * (max + 1)) };
}

/**
 * The seeded random source of a test file: call at the top level of the file. Every test of the
 * file that fails prints the seed and how to replay it (on stderr, beside the failure).
 */
export function testRandom(file: string): SeededRandom {
  const random = seededRandom(seedFromEnv() ?? randomInt(0x1_0000_0000));
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      process.stderr.write(
        `${file}: its random choices came from seed ${random.seed}; replay them with ` +
          `${SEED_VARIABLE}=${random.seed} npx vitest run ${file}\n`,
      );
    });
  });
  return random;
}
