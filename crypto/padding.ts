/**
 * Length padding applied to a plaintext before it is encrypted (SECURITY.md §8), so a
 * ciphertext's length reveals only which of a few sizes the message falls into, not its
 * exact length.
 *
 * Scheme: the plaintext, then one 0x80 byte, then zero bytes up to P'(L + 1), where L is the
 * plaintext length and P' is Padmé (Nikitin et al., "Reducing Metadata Leakage from
 * Encrypted Files and Communication with PURBs", PETS 2019, §4) with a floor of 32 bytes, so
 * every message of up to 31 bytes pads to the same 32. Padmé rounds a length x to a
 * multiple of 2^(E−S), where E = floor(log2 x) and S = floor(log2 E) + 1: the padded length
 * has at most S + 1 significant bits, which leaks O(log log x) bits of the length.
 *
 * Overhead: for x = L + 1 > 32, Padmé adds P'(x) − x < x · 2^−S zero bytes: under 12.5 % of
 * x for x < 256 (worst: 15 bytes on x = 129, 11.6 %), under 6.25 % for x < 65536 and under
 * 3.125 % beyond. Counting the marker, a plaintext of L ≥ 32 bytes grows by at most 12.5 %
 * (worst: L = 32 → 36). Below that the 32-byte floor dominates (32 bytes for an empty message).
 *
 * The padding is canonical: `unpad` accepts exactly the byte strings `pad` produces.
 */
import { CodecError, UsageError } from "./errors.js";

/** The byte that ends the content (ISO/IEC 7816-4 style marker). */
export const PADDING_MARKER = 0x80;
/** The smallest padded length: every plaintext of 0..31 bytes pads to 32 bytes. */
export const MIN_PADDED_LENGTH = 32;
/** The longest plaintext `pad` accepts: 16 MiB. */
export const MAX_PLAINTEXT_LENGTH = 16 * 1024 * 1024;

/**
 * Padmé, P(x) (PURBs §4, Algorithm 1) for an integer x ≥ 1: with E = floor(log2 x),
 * S = floor(log2 E) + 1, lastBits = E − S and bitMask = 2^lastBits − 1, returns
 * (x + bitMask) & ~bitMask. For x < 4 (E ≤ 1, where lastBits ≤ 0 or log2 E is undefined)
 * it returns x. Defined here up to 2^30. Throws UsageError for anything else.
 */
export function padme(x: number): number {
  if (!Number.isInteger(x) || x < 1 || x > 2 ** 30) throw new UsageError("padme: x must be an integer in 1..2^30");
  if (x < 4) return x;
  const e = 31 - Math.clz32(x); // floor(log2 x), ≥ 2
  const s = 31 - Math.clz32(e) + 1; // floor(log2 E) + 1
  const lastBits = e - s; // ≥ 0 for E ≥ 2
  const bitMask = (1 << lastBits) - 1;
  return (x + bitMask) & ~bitMask;
}

/**
 * P'(L + 1) = max(32, Padmé(L + 1)): the padded length of a plaintext of `plaintextLength`
 * bytes (SECURITY.md §8). Throws UsageError for a negative, fractional or too large length.
 */
export function paddedLength(plaintextLength: number): number {
  if (!Number.isInteger(plaintextLength) || plaintextLength < 0 || plaintextLength > MAX_PLAINTEXT_LENGTH) {
    throw new UsageError(`plaintext length must be an integer in 0..${MAX_PLAINTEXT_LENGTH}`);
  }
  return Math.max(MIN_PADDED_LENGTH, padme(plaintextLength + 1));
}

/** The longest padded string: the padded length of a MAX_PLAINTEXT_LENGTH plaintext (17 301 504). */
export const MAX_PADDED_LENGTH = paddedLength(MAX_PLAINTEXT_LENGTH);

/**
 * Pads a plaintext (SECURITY.md §8): plaintext || 0x80 || 0x00 × (P'(L+1) − L − 1).
 * Returns a new array; the input is not modified. Throws UsageError if the plaintext is longer
 * than MAX_PLAINTEXT_LENGTH.
 */
export function pad(plaintext: Uint8Array): Uint8Array {
  if (!(plaintext instanceof Uint8Array)) throw new UsageError("plaintext must be a Uint8Array");
  if (plaintext.length > MAX_PLAINTEXT_LENGTH)
    throw new UsageError(`plaintext longer than ${MAX_PLAINTEXT_LENGTH} bytes`);
  const out = new Uint8Array(paddedLength(plaintext.length));
  out.set(plaintext, 0);
  out[plaintext.length] = PADDING_MARKER;
  return out;
}

/**
 * Removes padding (SECURITY.md §8): skips trailing zero bytes, requires a 0x80 marker before
 * them, and requires the total length to be exactly P'(content length + 1), so only the
 * canonical padding of each plaintext is accepted. Returns a copy of the content.
 * Throws CodecError("invalid padding") otherwise (no marker, non-canonical length, content or
 * input longer than the maximum).
 *
 * Not constant-time: it runs on an already authenticated plaintext on the recipient's own
 * machine, and the content length it finds is what the application shows anyway.
 */
export function unpad(padded: Uint8Array): Uint8Array {
  if (!(padded instanceof Uint8Array)) throw new UsageError("padded must be a Uint8Array");
  const n = padded.length;
  if (n < MIN_PADDED_LENGTH || n > MAX_PADDED_LENGTH) throw new CodecError("invalid padding");
  let i = n - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== PADDING_MARKER) throw new CodecError("invalid padding");
  // i is the content length.
  if (i > MAX_PLAINTEXT_LENGTH || paddedLength(i) !== n) throw new CodecError("invalid padding");
  return padded.slice(0, i);
}
