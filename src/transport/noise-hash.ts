/**
 * The two Noise hash functions SocketMessenger supports, and the HMAC and HKDF that Noise
 * builds over them (Noise Protocol Framework, revision 34, §4.3 and §12.5, §12.6).
 *
 * HMAC-HASH is RFC 2104 over the plain hash, for both choices. For BLAKE2b that means a
 * 128-byte block and unkeyed BLAKE2b-512 inside: BLAKE2b's own keyed mode is a different
 * function and does not reproduce the Noise vectors.
 */
import { concat } from "../../crypto/bytes.js";
import { UsageError } from "../../crypto/errors.js";
import { blake2b, sha256, wipe } from "../../crypto/primitives.js";

/** The hash names that may appear in a Noise protocol name (Noise §12.5, §12.6). */
export type NoiseHashName = "SHA256" | "BLAKE2b";

/** A Noise hash function (Noise §4.3): its name, HASHLEN, BLOCKLEN and HASH(). */
export interface NoiseHash {
  readonly name: NoiseHashName;
  /** HASHLEN: the output length in bytes (32 or 64). */
  readonly hashLen: number;
  /** BLOCKLEN: the block length HMAC pads its key to (64 or 128). */
  readonly blockLen: number;
  /** HASH(data). */
  hash(data: Uint8Array): Uint8Array;
}

/** SHA256 (Noise §12.5): FIPS 180-4 SHA-256, HASHLEN 32, BLOCKLEN 64. */
export const NOISE_SHA256: NoiseHash = Object.freeze({
  name: "SHA256",
  hashLen: 32,
  blockLen: 64,
  hash: (data: Uint8Array) => sha256(data),
});

/** BLAKE2b (Noise §12.6): unkeyed BLAKE2b-512 (RFC 7693), HASHLEN 64, BLOCKLEN 128. */
export const NOISE_BLAKE2B: NoiseHash = Object.freeze({
  name: "BLAKE2b",
  hashLen: 64,
  blockLen: 128,
  hash: (data: Uint8Array) => blake2b(data, 64),
});

/** The NoiseHash for a protocol-name hash field. Throws UsageError for any other name. */
export function noiseHashByName(name: string): NoiseHash {
  if (name === "SHA256") return NOISE_SHA256;
  if (name === "BLAKE2b") return NOISE_BLAKE2B;
  throw new UsageError(`unsupported Noise hash: ${name}`);
}

/**
 * HMAC-HASH(key, data) (Noise §4.3): RFC 2104 §2 over `h.hash`, with `h.blockLen`-byte
 * blocks. A key longer than the block is hashed first (RFC 2104 §3; Noise never does this,
 * its keys are HASHLEN bytes).
 */
export function noiseHmac(h: NoiseHash, key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = new Uint8Array(h.blockLen);
  const shortKey = key.length > h.blockLen ? h.hash(key) : key;
  k.set(shortKey);
  const ipad = new Uint8Array(h.blockLen);
  const opad = new Uint8Array(h.blockLen);
  for (let i = 0; i < h.blockLen; i++) {
    ipad[i] = k[i]! ^ 0x36;
    opad[i] = k[i]! ^ 0x5c;
  }
  const innerInput = concat(ipad, data);
  const inner = h.hash(innerInput);
  const outerInput = concat(opad, inner);
  const out = h.hash(outerInput);
  wipe(k, ipad, opad, innerInput, inner, outerInput);
  if (shortKey !== key) wipe(shortKey);
  return out;
}

/**
 * HKDF(chaining_key, input_key_material, num_outputs) (Noise §4.3): two or three outputs of
 * HASHLEN bytes each. `ikm` is empty or 32 bytes in Noise (§4.3), but any length works.
 * Throws UsageError unless `numOutputs` is 2 or 3.
 */
export function noiseHkdf(
  h: NoiseHash,
  chainingKey: Uint8Array,
  ikm: Uint8Array,
  numOutputs: 2,
): [Uint8Array, Uint8Array];
export function noiseHkdf(
  h: NoiseHash,
  chainingKey: Uint8Array,
  ikm: Uint8Array,
  numOutputs: 3,
): [Uint8Array, Uint8Array, Uint8Array];
export function noiseHkdf(h: NoiseHash, chainingKey: Uint8Array, ikm: Uint8Array, numOutputs: 2 | 3): Uint8Array[] {
  if (numOutputs !== 2 && numOutputs !== 3) throw new UsageError("Noise HKDF gives 2 or 3 outputs");
  const tempKey = noiseHmac(h, chainingKey, ikm);
  const out1 = noiseHmac(h, tempKey, Uint8Array.of(0x01));
  const in2 = concat(out1, Uint8Array.of(0x02));
  const out2 = noiseHmac(h, tempKey, in2);
  wipe(in2);
  if (numOutputs === 2) {
    wipe(tempKey);
    return [out1, out2];
  }
  const in3 = concat(out2, Uint8Array.of(0x03));
  const out3 = noiseHmac(h, tempKey, in3);
  wipe(tempKey, in3);
  return [out1, out2, out3];
}
