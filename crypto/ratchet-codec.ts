/**
 * Serializes a Double Ratchet state to bytes and back (SECURITY.md §6.6), so the client can
 * store it (encrypted at rest) in the same transaction as the message it produced or consumed.
 */
import { Reader, concat, lengthPrefixed, u32be } from "./bytes.js";
import { CodecError, UsageError } from "./errors.js";
import { x25519Base } from "./primitives.js";
import { MAX_SKIPPED_KEYS, type RatchetState, type SkippedKey } from "./ratchet.js";

const STATE_VERSION = 0x01;
/** Longest associated data a stored state may hold (X3DH's is 128 bytes). */
export const MAX_STATE_AD_BYTES = 1024;
const HAS_REMOTE = 1;
const HAS_SEND = 2;
const HAS_RECV = 4;

/**
 * Layout: version 0x01 || u32 len(ad) || ad || rootKey 32 || dhSelf private 32 || flags u8 ||
 * [dhRemote 32] [sendChain 32] [recvChain 32] || sendN u32 || recvN u32 || prevSendN u32 ||
 * step u32 || u32 count || count × (dh 32 || n u32 || step u32 || messageKey 32), the skipped
 * keys in the state's order (oldest first), each messageKey the raw mk of §6.2.
 * The public ratchet key is recomputed from the private one on decode.
 * Throws UsageError for a state the decoder would refuse (AD over 1024 bytes, more than
 * MAX_SKIPPED_KEYS skipped keys, a counter that is not a u32).
 */
export function encodeRatchetState(s: RatchetState): Uint8Array {
  if (s.ad.length > MAX_STATE_AD_BYTES)
    throw new UsageError(`ratchet state: associated data longer than ${MAX_STATE_AD_BYTES} bytes`);
  if (s.skipped.length > MAX_SKIPPED_KEYS) throw new UsageError("ratchet state: too many skipped keys");
  const flags = (s.dhRemote ? HAS_REMOTE : 0) | (s.sendChain ? HAS_SEND : 0) | (s.recvChain ? HAS_RECV : 0);
  const parts: Uint8Array[] = [
    new Uint8Array([STATE_VERSION]),
    lengthPrefixed(s.ad),
    s.rootKey,
    s.dhSelf.privateKey,
    new Uint8Array([flags]),
  ];
  if (s.dhRemote) parts.push(s.dhRemote);
  if (s.sendChain) parts.push(s.sendChain);
  if (s.recvChain) parts.push(s.recvChain);
  parts.push(u32be(s.sendN), u32be(s.recvN), u32be(s.prevSendN), u32be(s.step), u32be(s.skipped.length));
  for (const k of s.skipped) parts.push(k.dh, u32be(k.n), u32be(k.step), k.messageKey);
  return concat(...parts);
}

/**
 * Decodes what encodeRatchetState wrote. Throws CodecError on any malformed input: an unknown
 * version or flag bit, AD over 1024 bytes, more than MAX_SKIPPED_KEYS skipped keys, a truncated
 * input, trailing bytes.
 */
export function decodeRatchetState(bytes: Uint8Array): RatchetState {
  const r = new Reader(bytes, "ratchet state");
  if (r.u8() !== STATE_VERSION) throw new CodecError("ratchet state: unknown version");
  const ad = r.varBytes(MAX_STATE_AD_BYTES);
  const rootKey = r.bytes(32);
  const dhPrivate = r.bytes(32);
  const flags = r.u8();
  if (flags & ~(HAS_REMOTE | HAS_SEND | HAS_RECV)) throw new CodecError("ratchet state: unknown flags");
  const dhRemote = flags & HAS_REMOTE ? r.bytes(32) : null;
  const sendChain = flags & HAS_SEND ? r.bytes(32) : null;
  const recvChain = flags & HAS_RECV ? r.bytes(32) : null;
  const sendN = r.u32();
  const recvN = r.u32();
  const prevSendN = r.u32();
  const step = r.u32();
  const count = r.u32();
  if (count > MAX_SKIPPED_KEYS) throw new CodecError("ratchet state: too many skipped keys");
  const skipped: SkippedKey[] = [];
  for (let i = 0; i < count; i++) {
    const dh = r.bytes(32);
    const n = r.u32();
    const kStep = r.u32();
    skipped.push({ dh, n, step: kStep, messageKey: r.bytes(32) });
  }
  r.end();
  return {
    ad,
    rootKey,
    dhSelf: { privateKey: dhPrivate, publicKey: x25519Base(dhPrivate) },
    dhRemote,
    sendChain,
    recvChain,
    sendN,
    recvN,
    prevSendN,
    step,
    skipped,
  };
}
