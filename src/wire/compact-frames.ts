/**
 * The compact encoding of the hot frames of wire protocol version 2 (SECURITY.md §14.9):
 * `send`, `ack` (client → relay), `sent`, `msg` and `held` (relay → client; `held` is the stub a
 * sync reply carries for a message the client already holds, §14.7). Each is one type byte, then
 * LEB128 integers, short usernames with a length byte, and the envelope running to the end of
 * the payload: no map keys, no type string, no bin header, and no idempotency id on `send`
 * (the relay derives it from the envelope, §14.9). Everything else in version 2 is the
 * msgpack map of version 1; a payload starting with a map marker is one of those.
 *
 * The decoder is strict: every byte string has at most one reading, so decode ∘ encode is the
 * identity and encode ∘ decode returns the input (test/wire/compact-frames.test.ts). Decoded
 * messages are the same objects the msgpack path yields for the same message, so handlers
 * cannot tell the encodings apart.
 */
import { createHash } from "node:crypto";
import { ProtocolError, UsageError } from "../errors.js";
import { FRAME_HEADER_BYTES, DEFAULT_MAX_FRAME_BYTES, MAX_ENVELOPE_BYTES } from "./limits.js";
import type { ClientMessageOf, RelayMessageOf } from "./messages.js";
import { USERNAME_MAX_LENGTH, USERNAME_MIN_LENGTH, isValidUsername } from "./username.js";

/** The first payload byte of each compact frame (SECURITY.md §14.9). */
export const COMPACT_TYPE = Object.freeze({
  send: 0x01,
  sendTo: 0x02,
  ack: 0x03,
  sent: 0x04,
  sentDuplicate: 0x05,
  msg: 0x06,
  msgReply: 0x07,
  msgTo: 0x08,
  msgToReply: 0x09,
  held: 0x0a,
});

/** Bytes 0x00–0x7f (msgpack's positive fixint: never a v1 message) are the compact type space. */
export function isCompactPayload(payload: Uint8Array): boolean {
  return payload.length > 0 && payload[0]! < 0x80;
}

/** The label hashed before the envelope to derive a compact send's idempotency id. */
const IDEM_LABEL = Buffer.from("SMSG-v2 send idem", "ascii");

/** A compact send's idempotency id: the first 16 bytes of SHA-256(label ‖ envelope) (§14.9). */
export function derivedIdem(envelope: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(IDEM_LABEL).update(envelope).digest().subarray(0, 16));
}

const U32_MAX = 0xffffffff;
/** Seven bits per LEB128 byte: eight bytes hold 56 bits, enough for every uint53. */
const MAX_UVAR_BYTES = 8;

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

function uvarBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

function writeUvar(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[pos++] = n;
  return pos;
}

function writeName(out: Uint8Array, pos: number, name: string): number {
  out[pos++] = name.length;
  for (let i = 0; i < name.length; i++) out[pos++] = name.charCodeAt(i);
  return pos;
}

function checkUint53(path: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
    throw new UsageError(`cannot encode ${path}: expected an integer 0..2^53-1`);
  return n;
}

function checkU32(path: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > U32_MAX)
    throw new UsageError(`cannot encode ${path}: expected an integer 0..4294967295`);
  return n;
}

function checkName(path: string, name: unknown): string {
  // The compact form carries canonical (lowercase) names only; a sender normalises first.
  if (typeof name !== "string" || name.length > USERNAME_MAX_LENGTH || !isValidUsername(name.toLowerCase()))
    throw new UsageError(`cannot encode ${path}: expected a username`);
  return name.toLowerCase();
}

function checkEnvelope(path: string, envelope: unknown): Uint8Array {
  if (!(envelope instanceof Uint8Array) || envelope.length < 1 || envelope.length > MAX_ENVELOPE_BYTES)
    throw new UsageError(`cannot encode ${path}: expected 1..${MAX_ENVELOPE_BYTES} bytes`);
  return envelope;
}

/** Frames `length` payload bytes: a new array with the u32be header written, or UsageError. */
function frameOf(length: number, maxFrameBytes: number): { out: Uint8Array; pos: number } {
  if (length > maxFrameBytes) throw new UsageError(`frame of ${length} bytes exceeds the limit of ${maxFrameBytes}`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  new DataView(out.buffer).setUint32(0, length);
  return { out, pos: FRAME_HEADER_BYTES };
}

/** The fields of a compact send (the idempotency id is not sent: the relay derives it). */
export type CompactSendFields = Omit<ClientMessageOf<"send">, "t" | "idem"> & { readonly idem?: Uint8Array };

/** `send` as a compact frame (header included). Throws UsageError for a value the peer would refuse. */
export function encodeCompactSendFrame(
  fields: CompactSendFields,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  const id = checkU32("send.id", fields.id);
  const chat = checkUint53("send.chat", fields.chat);
  const envelope = checkEnvelope("send.envelope", fields.envelope);
  const to = fields.to === undefined ? undefined : checkName("send.to", fields.to);
  const length = 1 + uvarBytes(id) + uvarBytes(chat) + (to === undefined ? 0 : 1 + to.length) + envelope.length;
  const { out, pos: start } = frameOf(length, maxFrameBytes);
  out[start] = to === undefined ? COMPACT_TYPE.send : COMPACT_TYPE.sendTo;
  let pos = writeUvar(out, start + 1, id);
  pos = writeUvar(out, pos, chat);
  if (to !== undefined) pos = writeName(out, pos, to);
  out.set(envelope, pos);
  return out;
}

/** `ack` as a compact frame (header included). */
export function encodeCompactAckFrame(
  fields: Omit<ClientMessageOf<"ack">, "t">,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  const chat = checkUint53("ack.chat", fields.chat);
  const upto = checkUint53("ack.upto", fields.upto);
  const { out, pos } = frameOf(1 + uvarBytes(chat) + uvarBytes(upto), maxFrameBytes);
  out[pos] = COMPACT_TYPE.ack;
  writeUvar(out, writeUvar(out, pos + 1, chat), upto);
  return out;
}

/** `sent` as a compact frame (header included). */
export function encodeCompactSentFrame(
  fields: Omit<RelayMessageOf<"sent">, "t">,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  const id = checkU32("sent.id", fields.id);
  const msg = checkUint53("sent.msg", fields.msg);
  const ts = checkUint53("sent.ts", fields.ts);
  if (typeof fields.duplicate !== "boolean") throw new UsageError("cannot encode sent.duplicate: expected a boolean");
  const { out, pos } = frameOf(1 + uvarBytes(id) + uvarBytes(msg) + uvarBytes(ts), maxFrameBytes);
  out[pos] = fields.duplicate ? COMPACT_TYPE.sentDuplicate : COMPACT_TYPE.sent;
  writeUvar(out, writeUvar(out, writeUvar(out, pos + 1, id), msg), ts);
  return out;
}

/** `msg` as a compact frame (header included). */
export function encodeCompactMsgFrame(
  fields: Omit<RelayMessageOf<"msg">, "t">,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  const chat = checkUint53("msg.chat", fields.chat);
  const msg = checkUint53("msg.msg", fields.msg);
  const ts = checkUint53("msg.ts", fields.ts);
  const from = checkName("msg.from", fields.from);
  const to = fields.to === undefined ? undefined : checkName("msg.to", fields.to);
  const envelope = checkEnvelope("msg.envelope", fields.envelope);
  if (fields.reply !== undefined && fields.reply !== true)
    throw new UsageError("cannot encode msg.reply: expected true or absent");
  const length =
    1 +
    uvarBytes(chat) +
    uvarBytes(msg) +
    uvarBytes(ts) +
    1 +
    from.length +
    (to === undefined ? 0 : 1 + to.length) +
    envelope.length;
  const { out, pos: start } = frameOf(length, maxFrameBytes);
  out[start] =
    to === undefined
      ? fields.reply
        ? COMPACT_TYPE.msgReply
        : COMPACT_TYPE.msg
      : fields.reply
        ? COMPACT_TYPE.msgToReply
        : COMPACT_TYPE.msgTo;
  let pos = writeUvar(out, start + 1, chat);
  pos = writeUvar(out, pos, msg);
  pos = writeUvar(out, pos, ts);
  pos = writeName(out, pos, from);
  if (to !== undefined) pos = writeName(out, pos, to);
  out.set(envelope, pos);
  return out;
}

/** `held` as a compact frame (header included): a sync reply's stub for a message the client holds (§14.7). */
export function encodeCompactHeldFrame(
  fields: Omit<RelayMessageOf<"held">, "t">,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  const chat = checkUint53("held.chat", fields.chat);
  const msg = checkUint53("held.msg", fields.msg);
  const { out, pos } = frameOf(1 + uvarBytes(chat) + uvarBytes(msg), maxFrameBytes);
  out[pos] = COMPACT_TYPE.held;
  writeUvar(out, writeUvar(out, pos + 1, chat), msg);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding (peer input: every check, one clear sentence each)
// ---------------------------------------------------------------------------------------------

/** A cursor over one compact payload; `frame` names the frame in error texts. */
class Reader {
  pos = 1;
  requestId: number | undefined;
  constructor(
    readonly bytes: Uint8Array,
    readonly frame: string,
  ) {}

  fail(code: "BAD_FRAME" | "BAD_MESSAGE", text: string): never {
    throw new ProtocolError(code, `compact ${this.frame}: ${text}`, { requestId: this.requestId });
  }

  uvar(field: string, max: number): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < MAX_UVAR_BYTES; i++) {
      if (this.pos >= this.bytes.length) this.fail("BAD_FRAME", `${field} is cut short`);
      const b = this.bytes[this.pos++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        // Minimal form only: a last byte of 0 after the first would be a longer spelling.
        if (b === 0 && i > 0) this.fail("BAD_FRAME", `${field} is not in its shortest form`);
        if (n > max) this.fail("BAD_MESSAGE", `${field} is larger than ${max}`);
        return n;
      }
      scale *= 0x80;
    }
    return this.fail("BAD_FRAME", `${field} is longer than ${MAX_UVAR_BYTES} bytes`);
  }

  name(field: string): string {
    if (this.pos >= this.bytes.length) this.fail("BAD_FRAME", `${field} is cut short`);
    const length = this.bytes[this.pos++]!;
    if (length < USERNAME_MIN_LENGTH || length > USERNAME_MAX_LENGTH)
      this.fail("BAD_MESSAGE", `${field} must be ${USERNAME_MIN_LENGTH}..${USERNAME_MAX_LENGTH} bytes, not ${length}`);
    if (this.pos + length > this.bytes.length) this.fail("BAD_FRAME", `${field} is cut short`);
    let name = "";
    for (let i = 0; i < length; i++) name += String.fromCharCode(this.bytes[this.pos + i]!);
    this.pos += length;
    if (!isValidUsername(name)) this.fail("BAD_MESSAGE", `${field} is not a lowercase username`);
    return name;
  }

  /** The rest of the payload: the envelope. */
  envelope(): Uint8Array {
    const length = this.bytes.length - this.pos;
    if (length < 1) this.fail("BAD_MESSAGE", "the envelope is empty");
    if (length > MAX_ENVELOPE_BYTES)
      this.fail("BAD_MESSAGE", `the envelope has ${length} bytes, more than ${MAX_ENVELOPE_BYTES}`);
    return this.bytes.slice(this.pos);
  }

  end(): void {
    if (this.pos !== this.bytes.length) this.fail("BAD_FRAME", "trailing bytes");
  }
}

const MAX_UINT53 = Number.MAX_SAFE_INTEGER;

/** Decodes a compact client frame (`send`, `ack`); the payload starts with a byte below 0x80. */
export function decodeCompactClientFrame(payload: Uint8Array): ClientMessageOf<"send"> | ClientMessageOf<"ack"> {
  const type = payload[0];
  if (type === COMPACT_TYPE.send || type === COMPACT_TYPE.sendTo) {
    const r = new Reader(payload, "send");
    const id = r.uvar("id", U32_MAX);
    r.requestId = id;
    const chat = r.uvar("chat", MAX_UINT53);
    const to = type === COMPACT_TYPE.sendTo ? r.name("to") : undefined;
    const envelope = r.envelope();
    const idem = derivedIdem(envelope);
    return to === undefined ? { t: "send", id, chat, idem, envelope } : { t: "send", id, chat, idem, envelope, to };
  }
  if (type === COMPACT_TYPE.ack) {
    const r = new Reader(payload, "ack");
    const chat = r.uvar("chat", MAX_UINT53);
    const upto = r.uvar("upto", MAX_UINT53);
    r.end();
    return { t: "ack", chat, upto };
  }
  throw unknownType(type);
}

/** Decodes a compact relay frame (`sent`, `msg`, `held`); the payload starts with a byte below 0x80. */
export function decodeCompactRelayFrame(
  payload: Uint8Array,
): RelayMessageOf<"sent"> | RelayMessageOf<"msg"> | RelayMessageOf<"held"> {
  const type = payload[0];
  if (type === COMPACT_TYPE.sent || type === COMPACT_TYPE.sentDuplicate) {
    const r = new Reader(payload, "sent");
    const id = r.uvar("id", U32_MAX);
    r.requestId = id;
    const msg = r.uvar("msg", MAX_UINT53);
    const ts = r.uvar("ts", MAX_UINT53);
    r.end();
    return { t: "sent", id, msg, ts, duplicate: type === COMPACT_TYPE.sentDuplicate };
  }
  if (type !== undefined && type >= COMPACT_TYPE.msg && type <= COMPACT_TYPE.msgToReply) {
    const r = new Reader(payload, "msg");
    const chat = r.uvar("chat", MAX_UINT53);
    const msg = r.uvar("msg", MAX_UINT53);
    const ts = r.uvar("ts", MAX_UINT53);
    const from = r.name("from");
    const hasTo = type === COMPACT_TYPE.msgTo || type === COMPACT_TYPE.msgToReply;
    const reply = type === COMPACT_TYPE.msgReply || type === COMPACT_TYPE.msgToReply;
    const to = hasTo ? r.name("to") : undefined;
    const envelope = r.envelope();
    return {
      t: "msg",
      chat,
      msg,
      from,
      ts,
      envelope,
      ...(to !== undefined ? { to } : {}),
      ...(reply ? { reply: true as const } : {}),
    };
  }
  if (type === COMPACT_TYPE.held) {
    const r = new Reader(payload, "held");
    const chat = r.uvar("chat", MAX_UINT53);
    const msg = r.uvar("msg", MAX_UINT53);
    r.end();
    return { t: "held", chat, msg };
  }
  throw unknownType(type);
}

function unknownType(type: number | undefined): ProtocolError {
  const shown = type === undefined ? "" : ` 0x${type.toString(16).padStart(2, "0")}`;
  return new ProtocolError("UNKNOWN_TYPE", `unknown compact frame type${shown}`);
}
