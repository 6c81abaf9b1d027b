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
