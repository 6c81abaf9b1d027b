/**
 * The only file in the project that calls libsodium. Every other module goes through these
 * functions, which check lengths, turn libsodium's failures into the project's errors, and
 * name the standard each one implements, so an auditor can check this file against the specs
 * and everything else against SECURITY.md.
 */
import { CryptoVerificationError, UsageError } from "./errors.js";
import { sodium } from "./sodium.js";
import type { Rng } from "./rng.js";

export const X25519_KEY_BYTES = 32;
export const ED25519_PUBLIC_BYTES = 32;
export const ED25519_SEED_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const XCHACHA_KEY_BYTES = 32;
export const XCHACHA_NONCE_BYTES = 24;
export const CHACHA_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
export const SHA256_BYTES = 32;
export const HKDF_SHA256_MAX_BYTES = 255 * SHA256_BYTES;

function need(b: Uint8Array, len: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== len) {
    throw new UsageError(`${what} must be ${len} bytes`);
  }
}

// ---------------------------------------------------------------------------------------------
// X25519 (RFC 7748 §5)

/** An X25519 key pair. `privateKey` is the 32-byte scalar as drawn (clamped inside X25519). */
export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** X25519(k, 9): the public key of a private scalar (RFC 7748 §6.1). */
export function x25519Base(privateKey: Uint8Array): Uint8Array {
  need(privateKey, X25519_KEY_BYTES, "X25519 private key");
  return sodium.crypto_scalarmult_base(privateKey);
}

/** A new X25519 key pair from 32 bytes of `rng`. */
export function x25519KeyPair(rng: Rng): X25519KeyPair {
  const privateKey = rng(X25519_KEY_BYTES);
  return { privateKey, publicKey: x25519Base(privateKey) };
}

/**
 * X25519(k, u) (RFC 7748 §5). Refuses a result of all zeros, which is what every low-order
 * public key (and the all-zero key) produces (RFC 7748 §6.1 "check"): such a key would let a
 * peer force a known shared secret. Throws CryptoVerificationError("invalid public key").
 */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  need(privateKey, X25519_KEY_BYTES, "X25519 private key");
  need(publicKey, X25519_KEY_BYTES, "X25519 public key");
  let out: Uint8Array;
  try {
    out = sodium.crypto_scalarmult(privateKey, publicKey);
  } catch {
    // libsodium returns -1 exactly when the output would be all zeros.
    throw new CryptoVerificationError("invalid public key");
  }
  if (sodium.is_zero(out)) throw new CryptoVerificationError("invalid public key");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ed25519 (RFC 8032 §5.1)

/** An Ed25519 key pair. `privateKey` is libsodium's 64-byte form: seed || public key. */
export interface Ed25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** The Ed25519 key pair of a 32-byte seed (RFC 8032 §5.1.5). */
export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  need(seed, ED25519_SEED_BYTES, "Ed25519 seed");
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, privateKey: kp.privateKey };
}

/** A new Ed25519 key pair from a 32-byte seed drawn from `rng`. */
export function ed25519KeyPair(rng: Rng): Ed25519KeyPair {
  return ed25519FromSeed(rng(ED25519_SEED_BYTES));
}

/** Signs `message` (RFC 8032 §5.1.6). Deterministic: no randomness involved. */
export function ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  need(privateKey, 64, "Ed25519 private key");
  return sodium.crypto_sign_detached(message, privateKey);
}

/**
 * Verifies a signature (RFC 8032 §5.1.7, with libsodium's strict checks: canonical S,
 * canonical and non-small-order R and A). Returns false on any failure, including wrong lengths.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/**
 * Whether `publicKey` is an Ed25519 public key that strict verification can accept at all:
 * canonical, a curve point, not of small order (SECURITY.md §2.1 rules 3–5). libsodium's check
 * also requires the prime-order subgroup, so it refuses a mixed-order key that §2.1 alone would
 * let through; a key made from a seed (every key this protocol derives) is always in it. Used
 * where the relay stores a key it will verify against later (the passphrase verifier, §18.6).
 */
export function ed25519PublicKeyValid(publicKey: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_BYTES) return false;
  return sodium.crypto_core_ed25519_is_valid_point(publicKey);
}

// ---------------------------------------------------------------------------------------------
// AEADs

/** XChaCha20-Poly1305 encryption (draft-irtf-cfrg-xchacha-03 §2). Returns ciphertext || tag. */
export function xchachaEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  need(key, XCHACHA_KEY_BYTES, "XChaCha20-Poly1305 key");
  need(nonce, XCHACHA_NONCE_BYTES, "XChaCha20-Poly1305 nonce");
  return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
}

/** XChaCha20-Poly1305 decryption. Throws CryptoVerificationError when the tag does not verify. */
export function xchachaDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  need(key, XCHACHA_KEY_BYTES, "XChaCha20-Poly1305 key");
  need(nonce, XCHACHA_NONCE_BYTES, "XChaCha20-Poly1305 nonce");
  if (ciphertext.length < AEAD_TAG_BYTES) throw new CryptoVerificationError();
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    throw new CryptoVerificationError();
  }
}

/** ChaCha20-Poly1305, IETF variant with a 96-bit nonce (RFC 8439 §2.8). Returns ciphertext || tag. */
export function chachaEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  need(key, 32, "ChaCha20-Poly1305 key");
  need(nonce, CHACHA_NONCE_BYTES, "ChaCha20-Poly1305 nonce");
  return sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
}

/** ChaCha20-Poly1305 (IETF) decryption. Throws CryptoVerificationError on a bad tag. */
export function chachaDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  need(key, 32, "ChaCha20-Poly1305 key");
  need(nonce, CHACHA_NONCE_BYTES, "ChaCha20-Poly1305 nonce");
  if (ciphertext.length < AEAD_TAG_BYTES) throw new CryptoVerificationError();
  try {
    return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    throw new CryptoVerificationError();
  }
}

// ---------------------------------------------------------------------------------------------
// Hashes, MACs, KDFs

/** SHA-256 (FIPS 180-4 §6.2). */
export function sha256(message: Uint8Array): Uint8Array {
  return sodium.crypto_hash_sha256(message);
}

/** SHA-512 (FIPS 180-4 §6.4). */
export function sha512(message: Uint8Array): Uint8Array {
  return sodium.crypto_hash_sha512(message);
}

/** HMAC-SHA256 (RFC 2104, FIPS 198-1) with a key of any length. */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  // The same function; libsodium's one-shot form (32-byte keys only, every chain key) is ~2.5× faster.
  if (key.length === 32) return sodium.crypto_auth_hmacsha256(message, key);
  const state = sodium.crypto_auth_hmacsha256_init(key);
  sodium.crypto_auth_hmacsha256_update(state, message);
  return sodium.crypto_auth_hmacsha256_final(state);
}

/** HKDF-Extract with SHA-256 (RFC 5869 §2.2). An empty salt means 32 zero bytes. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmacSha256(salt.length === 0 ? new Uint8Array(SHA256_BYTES) : salt, ikm);
}

/** HKDF-Expand with SHA-256 (RFC 5869 §2.3). Throws UsageError for length > 255·32. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX_BYTES) {
    throw new UsageError(`HKDF-SHA256 output length must be 0..${HKDF_SHA256_MAX_BYTES}`);
  }
  const out = new Uint8Array(length);
  // T(i) = HMAC(PRK, T(i−1) || info || u8(i)), the message in one array: hmacSha256's one-shot
  // form for a 32-byte PRK (every PRK of ours: Extract's output) is one call instead of five.
  const block = new Uint8Array(SHA256_BYTES + info.length + 1);
  block.set(info, SHA256_BYTES);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, off = 0; off < length; i++) {
    const start = i === 1 ? SHA256_BYTES : 0;
    block.set(t, 0);
    block[block.length - 1] = i;
    t = hmacSha256(prk, block.subarray(start));
    out.set(t.subarray(0, Math.min(t.length, length - off)), off);
    off += t.length;
  }
  block.fill(0);
  return out;
}

/** HKDF with SHA-256 (RFC 5869 §2): Expand(Extract(salt, ikm), info, length). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdfExpand(hkdfExtract(salt, ikm), info, length);
}

/** BLAKE2b (RFC 7693) with an output of 1..64 bytes and an optional key of up to 64 bytes. */
export function blake2b(message: Uint8Array, outLength = 64, key?: Uint8Array): Uint8Array {
  if (!Number.isInteger(outLength) || outLength < 1 || outLength > 64)
    throw new UsageError("BLAKE2b output must be 1..64 bytes");
  if (key && key.length > 64) throw new UsageError("BLAKE2b key must be at most 64 bytes");
  return sodium.crypto_generichash(outLength, message, key && key.length > 0 ? key : null);
}

/** Argon2id cost parameters (RFC 9106 §3.1): passes `t`, memory `memKiB`, one lane. */
export interface Argon2Params {
  readonly t: number;
  readonly memKiB: number;
}

/** The cost SocketMessenger uses for a profile passphrase (RFC 9106 §4, second recommended option). */
export const ARGON2_PROFILE: Argon2Params = { t: 3, memKiB: 64 * 1024 };

/**
 * Argon2id version 0x13 (RFC 9106) with parallelism 1, no secret and no associated data,
 * which is what libsodium's crypto_pwhash computes. Salt is 16 bytes.
 */
export function argon2id(password: Uint8Array, salt: Uint8Array, params: Argon2Params, outLength = 32): Uint8Array {
  need(salt, 16, "Argon2id salt");
  // libsodium's own limits, checked here so a bad parameter is a UsageError like everywhere else.
  if (!Number.isInteger(params.t) || params.t < 1) throw new UsageError("Argon2id needs at least one pass");
  if (!Number.isInteger(params.memKiB) || params.memKiB < 8)
    throw new UsageError("Argon2id needs at least 8 KiB of memory");
  if (!Number.isInteger(outLength) || outLength < 16) throw new UsageError("Argon2id output must be at least 16 bytes");
  return sodium.crypto_pwhash(
    outLength,
    password,
    salt,
    params.t,
    params.memKiB * 1024,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
}

// ---------------------------------------------------------------------------------------------
// Comparison and wiping

/** Constant-time equality of two secrets (time depends only on the length). */
export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  return sodium.memcmp(a, b);
}

/** Overwrites secrets with zeros. Best effort in a garbage-collected runtime: it removes the
 * copy we hold, not copies the engine may have made. */
export function wipe(...secrets: (Uint8Array | undefined)[]): void {
  for (const s of secrets) if (s && s.length > 0) sodium.memzero(s);
}
