/**
 * Randomness is an argument everywhere in crypto/ (docs/ARCHITECTURE.md §5.4). Nothing in
 * crypto/ reads global randomness; the client passes `systemRng` from client/, tests and the
 * vector generator pass a deterministic one.
 */
import { concat, u32be } from "./bytes.js";
import { label as labelBytes } from "./labels.js";
import { UsageError } from "./errors.js";
import { blake2b } from "./primitives.js";

/** Returns `n` fresh random bytes. */
export type Rng = (n: number) => Uint8Array;

/**
 * An Rng that draws `poolBytes` at a time from `source` and hands them out in order, each byte
 * once: a slice is copied out and its place in the pool zeroed, and a request that does not fit
 * in what is left draws a new pool (the rest of the old one is dropped, never handed out).
 * Requests larger than a pool go to `source` directly. For values that are public once used and
 * asked for often, such as the nonces of sealed columns (SECURITY.md §16.2); not for keys.
 * The pool lives in this closure only: it is never stored, and a process that starts again
 * (after a crash) starts with an empty one.
 */
export function bufferedRng(source: Rng, poolBytes: number): Rng {
  if (!Number.isSafeInteger(poolBytes) || poolBytes < 1) throw new UsageError("poolBytes must be a positive integer");
  let pool: Uint8Array = new Uint8Array(0);
  let at = 0;
  return (n: number) => {
    // (A negative or fractional count would move `at` onto bytes already handed out.)
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`an RNG request must be a whole number ≥ 0, not ${n}`);
    if (n > poolBytes) return source(n);
    if (pool.length - at < n) {
      pool.fill(0);
      // (Empty until the new pool is in: a source that throws leaves nothing to hand out.)
      pool = new Uint8Array(0);
      at = 0;
      const fresh = source(poolBytes);
      if (fresh.length !== poolBytes) throw new UsageError("the RNG returned fewer bytes than asked for");
      pool = fresh;
    }
    const out = pool.slice(at, at + n);
    pool.fill(0, at, at + n);
    at += n;
    return out;
  };
}

/**
 * A deterministic RNG for vectors and tests: BLAKE2b-512 in counter mode over a seed,
 * block_i = BLAKE2b-512(key = seed, msg = "SMSG-v1 seeded rng" || u32be(i)), output is the
 * concatenation of blocks (SECURITY.md §11). Never use it for real keys.
 */
export function seededRng(seed: Uint8Array): Rng {
  if (seed.length < 16 || seed.length > 64) throw new UsageError("seed must be 16..64 bytes");
  let counter = 0;
  let pool: Uint8Array = new Uint8Array(0);
  const label = labelBytes("seededRng");
  return (n: number) => {
    while (pool.length < n) {
      const block = blake2b(concat(label, u32be(counter++)), 64, seed);
      pool = concat(pool, block);
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
}

/**
 * An RNG that hands out exactly the given chunks, in order, and throws when a request does
 * not match the next chunk's length or when it runs dry. Used to replay published vectors:
 * an implementation that draws randomness differently fails loudly.
 */
export function replayRng(chunks: Uint8Array[]): Rng & { remaining(): number } {
  const queue = [...chunks];
  const rng = (n: number) => {
    const next = queue.shift();
    if (!next) throw new UsageError("replay RNG ran dry");
    if (next.length !== n) throw new UsageError(`replay RNG: asked for ${n} bytes, next chunk has ${next.length}`);
    return next.slice();
  };
  return Object.assign(rng, { remaining: () => queue.length });
}
