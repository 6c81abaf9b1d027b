/**
 * Direct encoders for the relay's two hot frames, `msg` (a stored message, pushed or sent
 * during sync/history) and `sent` (the ack of a committed send). Under load the relay writes
 * one of each per delivered message; the generic path (schema check, a copy of the object,
 * msgpackr, then framing: three allocations and a copy) is a measurable part of its CPU.
 *
 * Output is byte-for-byte what `encodeMessageFrame` writes for the same message (msgpack of
 * the protocol's profile, keys in schema order, minimal integer/str/bin headers, 64-bit
 * integers as int 64 like `encodeMsgpack`), which test/wire/hot-frames.test.ts checks over
 * random frames. Only values the fast path can vouch for cheaply take it (safe non-negative
 * integers in range, canonical usernames, an envelope of 1..MAX_ENVELOPE_BYTES bytes, a frame
 * within `maxFrameBytes`); anything else goes through `encodeMessageFrame`, which normalises
 * it or throws the same UsageError as before. Encoding only: nothing here reads peer input.
 */
import { FRAME_HEADER_BYTES, DEFAULT_MAX_FRAME_BYTES, MAX_ENVELOPE_BYTES } from "./limits.js";
import { encodeMessageFrame } from "./messages.js";
import { USERNAME_MAX_LENGTH, isValidUsername } from "./username.js";

/** The fields of a `msg` frame (as RelayMessageOf<"msg">, without `t`). */
export interface MsgFrameFields {
  readonly chat: number;
  readonly msg: number;
  readonly from: string;
  readonly ts: number;
  readonly envelope: Uint8Array;
  readonly to?: string | undefined;
  readonly reply?: true | undefined;
}

/** The fields of a `sent` frame (as RelayMessageOf<"sent">, without `t`). */
export interface SentFrameFields {
  readonly id: number;
  readonly msg: number;
  readonly ts: number;
  readonly duplicate: boolean;
}

const U32_MAX = 0xffffffff;

/** A short ASCII string as msgpack (fixstr), for the fixed keys and the type tag. */
function fixstr(s: string): number[] {
  return [0xa0 | s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
}

// Fixed byte runs, in schema order (t, then the fields): map header, "t", the tag, first key.
const MSG_HEAD = (fields: number): Uint8Array =>
  Uint8Array.from([0x80 | fields, ...fixstr("t"), ...fixstr("msg"), ...fixstr("chat")]);
const MSG_HEAD_6 = MSG_HEAD(6);
const MSG_HEAD_7 = MSG_HEAD(7);
const MSG_HEAD_8 = MSG_HEAD(8);
const K_MSG = Uint8Array.from(fixstr("msg"));
const K_FROM = Uint8Array.from(fixstr("from"));
const K_TS = Uint8Array.from(fixstr("ts"));
const K_ENVELOPE = Uint8Array.from(fixstr("envelope"));
const K_TO = Uint8Array.from(fixstr("to"));
const K_REPLY_TRUE = Uint8Array.from([...fixstr("reply"), 0xc3]);
const SENT_HEAD = Uint8Array.from([0x85, ...fixstr("t"), ...fixstr("sent"), ...fixstr("id")]);
const K_DUPLICATE = Uint8Array.from(fixstr("duplicate"));

function isUint53(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function isU32(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

/** Bytes of a non-negative safe integer as msgpackr writes it (fixint, uint 8/16/32, int 64). */
function uintBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= U32_MAX ? 5 : 9;
}

function writeUint(out: Uint8Array, view: DataView, pos: number, n: number): number {
  if (n < 0x80) {
    out[pos] = n;
    return pos + 1;
  }
  if (n < 0x100) {
    out[pos] = 0xcc;
    out[pos + 1] = n;
    return pos + 2;
  }
  if (n < 0x10000) {
    out[pos] = 0xcd;
    view.setUint16(pos + 1, n);
    return pos + 3;
  }
  if (n <= U32_MAX) {
    out[pos] = 0xce;
    view.setUint32(pos + 1, n);
    return pos + 5;
  }
  // Beyond 32 bits encodeMsgpack passes a bigint, which msgpackr writes as int 64.
  out[pos] = 0xd3;
  view.setBigInt64(pos + 1, BigInt(n));
  return pos + 9;
}

/** Bytes of a canonical username (ASCII, 3..32 characters) as a msgpack str. */
function nameBytes(name: string): number {
  return name.length + (name.length < 0x20 ? 1 : 2);
}

function writeName(out: Uint8Array, pos: number, name: string): number {
  const n = name.length;
  if (n < 0x20) out[pos++] = 0xa0 | n;
  else {
    out[pos++] = 0xd9;
    out[pos++] = n;
  }
  for (let i = 0; i < n; i++) out[pos++] = name.charCodeAt(i);
  return pos;
}

function binHeaderBytes(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function writeBinHeader(out: Uint8Array, view: DataView, pos: number, length: number): number {
  if (length < 0x100) {
    out[pos] = 0xc4;
    out[pos + 1] = length;
    return pos + 2;
  }
  if (length < 0x10000) {
    out[pos] = 0xc5;
    view.setUint16(pos + 1, length);
    return pos + 3;
  }
  out[pos] = 0xc6;
  view.setUint32(pos + 1, length);
  return pos + 5;
}

function isCanonicalName(name: unknown): name is string {
  return typeof name === "string" && name.length <= USERNAME_MAX_LENGTH && isValidUsername(name);
}

/** Whether `maxFrameBytes` is a valid frame limit (else encodeFrame throws: leave that to it). */
function validLimit(maxFrameBytes: number): boolean {
  return Number.isInteger(maxFrameBytes) && maxFrameBytes >= 1 && maxFrameBytes <= U32_MAX;
}

/**
 * `encodeMessageFrame({ t: "msg", ...fields }, maxFrameBytes)`, the same bytes, faster.
 * Throws UsageError exactly when that does.
 */
export function encodeMsgFrame(fields: MsgFrameFields, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const { chat, msg, from, ts, envelope, to, reply } = fields;
  if (
    !isUint53(chat) ||
    !isUint53(msg) ||
    !isUint53(ts) ||
    !isCanonicalName(from) ||
    !(envelope instanceof Uint8Array) ||
    envelope.length < 1 ||
    envelope.length > MAX_ENVELOPE_BYTES ||
    (to !== undefined && !isCanonicalName(to)) ||
    (reply !== undefined && reply !== true) ||
    !validLimit(maxFrameBytes)
  ) {
    return generic({ t: "msg", ...fields }, maxFrameBytes);
  }
  const head =
    to === undefined ? (reply === undefined ? MSG_HEAD_6 : MSG_HEAD_7) : reply === undefined ? MSG_HEAD_7 : MSG_HEAD_8;
  const length =
    head.length +
    uintBytes(chat) +
    K_MSG.length +
    uintBytes(msg) +
    K_FROM.length +
    nameBytes(from) +
    K_TS.length +
    uintBytes(ts) +
    K_ENVELOPE.length +
    binHeaderBytes(envelope.length) +
    envelope.length +
    (to === undefined ? 0 : K_TO.length + nameBytes(to)) +
    (reply === undefined ? 0 : K_REPLY_TRUE.length);
  if (length > maxFrameBytes) return generic({ t: "msg", ...fields }, maxFrameBytes);
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length);
  let pos = FRAME_HEADER_BYTES;
  out.set(head, pos);
  pos = writeUint(out, view, pos + head.length, chat);
  out.set(K_MSG, pos);
  pos = writeUint(out, view, pos + K_MSG.length, msg);
  out.set(K_FROM, pos);
  pos = writeName(out, pos + K_FROM.length, from);
  out.set(K_TS, pos);
  pos = writeUint(out, view, pos + K_TS.length, ts);
  out.set(K_ENVELOPE, pos);
  pos = writeBinHeader(out, view, pos + K_ENVELOPE.length, envelope.length);
  out.set(envelope, pos);
  pos += envelope.length;
  if (to !== undefined) {
    out.set(K_TO, pos);
    pos = writeName(out, pos + K_TO.length, to);
  }
  if (reply !== undefined) out.set(K_REPLY_TRUE, pos);
  return out;
}

/**
 * `encodeMessageFrame({ t: "sent", ...fields }, maxFrameBytes)`, the same bytes, faster.
 * Throws UsageError exactly when that does.
 */
export function encodeSentFrame(fields: SentFrameFields, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const { id, msg, ts, duplicate } = fields;
  if (!isU32(id) || !isUint53(msg) || !isUint53(ts) || typeof duplicate !== "boolean" || !validLimit(maxFrameBytes)) {
    return generic({ t: "sent", ...fields }, maxFrameBytes);
  }
  const length =
    SENT_HEAD.length +
    uintBytes(id) +
    K_MSG.length +
    uintBytes(msg) +
    K_TS.length +
    uintBytes(ts) +
    K_DUPLICATE.length +
    1;
  if (length > maxFrameBytes) return generic({ t: "sent", ...fields }, maxFrameBytes);
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length);
  let pos = FRAME_HEADER_BYTES;
  out.set(SENT_HEAD, pos);
  pos = writeUint(out, view, pos + SENT_HEAD.length, id);
  out.set(K_MSG, pos);
  pos = writeUint(out, view, pos + K_MSG.length, msg);
  out.set(K_TS, pos);
  pos = writeUint(out, view, pos + K_TS.length, ts);
  out.set(K_DUPLICATE, pos);
  out[pos + K_DUPLICATE.length] = duplicate ? 0xc3 : 0xc2;
  return out;
}

function generic(msg: object, maxFrameBytes: number): Uint8Array {
  // The generic path validates (and normalises, or throws UsageError) as before.
  return encodeMessageFrame(msg as Parameters<typeof encodeMessageFrame>[0], maxFrameBytes);
}
