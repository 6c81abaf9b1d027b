/**
 * A 1:1 session: X3DH to start it, the Double Ratchet to run it, padding inside the
 * encryption, and the two envelope types that go over the relay (SECURITY.md §6.5).
 *
 * The initiator sends PREKEY envelopes (which carry what the responder needs to run X3DH)
 * until it has received a reply; after that, plain MESSAGE envelopes.
 *
 * Failures (SECURITY.md §2, §6.7): everything about a received message that fails is
 * CryptoVerificationError("could not decrypt"), whichever check it was, except two kinds that
 * say nothing secret: `parseEnvelope` reports a structurally malformed envelope as a CodecError
 * (the client shows it as "could not decrypt" too), and the ratchet's skip bound is a LimitError
 * that is not authenticated. No function here returns X3DH secrets or traces.
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
import { wipe } from "./primitives.js";
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

/** X3DH's secrets (SK, the DH outputs, the ephemeral private key) once the ratchet has what it needs. */
function wipeX3dh(x3dh: {
  sharedSecret: Uint8Array;
  dhOutputs: readonly Uint8Array[];
  ephemeral?: { privateKey: Uint8Array };
}): void {
  wipe(x3dh.sharedSecret, ...x3dh.dhOutputs, x3dh.ephemeral?.privateKey);
}

/** Wipes every byte array in a ratchet trace, which this layer does not return (traces are copies, §6.7). */
function wipeTrace(value: unknown): void {
  if (value instanceof Uint8Array) wipe(value);
  else if (Array.isArray(value)) for (const v of value) wipeTrace(v);
  else if (value !== null && typeof value === "object") for (const v of Object.values(value)) wipeTrace(v);
}

/**
 * Starts a session with the owner of `bundle` (X3DH §3.3, then RatchetInitAlice; SECURITY.md
 * §5, §6.1). Draws 64 bytes of `rng`: the X3DH ephemeral key, then the first ratchet key.
 * Returns only the session: the X3DH secrets are wiped, not returned (the vectors use
 * `x3dhInitiate` and `ratchetInitInitiator` directly). Throws CryptoVerificationError("invalid
 * prekey bundle") for a bundle whose signatures do not verify, CryptoVerificationError("invalid
 * public key") for a low-order key in it.
 */
export function initiateSession(rng: Rng, self: IdentityKeyPair, bundle: PrekeyBundle): { session: SessionState } {
  const x3dh = x3dhInitiate(rng, self, bundle);
  try {
    const init = ratchetInitInitiator(rng, x3dh.sharedSecret, x3dh.associatedData, x3dh.signedPrekeyPublic);
    wipeTrace(init.trace);
    const session: SessionState = {
      ratchet: init.state,
      remoteIdentity: bundle.identity,
      baseKey: x3dh.ephemeral.publicKey.slice(),
      pendingPreKey: {
        ephemeral: x3dh.ephemeral.publicKey.slice(),
        signedPrekeyId: x3dh.signedPrekeyId,
        ...(x3dh.oneTimePrekeyId !== undefined ? { oneTimePrekeyId: x3dh.oneTimePrekeyId } : {}),
      },
    };
    return { session };
  } finally {
    wipeX3dh(x3dh);
  }
}

/**
 * Encodes an envelope. A PREKEY envelope carries the sender's identity:
 * 0x02 || identity (128) || ephemeral (32) || u32 spk id || u8 has-opk || [u32 opk id] || message.
 */
function encodeEnvelope(message: Uint8Array, self: IdentityPublic, pending: PreKeyInfo | null): Uint8Array {
  if (!pending) return concat(new Uint8Array([ENVELOPE_MESSAGE]), message);
  const opk =
    pending.oneTimePrekeyId !== undefined
      ? concat(new Uint8Array([1]), u32be(pending.oneTimePrekeyId))
      : new Uint8Array([0]);
  return concat(
    new Uint8Array([ENVELOPE_PREKEY]),
    encodeIdentityPublic(self),
    pending.ephemeral,
    u32be(pending.signedPrekeyId),
    opk,
    message,
  );
}

/**
 * Parses an envelope (SECURITY.md §6.5). Throws CodecError when it is structurally malformed
 * (empty, unknown type, truncated, a has-opk byte other than 0 or 1, a message shorter than a
 * header and a tag) — it says nothing secret, and the client reports it as "could not decrypt"
 * like any other failure — and CryptoVerificationError("could not decrypt") when the carried
 * identity's signature does not verify.
 */
export function parseEnvelope(bytes: Uint8Array): Envelope {
  const r = new Reader(bytes, "envelope");
  const type = r.u8();
  if (type === ENVELOPE_MESSAGE) {
    if (r.remaining() < HEADER_BYTES + 16) throw new CodecError("envelope: truncated");
    return { type: "message", message: r.rest() };
  }
  if (type !== ENVELOPE_PREKEY) throw new CodecError("envelope: unknown type");
  const identityBytes = r.bytes(IDENTITY_PUBLIC_BYTES);
  let identity: IdentityPublic;
  try {
    identity = decodeIdentityPublic(identityBytes);
  } catch (e) {
    if (e instanceof CryptoVerificationError) throw new CryptoVerificationError();
    throw e;
  }
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

/**
 * Pads and encrypts `plaintext` (§8 then §6.4) and wraps it in an envelope. Needs no randomness.
 * The caller stores the returned session before the envelope leaves and never encrypts from
 * `session` again: its ratchet state refuses a second encryption (UsageError, §6.4). Throws
 * UsageError for that, for a responder session that has not received yet and for a plaintext
 * over 16 MiB; LimitError when the sending chain is exhausted.
 */
export function sessionEncrypt(
  session: SessionState,
  self: IdentityPublic,
  plaintext: Uint8Array,
): { session: SessionState; envelope: Uint8Array } {
  const enc = ratchetEncrypt(session.ratchet, pad(plaintext));
  wipeTrace(enc.trace);
  return {
    session: { ...session, ratchet: enc.state },
    envelope: encodeEnvelope(enc.message, self, session.pendingPreKey),
  };
}

/**
 * The responder's private prekeys, looked up by the ids a PREKEY envelope names, and its
 * memory of the first messages it has accepted (§6.5). acceptSession only reads it; the
 * caller changes it after committing an accepted session.
 */
export interface PrekeyStore {
  signedPrekey(id: number): SignedPrekey | undefined;
  oneTimePrekey(id: number): OneTimePrekey | undefined;
  /**
   * Whether a first message with this signed prekey id and this base key (its EK) was
   * accepted before (§6.5). The client remembers every (signed prekey id, base key) pair that
   * acceptSession returned, committed with the session, for as long as it keeps that signed
   * prekey: a first message without a one-time prekey could otherwise be replayed to start the
   * same session again once the original is gone. acceptSession refuses such a replay.
   */
  acceptedBefore(signedPrekeyId: number, baseKey: Uint8Array): boolean;
}

/** What acceptSession returns: the session and what the caller must record with it. */
export interface AcceptedSession {
  readonly session: SessionState;
  readonly plaintext: Uint8Array;
  /** A copy of the message key used; the caller wipes it once it has committed (§6.7). */
  readonly consumed: Uint8Array;
  /** The one-time prekey to delete, in the same transaction as the session (undefined if none). */
  readonly usedOneTimePrekeyId: number | undefined;
  /** The (signed prekey id, base key) pair to remember in that transaction (PrekeyStore.acceptedBefore). */
  readonly signedPrekeyId: number;
  readonly baseKey: Uint8Array;
}

/**
 * The responder's side of a first message (X3DH §3.4, RatchetInitBob, then RatchetDecrypt;
 * SECURITY.md §6.5). The caller calls it for a PREKEY envelope whose base key names no session
 * it holds. Only reads `prekeys`. On success, the caller commits in one transaction: the
 * session, the plaintext, the deletion of `usedOneTimePrekeyId`, and the pair
 * (`signedPrekeyId`, `baseKey`) for `acceptedBefore`.
 *
 * Throws CryptoVerificationError("could not decrypt") for a MESSAGE envelope, a first message
 * accepted before (per `prekeys.acceptedBefore`), a named prekey that is unknown (already used,
 * or never ours), and anything that does not authenticate (identity, low-order EK, header, tag,
 * padding); LimitError (not authenticated, §6.7) from the ratchet's skip bound. Nothing is
 * consumed on a throw.
 */
export function acceptSession(
  rng: Rng,
  self: IdentityKeyPair,
  prekeys: PrekeyStore,
  envelope: Envelope,
): AcceptedSession {
  if (envelope.type !== "prekey") throw new CryptoVerificationError();
  if (prekeys.acceptedBefore(envelope.signedPrekeyId, envelope.ephemeral)) throw new CryptoVerificationError();
  const spk = prekeys.signedPrekey(envelope.signedPrekeyId);
  const opk = envelope.oneTimePrekeyId !== undefined ? prekeys.oneTimePrekey(envelope.oneTimePrekeyId) : undefined;
  if (!spk || (envelope.oneTimePrekeyId !== undefined && !opk)) throw new CryptoVerificationError();
  try {
    const x3dh = x3dhRespond(self, spk, opk, envelope.identity, envelope.ephemeral);
    let ratchet: RatchetState;
    try {
      ratchet = ratchetInitResponder(x3dh.sharedSecret, x3dh.associatedData, spk.keyPair);
    } finally {
      wipeX3dh(x3dh);
    }
    const dec = ratchetDecrypt(rng, ratchet, envelope.message);
    wipeTrace(dec.trace);
    const plaintext = unpadOrReject(dec.plaintext);
    const session: SessionState = {
      ratchet: dec.state,
      remoteIdentity: envelope.identity,
      baseKey: envelope.ephemeral.slice(),
      pendingPreKey: null,
    };
    return {
      session,
      plaintext,
      consumed: dec.consumed,
      usedOneTimePrekeyId: envelope.oneTimePrekeyId,
      signedPrekeyId: envelope.signedPrekeyId,
      baseKey: envelope.ephemeral.slice(),
    };
  } catch (e) {
    throw asDecryptFailure(e);
  }
}

/**
 * Decrypts an envelope on an existing session (SECURITY.md §6.5, §6.7). A PREKEY envelope is
 * accepted only when it names this session (same base key and identity): the initiator repeats
 * it until it hears back. Throws CryptoVerificationError("could not decrypt") otherwise, and for
 * anything that does not authenticate; LimitError (not authenticated) from the skip bound. The
 * session passed in is never modified; `consumed` is a copy the caller may wipe (§6.7).
 */
export function sessionDecrypt(
  rng: Rng,
  session: SessionState,
  envelope: Envelope,
): { session: SessionState; plaintext: Uint8Array; consumed: Uint8Array } {
  if (envelope.type === "prekey") {
    const same =
      bytesEqual(envelope.ephemeral, session.baseKey) &&
      bytesEqual(identityKey(envelope.identity), identityKey(session.remoteIdentity));
    if (!same) throw new CryptoVerificationError();
  }
  try {
    const dec = ratchetDecrypt(rng, session.ratchet, envelope.message);
    wipeTrace(dec.trace);
    const plaintext = unpadOrReject(dec.plaintext);
    return {
      session: { ...session, ratchet: dec.state, pendingPreKey: null },
      plaintext,
      consumed: dec.consumed,
    };
  } catch (e) {
    throw asDecryptFailure(e);
  }
}

/** §2: a codec or verification failure on received data is only ever "could not decrypt". */
function asDecryptFailure(e: unknown): unknown {
  return e instanceof CodecError || e instanceof CryptoVerificationError ? new CryptoVerificationError() : e;
}

/** Authenticated but badly padded: a broken peer. Reported like any failure, state untouched. */
function unpadOrReject(padded: Uint8Array): Uint8Array {
  try {
    return unpad(padded);
  } catch {
    throw new CryptoVerificationError();
  }
}
