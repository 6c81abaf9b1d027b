/**
 * A 1:1 session: X3DH to start it, the Double Ratchet to run it, padding inside the
 * encryption, and the two envelope types that go over the relay (SECURITY.md §6.5).
 *
 * The initiator sends PREKEY envelopes (which carry what the responder needs to run X3DH)
 * until it has received a reply; after that, plain MESSAGE envelopes.
 */
import { Reader, bytesEqual, concat, u32be } from "./bytes.js";
import { CodecError, CryptoVerificationError } from "./errors.js";
import {
  IDENTITY_PUBLIC_BYTES,
  type IdentityKeyPair,
  type IdentityPublic,
  decodeIdentityPublic,
  encodeIdentityPublic,
  identityKey,
} from "./identity.js";
import { pad, unpad } from "./padding.js";
import type { OneTimePrekey, PrekeyBundle, SignedPrekey } from "./prekeys.js";
import {
  type RatchetState,
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetInitInitiator,
  ratchetInitResponder,
} from "./ratchet.js";
import { HEADER_BYTES } from "./ratchet-header.js";
import type { Rng } from "./rng.js";
import { x3dhInitiate, x3dhRespond } from "./x3dh.js";

export const ENVELOPE_MESSAGE = 0x01;
export const ENVELOPE_PREKEY = 0x02;

/** What a PREKEY envelope carries besides the ratchet message. */
export interface PreKeyInfo {
  readonly ephemeral: Uint8Array;
  readonly signedPrekeyId: number;
  readonly oneTimePrekeyId?: number;
}

/** One side of a 1:1 session. */
export interface SessionState {
  readonly ratchet: RatchetState;
  readonly remoteIdentity: IdentityPublic;
  /** The X3DH ephemeral key that created the session; names it on both sides. */
  readonly baseKey: Uint8Array;
  /** Initiator only, until the first reply: what every envelope must carry. */
  readonly pendingPreKey: PreKeyInfo | null;
}

/** A parsed envelope. */
export type Envelope =
  | { readonly type: "message"; readonly message: Uint8Array }
  | ({ readonly type: "prekey"; readonly identity: IdentityPublic; readonly message: Uint8Array } & PreKeyInfo);

/**
 * Starts a session with the owner of `bundle` (X3DH §3.3, then RatchetInitAlice). Draws
 * 64 bytes of `rng`: the X3DH ephemeral key, then the first ratchet key. Throws
 * CryptoVerificationError for a bundle whose signatures do not verify.
 */
export function initiateSession(rng: Rng, self: IdentityKeyPair, bundle: PrekeyBundle) {
  const x3dh = x3dhInitiate(rng, self, bundle);
  const init = ratchetInitInitiator(rng, x3dh.sharedSecret, x3dh.associatedData, x3dh.signedPrekeyPublic);
  const session: SessionState = {
    ratchet: init.state,
    remoteIdentity: bundle.identity,
    baseKey: x3dh.ephemeral.publicKey,
    pendingPreKey: {
      ephemeral: x3dh.ephemeral.publicKey,
      signedPrekeyId: x3dh.signedPrekeyId,
      ...(x3dh.oneTimePrekeyId !== undefined ? { oneTimePrekeyId: x3dh.oneTimePrekeyId } : {}),
    },
  };
  return { session, trace: { x3dh, ratchetInit: init.trace } };
}

/** Encodes an envelope. A PREKEY envelope carries the sender's identity: 0x02 || identity (128) || ephemeral (32) || u32 spk id || u8 has-opk || [u32 opk id] || message. */
function encodeEnvelope(message: Uint8Array, self: IdentityPublic, pending: PreKeyInfo | null): Uint8Array {
  if (!pending) return concat(new Uint8Array([ENVELOPE_MESSAGE]), message);
  const opk = pending.oneTimePrekeyId !== undefined ? concat(new Uint8Array([1]), u32be(pending.oneTimePrekeyId)) : new Uint8Array([0]);
  return concat(
    new Uint8Array([ENVELOPE_PREKEY]),
    encodeIdentityPublic(self),
    pending.ephemeral,
    u32be(pending.signedPrekeyId),
    opk,
    message,
  );
}

/** Parses an envelope. Throws CodecError when malformed, CryptoVerificationError when the carried identity's signature is bad. */
export function parseEnvelope(bytes: Uint8Array): Envelope {
  const r = new Reader(bytes, "envelope");
  const type = r.u8();
  if (type === ENVELOPE_MESSAGE) {
    if (r.remaining() < HEADER_BYTES + 16) throw new CodecError("envelope: truncated");
    return { type: "message", message: r.rest() };
  }
  if (type !== ENVELOPE_PREKEY) throw new CodecError("envelope: unknown type");
  const identity = decodeIdentityPublic(r.bytes(IDENTITY_PUBLIC_BYTES));
  const ephemeral = r.bytes(32);
  const signedPrekeyId = r.u32();
  const hasOpk = r.u8();
  if (hasOpk > 1) throw new CodecError("envelope: bad one-time prekey flag");
  const oneTimePrekeyId = hasOpk ? r.u32() : undefined;
  if (r.remaining() < HEADER_BYTES + 16) throw new CodecError("envelope: truncated");
  return {
    type: "prekey",
    identity,
    ephemeral,
    signedPrekeyId,
    ...(oneTimePrekeyId !== undefined ? { oneTimePrekeyId } : {}),
    message: r.rest(),
  };
}

/** Pads and encrypts `plaintext` (§8 then §6.4) and wraps it in an envelope. Needs no randomness. */
export function sessionEncrypt(session: SessionState, self: IdentityPublic, plaintext: Uint8Array) {
  const enc = ratchetEncrypt(session.ratchet, pad(plaintext));
  return {
    session: { ...session, ratchet: enc.state },
    envelope: encodeEnvelope(enc.message, self, session.pendingPreKey),
    trace: enc.trace,
  };
}

/** The private prekeys a responder looks up by the ids a PREKEY envelope names. */
export interface PrekeyStore {
  signedPrekey(id: number): SignedPrekey | undefined;
  oneTimePrekey(id: number): OneTimePrekey | undefined;
}

/**
 * The responder's side of a first message (X3DH §3.4, RatchetInitBob, then RatchetDecrypt).
 * Returns the new session, the plaintext and the id of the one-time prekey to delete now.
 * Throws CryptoVerificationError("could not decrypt") when a named prekey is unknown (already
 * used, or never ours) or the message does not authenticate; nothing is consumed then.
 */
export function acceptSession(rng: Rng, self: IdentityKeyPair, prekeys: PrekeyStore, envelope: Envelope) {
  if (envelope.type !== "prekey") throw new CodecError("envelope: not a first message");
  const spk = prekeys.signedPrekey(envelope.signedPrekeyId);
  const opk = envelope.oneTimePrekeyId !== undefined ? prekeys.oneTimePrekey(envelope.oneTimePrekeyId) : undefined;
  if (!spk || (envelope.oneTimePrekeyId !== undefined && !opk)) throw new CryptoVerificationError();
  const x3dh = x3dhRespond(self, spk, opk, envelope.identity, envelope.ephemeral);
  const ratchet = ratchetInitResponder(x3dh.sharedSecret, x3dh.associatedData, spk.keyPair);
  const dec = ratchetDecrypt(rng, ratchet, envelope.message);
  const plaintext = unpadOrReject(dec.plaintext);
  const session: SessionState = {
    ratchet: dec.state,
    remoteIdentity: envelope.identity,
    baseKey: envelope.ephemeral.slice(),
    pendingPreKey: null,
  };
  return { session, plaintext, usedOneTimePrekeyId: envelope.oneTimePrekeyId, trace: { x3dh, decrypt: dec.trace } };
}

/**
 * Decrypts an envelope on an existing session. A PREKEY envelope is accepted only when it
 * names this session (same base key and identity): the initiator repeats it until it hears
 * back. Throws CryptoVerificationError otherwise, and on anything that does not authenticate;
 * the session passed in is never modified.
 */
export function sessionDecrypt(rng: Rng, session: SessionState, envelope: Envelope) {
  if (envelope.type === "prekey") {
    const same =
      bytesEqual(envelope.ephemeral, session.baseKey) &&
      bytesEqual(identityKey(envelope.identity), identityKey(session.remoteIdentity));
    if (!same) throw new CryptoVerificationError();
  }
  const dec = ratchetDecrypt(rng, session.ratchet, envelope.message);
  const plaintext = unpadOrReject(dec.plaintext);
  return {
    session: { ...session, ratchet: dec.state, pendingPreKey: null },
    plaintext,
    consumed: dec.consumed,
    trace: dec.trace,
  };
}

/** Authenticated but badly padded: a broken peer. Reported like any failure, state untouched. */
function unpadOrReject(padded: Uint8Array): Uint8Array {
  try {
    return unpad(padded);
  } catch {
    throw new CryptoVerificationError();
  }
}
