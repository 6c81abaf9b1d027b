/**
 * Serializes a 1:1 session to bytes and back (SECURITY.md §6.6), for the client's store.
 * Layout: version 0x01 || remote IdentityPublic (128) || baseKey (32) || u8 pending ||
 * [ephemeral 32 || u32 signed prekey id || u8 has-opk || [u32 opk id]] || ratchet state (rest).
 */
import { Reader, bytesEqual, concat, u32be } from "./bytes.js";
import { CodecError, UsageError } from "./errors.js";
import { IDENTITY_PUBLIC_BYTES, decodeIdentityPublic, encodeIdentityPublic } from "./identity.js";
import { decodeRatchetState, encodeRatchetState } from "./ratchet-codec.js";
import type { PreKeyInfo, SessionState } from "./session.js";

const SESSION_VERSION = 0x01;

/**
 * Encodes a session; the result holds private keys and must be encrypted at rest. Throws
 * UsageError for a pending EK that is not the base key, or a ratchet state the ratchet
 * encoder refuses (SECURITY.md §6.6).
 */
export function encodeSessionState(s: SessionState): Uint8Array {
  const p = s.pendingPreKey;
  if (p && !bytesEqual(p.ephemeral, s.baseKey))
    throw new UsageError("session state: pending ephemeral key is not the base key");
  const pending = p
    ? concat(
        new Uint8Array([1]),
        p.ephemeral,
        u32be(p.signedPrekeyId),
        p.oneTimePrekeyId !== undefined ? concat(new Uint8Array([1]), u32be(p.oneTimePrekeyId)) : new Uint8Array([0]),
      )
    : new Uint8Array([0]);
  return concat(
    new Uint8Array([SESSION_VERSION]),
    encodeIdentityPublic(s.remoteIdentity),
    s.baseKey,
    pending,
    encodeRatchetState(s.ratchet),
  );
}

/**
 * Decodes what encodeSessionState wrote. Throws CodecError for an unknown version, a pending or
 * has-opk flag other than 0 or 1, a pending ephemeral key that is not the base key, a truncated
 * input, trailing bytes or a malformed ratchet state; CryptoVerificationError("invalid identity
 * key") when the stored peer identity's signature does not verify (a corrupted store).
 */
export function decodeSessionState(bytes: Uint8Array): SessionState {
  const r = new Reader(bytes, "session state");
  if (r.u8() !== SESSION_VERSION) throw new CodecError("session state: unknown version");
  const remoteIdentity = decodeIdentityPublic(r.bytes(IDENTITY_PUBLIC_BYTES));
  const baseKey = r.bytes(32);
  const flag = r.u8();
  if (flag > 1) throw new CodecError("session state: bad pending flag");
  let pendingPreKey: PreKeyInfo | null = null;
  if (flag === 1) {
    const ephemeral = r.bytes(32);
    const signedPrekeyId = r.u32();
    const hasOpk = r.u8();
    if (hasOpk > 1) throw new CodecError("session state: bad one-time prekey flag");
    pendingPreKey = { ephemeral, signedPrekeyId, ...(hasOpk ? { oneTimePrekeyId: r.u32() } : {}) };
    // The initiator's session is named by the EK its PREKEY envelopes carry (§6.5).
    if (!bytesEqual(ephemeral, baseKey))
      throw new CodecError("session state: pending ephemeral key is not the base key");
  }
  return { remoteIdentity, baseKey, pendingPreKey, ratchet: decodeRatchetState(r.rest()) };
}
