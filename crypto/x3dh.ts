/**
 * X3DH key agreement (Signal, "The X3DH Key Agreement Protocol", rev. 1, §3), both sides,
 * with and without a one-time prekey. SECURITY.md §5 gives every byte.
 */
import { concat } from "./bytes.js";
import { type IdentityKeyPair, type IdentityPublic, identityKey, verifyIdentityPublic } from "./identity.js";
import { label } from "./labels.js";
import { type OneTimePrekey, type PrekeyBundle, type SignedPrekey, verifyBundle } from "./prekeys.js";
import { hkdfSha256, x25519, x25519KeyPair } from "./primitives.js";
import type { Rng } from "./rng.js";
import { UsageError } from "./errors.js";

/** X3DH §2.2: F is 32 0xFF bytes for X25519, prepended to the DH outputs. */
const F = new Uint8Array(32).fill(0xff);

/** What both sides agree on. */
export interface X3dhResult {
  /** SK, 32 bytes: the Double Ratchet's first root key. */
  readonly sharedSecret: Uint8Array;
  /** AD = identityKey(initiator) || identityKey(responder), 128 bytes (X3DH §3.3). */
  readonly associatedData: Uint8Array;
  /** The DH outputs, in order DH1..DH4, for vectors and audits. */
  readonly dhOutputs: readonly Uint8Array[];
}

/** The initiator's result plus what its first message must carry. */
export interface X3dhInitiation extends X3dhResult {
  readonly ephemeral: { readonly publicKey: Uint8Array; readonly privateKey: Uint8Array };
  readonly signedPrekeyId: number;
  readonly signedPrekeyPublic: Uint8Array;
  readonly oneTimePrekeyId?: number;
}

function deriveSharedSecret(dhs: Uint8Array[]): Uint8Array {
  return hkdfSha256(concat(F, ...dhs), new Uint8Array(32), label("x3dh"), 32);
}

/**
 * The initiator's side (X3DH §3.3): verifies the bundle, draws an ephemeral key (32 bytes of
 * `rng`) and computes SK. Throws CryptoVerificationError on a bad signature ("invalid prekey
 * bundle") or a low-order key ("invalid public key").
 */
export function x3dhInitiate(rng: Rng, self: IdentityKeyPair, bundle: PrekeyBundle): X3dhInitiation {
  verifyBundle(bundle);
  const ek = x25519KeyPair(rng);
  const spk = bundle.signedPrekey.publicKey;
  const dhs = [
    x25519(self.dh.privateKey, spk),
    x25519(ek.privateKey, bundle.identity.dhKey),
    x25519(ek.privateKey, spk),
  ];
  if (bundle.oneTimePrekey) dhs.push(x25519(ek.privateKey, bundle.oneTimePrekey.publicKey));
  return {
    sharedSecret: deriveSharedSecret(dhs),
    associatedData: concat(identityKey(self.publicKey), identityKey(bundle.identity)),
    dhOutputs: dhs,
    ephemeral: ek,
    signedPrekeyId: bundle.signedPrekey.id,
    signedPrekeyPublic: spk,
    ...(bundle.oneTimePrekey ? { oneTimePrekeyId: bundle.oneTimePrekey.id } : {}),
  };
}

/**
 * The responder's side (X3DH §3.4), given the prekeys the initiator named. Verifies the
 * initiator's identity (its dh-key signature). The caller deletes the one-time prekey only
 * after the first message decrypted, so a forged first message cannot burn it.
 */
export function x3dhRespond(
  self: IdentityKeyPair,
  signedPrekey: SignedPrekey,
  oneTimePrekey: OneTimePrekey | undefined,
  initiator: IdentityPublic,
  ephemeralPublic: Uint8Array,
): X3dhResult {
  verifyIdentityPublic(initiator);
  if (ephemeralPublic.length !== 32) throw new UsageError("ephemeral key must be 32 bytes");
  const dhs = [
    x25519(signedPrekey.keyPair.privateKey, initiator.dhKey),
    x25519(self.dh.privateKey, ephemeralPublic),
    x25519(signedPrekey.keyPair.privateKey, ephemeralPublic),
  ];
  if (oneTimePrekey) dhs.push(x25519(oneTimePrekey.keyPair.privateKey, ephemeralPublic));
  return {
    sharedSecret: deriveSharedSecret(dhs),
    associatedData: concat(identityKey(initiator), identityKey(self.publicKey)),
    dhOutputs: dhs,
  };
}
