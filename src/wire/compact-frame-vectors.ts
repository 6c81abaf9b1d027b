/**
 * test/vectors/compact-frames.json: the compact hot frames of wire protocol version 2
 * (SECURITY.md §14.9), and the `held` stub of a sync reply (§14.7 "Held messages"). Lives beside
 * the wire code, not in crypto/vectors/, because crypto/ may not import src/ (docs/ARCHITECTURE.md
 * §2); `smsg vectors` lists it with the others.
 *
 * Inputs: `frames[i].envelope` (hex), for the frames that carry one. The other fields of each
 * case (type, ids, names, flags) are fixed by the suite, like every rule-case table
 * (test/vectors/README.md), so an edited case is a mismatch rather than a new case.
 * Outputs: per frame its fields, the framed bytes (u32be length header included), for a
 * `send` the derived idempotency id, and the same message's version-1 frame for comparison;
 * per malformed case the error code and text the decoder gives.
 */
import { toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError } from "../../crypto/errors.js";
import { seededRng } from "../../crypto/rng.js";
import { Inputs } from "../../crypto/vectors/inputs.js";
import type { VectorSuite } from "../../crypto/vectors/suite.js";
import { ProtocolError } from "../errors.js";
import {
  decodeCompactClientFrame,
  decodeCompactRelayFrame,
  derivedIdem,
  encodeCompactAckFrame,
  encodeCompactHeldFrame,
  encodeCompactMsgFrame,
  encodeCompactSendFrame,
  encodeCompactSentFrame,
} from "./compact-frames.js";
import { encodeMessageFrame } from "./messages.js";

const FILE = "compact-frames.json";

const DESCRIPTION =
  "Compact hot frames of relay wire protocol version 2: send, ack (client to relay), sent, msg, held (relay to " +
  "client; held: a sync reply's stub for a message the client said it holds). " +
  "frames: each frame's fields, its bytes (u32be frame length, then the payload), for a send the idempotency id " +
  "both sides derive (SHA-256('SMSG-v2 send idem' || envelope), first 16 bytes), and the same message as a " +
  "version-1 msgpack frame (v1_bytes; its idem is the derived one). Inputs are the envelopes; the other fields are " +
  "fixed by the suite. malformed: compact payloads (no frame header) that must be refused, with the side that " +
  "reads them, the error code and the error text.";

/** A time in ms (2026-12-02) and message ids large enough to take several LEB128 bytes. */
const TS = 1_796_216_202_286;

type Case =
  | { comment: string; frame: "send"; id: number; chat: number; to?: string; envelope: number }
  | { comment: string; frame: "ack"; chat: number; upto: number }
  | { comment: string; frame: "sent"; id: number; msg: number; ts: number; duplicate: boolean }
  | {
      comment: string;
      frame: "msg";
      chat: number;
      msg: number;
      ts: number;
      from: string;
      to?: string;
      reply?: true;
      envelope: number;
    }
  | { comment: string; frame: "held"; chat: number; msg: number };

/** The case table; `envelope` is the length of the generated envelope. */
const CASES: Case[] = [
  { comment: "a 1:1 send of a 100-byte text (162-byte envelope)", frame: "send", id: 300, chat: 5, envelope: 162 },
  { comment: "a send addressed to one member", frame: "send", id: 0, chat: 2 ** 53 - 1, to: "bob", envelope: 1 },
  { comment: "an ack", frame: "ack", chat: 5, upto: 1_234_567 },
  { comment: "an ack of nothing yet", frame: "ack", chat: 0, upto: 0 },
  { comment: "a sent", frame: "sent", id: 300, msg: 1_234_567, ts: TS, duplicate: false },
  { comment: "a sent answering a retry", frame: "sent", id: 0xffffffff, msg: 127, ts: 128, duplicate: true },
  {
    comment: "a pushed 1:1 msg (162-byte envelope)",
    frame: "msg",
    chat: 5,
    msg: 1_234_567,
    ts: TS,
    from: "alice",
    envelope: 162,
  },
  {
    comment: "a msg answering a sync",
    frame: "msg",
    chat: 5,
    msg: 16_383,
    ts: TS,
    from: "alice",
    reply: true,
    envelope: 2,
  },
  {
    comment: "a pushed msg addressed to one member",
    frame: "msg",
    chat: 9,
    msg: 16_384,
    ts: TS,
    from: "carol.d-x_1",
    to: "bob",
    envelope: 40,
  },
  {
    comment: "a msg addressed to one member, answering a history",
    frame: "msg",
    chat: 9,
    msg: 2 ** 53 - 1,
    ts: TS,
    from: "a".repeat(32),
    to: "b0b",
    reply: true,
    envelope: 3,
  },
  { comment: "a held stub in a sync reply", frame: "held", chat: 5, msg: 1_234_567 },
  { comment: "a held stub at the largest ids", frame: "held", chat: 2 ** 53 - 1, msg: 2 ** 53 - 1 },
];

/** Malformed payloads, fixed by the suite: [comment, side, hex payload]. */
const MALFORMED: [string, "client" | "relay", string][] = [
  ["type 0x00 is no frame", "client", "000101eeee"],
  ["type 0x0b is no frame", "relay", "0b"],
  ["a relay frame (sent) from a client", "client", "04010101"],
  ["a client frame (send) from the relay", "relay", "010101eeee"],
  ["send: id cut short", "client", "0180"],
  ["send: no envelope", "client", "010101"],
  ["send: id not in its shortest form", "client", "018100" + "01eeee"],
  ["send: id over 2^32-1", "client", "01808080801001eeee"],
  ["send: to of 2 bytes", "client", "0201010261" + "62eeee"],
  ["send: to not lowercase", "client", "020101034142" + "43eeee"],
  ["ack: trailing byte", "client", "03010100"],
  ["ack: chat over 2^53-1", "client", "03ffffffffffffff1001"],
  ["ack: an integer of 9 bytes", "client", "03" + "80".repeat(8) + "0101"],
  ["sent: ts cut short", "relay", "050101"],
  ["sent: trailing byte", "relay", "0401010101"],
  ["msg: from with a space", "relay", "06010101036120" + "62eeee"],
  ["msg: no envelope", "relay", "0701010103616263"],
  ["msg: to cut short", "relay", "0801010103616263"],
  ["a relay frame (held) from a client", "client", "0a0101"],
  ["held: msg cut short", "relay", "0a01"],
  ["held: trailing byte", "relay", "0a010100"],
  ["held: chat over 2^53-1", "relay", "0affffffffffffff1001"],
  ["held: msg not in its shortest form", "relay", "0a018000"],
];

function frameCase(c: Case, file: Inputs, i: number): Record<string, unknown> {
  const { comment, frame } = c;
  const size = c.frame === "send" || c.frame === "msg" ? c.envelope : undefined;
  const envelope = size !== undefined ? file.hex("envelope") : undefined;
  if (envelope !== undefined && envelope.length !== size)
    throw new CodecError(`${FILE}.frames[${i}].envelope: must be ${size} bytes`);
  switch (c.frame) {
    case "send": {
      const fields = { id: c.id, chat: c.chat, ...(c.to !== undefined ? { to: c.to } : {}), envelope: envelope! };
      const idem = derivedIdem(envelope!);
      return {
        comment,
        frame,
        id: c.id,
        chat: c.chat,
        ...(c.to !== undefined ? { to: c.to } : {}),
        envelope: toHex(envelope!),
        idem: toHex(idem),
        bytes: toHex(encodeCompactSendFrame(fields)),
        v1_bytes: toHex(encodeMessageFrame({ t: "send", ...fields, idem })),
      };
    }
    case "ack":
      return {
        comment,
        frame,
        chat: c.chat,
        upto: c.upto,
        bytes: toHex(encodeCompactAckFrame(c)),
        v1_bytes: toHex(encodeMessageFrame({ t: "ack", chat: c.chat, upto: c.upto })),
      };
    case "sent": {
      const fields = { id: c.id, msg: c.msg, ts: c.ts, duplicate: c.duplicate };
      return {
        comment,
        frame,
        ...fields,
        bytes: toHex(encodeCompactSentFrame(fields)),
        v1_bytes: toHex(encodeMessageFrame({ t: "sent", ...fields })),
      };
    }
    case "held": {
      const fields = { chat: c.chat, msg: c.msg };
      return {
        comment,
        frame,
        ...fields,
        bytes: toHex(encodeCompactHeldFrame(fields)),
        v1_bytes: toHex(encodeMessageFrame({ t: "held", ...fields })),
      };
    }
    case "msg": {
      const fields = {
        chat: c.chat,
        msg: c.msg,
        ts: c.ts,
        from: c.from,
        ...(c.to !== undefined ? { to: c.to } : {}),
        ...(c.reply ? { reply: true as const } : {}),
        envelope: envelope!,
      };
      return {
        comment,
        frame,
        chat: c.chat,
        msg: c.msg,
        ts: c.ts,
        from: c.from,
        ...(c.to !== undefined ? { to: c.to } : {}),
        ...(c.reply ? { reply: true } : {}),
        envelope: toHex(envelope!),
        bytes: toHex(encodeCompactMsgFrame(fields)),
        v1_bytes: toHex(encodeMessageFrame({ t: "msg", ...fields })),
      };
    }
  }
}

function malformedCase([comment, side, hex]: [string, "client" | "relay", string]): Record<string, unknown> {
  const payload = Uint8Array.from(Buffer.from(hex, "hex"));
  try {
    (side === "client" ? decodeCompactClientFrame : decodeCompactRelayFrame)(payload);
  } catch (e) {
    if (e instanceof ProtocolError) return { comment, side, payload: hex, code: e.code, error: e.message };
    throw e;
  }
  // The table holds only frames that must be refused: one that decodes is a broken decoder.
  return { comment, side, payload: hex, code: null, error: null };
}

/** The compact-frame vector suite (SECURITY.md §14.9). */
export const compactFrameVectors: VectorSuite = {
  file: FILE,

  /** Recomputes compact-frames.json from its envelopes. Throws CodecError naming a missing or malformed input. */
  recompute(file: unknown) {
    const f = new Inputs(file, FILE);
    const frames = f.list("frames");
    if (frames.length !== CASES.length) throw new CodecError(`${FILE}.frames: must hold ${CASES.length} cases`);
    return {
      suite: "compact-frames",
      description: DESCRIPTION,
      spec: "SECURITY.md §14.9 (compact hot frames), §14.7 (held stubs)",
      frames: CASES.map((c, i) => frameCase(c, frames[i]!, i)),
      malformed: MALFORMED.map(malformedCase),
    };
  },

  /** The envelopes, drawn from seededRng("SMSG-v2 vectors compact frames"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v2 vectors compact frames"));
    return this.recompute({
      frames: CASES.map((c) => ("envelope" in c ? { envelope: toHex(rng(c.envelope)) } : {})),
    });
  },
};
