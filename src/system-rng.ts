/** The operating system's CSPRNG as an Rng: what the client and relay pass into crypto/. */
import { randomBytes } from "node:crypto";
import { type Rng, bufferedRng } from "../crypto/rng.js";

export const systemRng: Rng = (n: number) => new Uint8Array(randomBytes(n));

/** Bytes the buffered source draws from the system at a time: about 170 sealed-column nonces. */
const NONCE_POOL_BYTES = 4096;

/**
 * A new buffered source over systemRng (crypto/rng.ts bufferedRng), for the nonces of sealed
 * columns only (SECURITY.md §16.2): one system call per 170 nonces instead of one per nonce.
 */
export function bufferedSystemRng(): Rng {
  return bufferedRng(systemRng, NONCE_POOL_BYTES);
}
