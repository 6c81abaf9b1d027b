/**
 * Identity keys (SECURITY.md §4.1). An identity is an Ed25519 signing key plus a separate
 * X25519 key for key agreement, signed by the Ed25519 key under its own label. Two keys rather
 * than libsodium's Ed25519→X25519 conversion, so no key is ever used for two algorithms.
 */
import { Reader, concat, toHex } from "./bytes.js";
import { CodecError, CryptoVerificationError } from "./errors.js";
import {
  type Ed25519KeyPair,
  type X25519KeyPair,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  x25519Base,
} from "./primitives.js";
import type { Rng } from "./rng.js";
import { identityDhKeyMessage } from "./signed-messages.js";

/** Length of an encoded IdentityPublic: signing key 32 || dh key 32 || signature 64. */
export const IDENTITY_PUBLIC_BYTES = 128;
/** Length of the identity key that AD and safety numbers use: signing key 32 || dh key 32. */
export const IDENTITY_KEY_BYTES = 64;

/** The public half of an identity, as published to the relay and sent in first messages. */
export interface IdentityPublic {
  readonly signingKey: Uint8Array;
  readonly dhKey: Uint8Array;
  /** Ed25519(signingKey, "SMSG-v1 identity dh key" || dhKey). */
  readonly dhKeySignature: Uint8Array;
}

/** A full identity: both private keys and the public part. */
export interface IdentityKeyPair {
  readonly signing: Ed25519KeyPair;
  readonly dh: X25519KeyPair;
  readonly publicKey: IdentityPublic;
}

/** Builds an identity from its two 32-byte secrets (Ed25519 seed, X25519 private key). */
export function identityFromSecrets(signingSeed: Uint8Array, dhPrivate: Uint8Array): IdentityKeyPair {
  const signing = ed25519FromSeed(signingSeed);
  const dh = { privateKey: dhPrivate.slice(), publicKey: x25519Base(dhPrivate) };
  const dhKeySignature = ed25519Sign(signing.privateKey, identityDhKeyMessage(dh.publicKey));
  return { signing, dh, publicKey: { signingKey: signing.publicKey, dhKey: dh.publicKey, dhKeySignature } };
}

/** A new identity: 32 bytes of `rng` for the Ed25519 seed, then 32 for the X25519 key. */
export function generateIdentity(rng: Rng): IdentityKeyPair {
  const seed = rng(32);
  const dhPrivate = rng(32);
  return identityFromSecrets(seed, dhPrivate);
}

/** The 64-byte identity key: signingKey || dhKey (SECURITY.md §4.1). */
export function identityKey(pub: IdentityPublic): Uint8Array {
  return concat(pub.signingKey, pub.dhKey);
}

/** Encodes an IdentityPublic as 128 bytes. */
export function encodeIdentityPublic(pub: IdentityPublic): Uint8Array {
  return concat(pub.signingKey, pub.dhKey, pub.dhKeySignature);
}

/**
 * Encodings (hex) whose signature verified in this process. The same few identities are decoded
 * for every message received (the pinned one, the session's), and Ed25519 verification is
 * deterministic: the same 128 bytes verify the same way every time, so each is verified once.
 * Bounded: when full it is emptied and encodings are verified again as they come.
 */
const verifiedEncodings = new Set<string>();
const MAX_VERIFIED_ENCODINGS = 1024;

/**
 * Decodes and verifies an IdentityPublic. Throws CodecError on a wrong length and
 * CryptoVerificationError("invalid identity key") when the dh key's signature does not verify.
 */
export function decodeIdentityPublic(bytes: Uint8Array): IdentityPublic {
  if (bytes.length !== IDENTITY_PUBLIC_BYTES)
    throw new CodecError(`identity public key must be ${IDENTITY_PUBLIC_BYTES} bytes`);
  const r = new Reader(bytes, "identity public key");
  const pub = { signingKey: r.bytes(32), dhKey: r.bytes(32), dhKeySignature: r.bytes(64) };
  r.end();
  const hex = toHex(bytes);
  if (!verifiedEncodings.has(hex)) {
    verifyIdentityPublic(pub);
    if (verifiedEncodings.size >= MAX_VERIFIED_ENCODINGS) verifiedEncodings.clear();
    verifiedEncodings.add(hex);
  }
  return pub;
}

/** Throws CryptoVerificationError("invalid identity key") unless the dh key is signed by the signing key. */
export function verifyIdentityPublic(pub: IdentityPublic): void {
  const ok = ed25519Verify(pub.signingKey, identityDhKeyMessage(pub.dhKey), pub.dhKeySignature);
  if (!ok) throw new CryptoVerificationError("invalid identity key");
}
