/**
 * Signed prekeys and one-time prekeys (SECURITY.md §4.2, Signal X3DH §3.3). The relay stores
 * the public halves and hands out a bundle; the owner keeps the private halves.
 */
import { CryptoVerificationError, UsageError } from "./errors.js";
import { type IdentityKeyPair, type IdentityPublic, verifyIdentityPublic } from "./identity.js";
import { type X25519KeyPair, ed25519Sign, ed25519Verify, x25519KeyPair } from "./primitives.js";
import type { Rng } from "./rng.js";
import { signedPrekeyMessage } from "./signed-messages.js";

/** A signed prekey with its private half. */
export interface SignedPrekey {
  readonly id: number;
  readonly keyPair: X25519KeyPair;
  /** Ed25519(identity signing key, "SMSG-v1 signed prekey" || u32be(id) || publicKey). */
  readonly signature: Uint8Array;
}

/** A one-time prekey with its private half. */
export interface OneTimePrekey {
  readonly id: number;
  readonly keyPair: X25519KeyPair;
}

/** What the relay hands to someone who wants to start a session with the owner. */
export interface PrekeyBundle {
  readonly identity: IdentityPublic;
  readonly signedPrekey: { readonly id: number; readonly publicKey: Uint8Array; readonly signature: Uint8Array };
  /** Absent when the owner's stock of one-time prekeys ran out (X3DH still works, §5). */
  readonly oneTimePrekey?: { readonly id: number; readonly publicKey: Uint8Array };
}

/** A new signed prekey: 32 bytes of `rng` for the X25519 key, signed by the identity. Throws UsageError for an id that is not a u32. */
export function generateSignedPrekey(rng: Rng, identity: IdentityKeyPair, id: number): SignedPrekey {
  const keyPair = x25519KeyPair(rng);
  const signature = ed25519Sign(identity.signing.privateKey, signedPrekeyMessage(id, keyPair.publicKey));
  return { id, keyPair, signature };
}

/**
 * `count` one-time prekeys with ids startId, startId+1, …, startId+count−1; 32 bytes of `rng`
 * each. Ids are u32 and never wrap: throws UsageError unless startId is a u32, count a
 * non-negative integer and startId + count − 1 ≤ 2^32 − 1 (the caller picks a new range).
 */
export function generateOneTimePrekeys(rng: Rng, startId: number, count: number): OneTimePrekey[] {
  if (!Number.isInteger(startId) || startId < 0 || startId > 0xffffffff)
    throw new UsageError("one-time prekey start id must be a u32");
  if (!Number.isInteger(count) || count < 0)
    throw new UsageError("one-time prekey count must be a non-negative integer");
  if (startId + count - 1 > 0xffffffff) throw new UsageError("one-time prekey ids would pass 2^32 − 1");
  const out: OneTimePrekey[] = [];
  for (let i = 0; i < count; i++) out.push({ id: startId + i, keyPair: x25519KeyPair(rng) });
  return out;
}

/**
 * Checks a bundle before anyone uses it: the identity's dh-key signature and the signed
 * prekey's signature. Throws CryptoVerificationError("invalid prekey bundle") otherwise.
 */
export function verifyBundle(bundle: PrekeyBundle): void {
  try {
    verifyIdentityPublic(bundle.identity);
  } catch {
    throw new CryptoVerificationError("invalid prekey bundle");
  }
  if (!signedPrekeyValid(bundle.identity.signingKey, bundle.signedPrekey)) {
    throw new CryptoVerificationError("invalid prekey bundle");
  }
}

/** Whether `spk.signature` is the identity signing key's signature of the signed prekey (§4.2; strict, §2). */
export function signedPrekeyValid(
  signingKey: Uint8Array,
  spk: { readonly id: number; readonly publicKey: Uint8Array; readonly signature: Uint8Array },
): boolean {
  return ed25519Verify(signingKey, signedPrekeyMessage(spk.id, spk.publicKey), spk.signature);
}

/** The public bundle of a signed prekey and optional one-time prekey. */
export function bundleOf(identity: IdentityKeyPair, spk: SignedPrekey, opk?: OneTimePrekey): PrekeyBundle {
  return {
    identity: identity.publicKey,
    signedPrekey: { id: spk.id, publicKey: spk.keyPair.publicKey, signature: spk.signature },
    ...(opk ? { oneTimePrekey: { id: opk.id, publicKey: opk.keyPair.publicKey } } : {}),
  };
}
