/**
 * The compact hot frames of protocol version 2 (src/wire/compact-frames.ts, SECURITY.md §14.9),
 * `held` (a sync reply's stub, §14.7) included:
 * they decode to exactly the objects the version-1 msgpack path gives for the same message;
 * the encoding is canonical (whatever decodes re-encodes to the same bytes, so there is one
 * reading of every byte string); every malformed frame is refused with a ProtocolError that
 * says what is wrong; and a version-1 connection refuses them as it always did.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { ProtocolError, UsageError } from "../../src/errors.js";
import {
  COMPACT_TYPE,
  FRAME_HEADER_BYTES,
  MAX_ENVELOPE_BYTES,
  decodeClientMessage,
  decodeCompactClientFrame,
  decodeCompactRelayFrame,
  decodeRelayMessage,
  derivedIdem,
  encodeCompactAckFrame,
  encodeCompactHeldFrame,
  encodeCompactMsgFrame,
  encodeCompactSendFrame,
  encodeCompactSentFrame,
  encodeMessageFrame,
  type ClientMessageOf,
  type RelayMessageOf,
} from "../../src/wire/index.js";

const EDGES = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0xffffffff, 0x100000000, 2 ** 53 - 1];
const uint53 = fc.oneof(fc.constantFrom(...EDGES), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const u32 = fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0xffffffff), fc.nat({ max: 0xffffffff }));
const HEAD = "abcdefghijklmnopqrstuvwxyz0123456789".split("");
const TAIL = [...HEAD, "_", ".", "-"];
const username = fc
  .tuple(fc.constantFrom(...HEAD), fc.array(fc.constantFrom(...TAIL), { minLength: 2, maxLength: 31 }))
  .map(([h, t]) => h + t.join(""));
const envelope = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.constantFrom(1, 0x7f, 0x80, MAX_ENVELOPE_BYTES).map((n) => new Uint8Array(n).fill(n & 0xff)),
);
const sendFields = fc.record(
  { id: u32, chat: uint53, envelope, to: username },
  { requiredKeys: ["id", "chat", "envelope"] },
);
const ackFields = fc.record({ chat: uint53, upto: uint53 });
const heldFields = fc.record({ chat: uint53, msg: uint53 });
const sentFields = fc.record({ id: u32, msg: uint53, ts: uint53, duplicate: fc.boolean() });
const msgFields = fc.record(
  { chat: uint53, msg: uint53, from: username, ts: uint53, envelope, to: username, reply: fc.constant(true as const) },
  { requiredKeys: ["chat", "msg", "from", "ts", "envelope"] },
);

/** The payload of a framed message (the 4-byte header checked and cut off). */
function payloadOf(frame: Uint8Array): Uint8Array {
  expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(frame.length - FRAME_HEADER_BYTES);
  return frame.subarray(FRAME_HEADER_BYTES);
}

/** A message with its byte fields as hex: vitest's element-wise diff of 64 KiB arrays is slow. */
function comparable(m: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(m).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v]),
  );
}

function thrown(f: () => unknown): ProtocolError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error("expected a ProtocolError");
}

/** Re-encodes a decoded compact message (the inverse of the decoders). */
function reencode(m: ReturnType<typeof decodeCompactClientFrame> | ReturnType<typeof decodeCompactRelayFrame>) {
  const { t, ...fields } = m;
  if (t === "send") return encodeCompactSendFrame(fields as Omit<ClientMessageOf<"send">, "t">);
  if (t === "ack") return encodeCompactAckFrame(fields as Omit<ClientMessageOf<"ack">, "t">);
  if (t === "sent") return encodeCompactSentFrame(fields as Omit<RelayMessageOf<"sent">, "t">);
  if (t === "held") return encodeCompactHeldFrame(fields as Omit<RelayMessageOf<"held">, "t">);
  return encodeCompactMsgFrame(fields as Omit<RelayMessageOf<"msg">, "t">);
}

describe("compact frames decode to the version-1 messages", () => {
  test("send: the same message, its idempotency id derived from the envelope", () => {
    fc.assert(
      fc.property(sendFields, (f) => {
        const idem = derivedIdem(f.envelope);
        const v1 = decodeClientMessage(payloadOf(encodeMessageFrame({ t: "send", ...f, idem })));
        const v2 = decodeClientMessage(payloadOf(encodeCompactSendFrame(f)), { compact: true });
        expect(comparable(v2)).toEqual(comparable(v1));
      }),
      { numRuns: 300 },
    );
  });

  test("ack, sent, msg and held: the same message", () => {
    fc.assert(
      fc.property(ackFields, sentFields, msgFields, heldFields, (a, s, m, h) => {
        const opts = { compact: true };
        expect(decodeClientMessage(payloadOf(encodeCompactAckFrame(a)), opts)).toEqual(
          decodeClientMessage(payloadOf(encodeMessageFrame({ t: "ack", ...a }))),
        );
        expect(decodeRelayMessage(payloadOf(encodeCompactSentFrame(s)), opts)).toEqual(
          decodeRelayMessage(payloadOf(encodeMessageFrame({ t: "sent", ...s }))),
        );
        expect(comparable(decodeRelayMessage(payloadOf(encodeCompactMsgFrame(m)), opts))).toEqual(
          comparable(decodeRelayMessage(payloadOf(encodeMessageFrame({ t: "msg", ...m })))),
        );
        expect(decodeRelayMessage(payloadOf(encodeCompactHeldFrame(h)), opts)).toEqual(
          decodeRelayMessage(payloadOf(encodeMessageFrame({ t: "held", ...h }))),
        );
      }),
      { numRuns: 300 },
    );
  });

  test("msgpack maps still decode on a version-2 connection", () => {
    const ack = payloadOf(encodeMessageFrame({ t: "ack", chat: 3, upto: 9 }));
    expect(decodeClientMessage(ack, { compact: true })).toEqual({ t: "ack", chat: 3, upto: 9 });
  });

  test("a version-1 connection refuses a compact frame as it refuses any payload that is not one map", () => {
    // [0x03, 3, 9] reads as msgpack fixint 3 with trailing bytes; a lone type byte as a non-map.
    const ack = payloadOf(encodeCompactAckFrame({ chat: 3, upto: 9 }));
    expect(thrown(() => decodeClientMessage(ack)).code).toBe("BAD_FRAME");
    expect(thrown(() => decodeRelayMessage(Uint8Array.of(COMPACT_TYPE.sent))).code).toBe("BAD_MESSAGE");
  });

  test("the idempotency id is SHA-256 of the label and the envelope, cut to 16 bytes", () => {
    // SECURITY.md §14.9; test/vectors/compact-frames.json pins more.
    expect(Buffer.from(derivedIdem(new Uint8Array([1, 2, 3]))).toString("hex")).toHaveLength(32);
    expect(derivedIdem(new Uint8Array([1]))).not.toEqual(derivedIdem(new Uint8Array([2])));
  });
});

describe("the compact encoding is canonical and strict", () => {
  const valid = fc.oneof(
    sendFields.map((f) => payloadOf(encodeCompactSendFrame(f))),
    ackFields.map((f) => payloadOf(encodeCompactAckFrame(f))),
    sentFields.map((f) => payloadOf(encodeCompactSentFrame(f))),
    msgFields.map((f) => payloadOf(encodeCompactMsgFrame(f))),
    heldFields.map((f) => payloadOf(encodeCompactHeldFrame(f))),
  );
  /** A valid payload with bytes changed, cut, or added. */
  const mutated = fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 3 }),
    )
    .map(([p, edits, cut, extra]) => {
      const b = Uint8Array.from(p);
      for (const [i, v] of edits) b[i % b.length] = v;
      const kept = b.subarray(0, Math.max(1, b.length - (cut % 12)));
      return Uint8Array.from([...kept, ...extra]);
    });

  test("whatever decodes re-encodes to the same bytes; the rest is a ProtocolError", () => {
    fc.assert(
      fc.property(fc.oneof(valid, mutated), (p) => {
        if (p[0]! >= 0x80) return;
        for (const decode of [decodeCompactClientFrame, decodeCompactRelayFrame]) {
          let m;
          try {
            m = decode(p);
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            expect(["BAD_FRAME", "BAD_MESSAGE", "UNKNOWN_TYPE"]).toContain((e as ProtocolError).code);
            expect((e as ProtocolError).message).toMatch(
              /^(compact (send|ack|sent|msg|held): |unknown compact frame type)/,
            );
            continue;
          }
          expect(Buffer.from(payloadOf(reencode(m))).equals(Buffer.from(p))).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  const env = [0xee, 0xee];
  const cases: [string, "client" | "relay", number[], string, RegExp][] = [
    ["empty type byte 0x00", "client", [0x00, 1, 1, ...env], "UNKNOWN_TYPE", /unknown compact frame type 0x00/],
    ["a relay type from a client", "client", [COMPACT_TYPE.sent, 1, 1, 1], "UNKNOWN_TYPE", /type 0x04/],
    ["a client type from the relay", "relay", [COMPACT_TYPE.send, 1, 1, ...env], "UNKNOWN_TYPE", /type 0x01/],
    ["type 0x7f", "relay", [0x7f], "UNKNOWN_TYPE", /type 0x7f/],
    ["type 0x0b, the first after held", "relay", [0x0b, 1, 1], "UNKNOWN_TYPE", /type 0x0b/],
    ["held from a client", "client", [COMPACT_TYPE.held, 1, 1], "UNKNOWN_TYPE", /type 0x0a/],
    ["held without msg", "relay", [COMPACT_TYPE.held, 1], "BAD_FRAME", /held: msg is cut short/],
    ["held with trailing bytes", "relay", [COMPACT_TYPE.held, 1, 1, 0], "BAD_FRAME", /held: trailing bytes/],
    [
      "held msg over 2^53-1",
      "relay",
      [COMPACT_TYPE.held, 1, ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10]],
      "BAD_MESSAGE",
      /held: msg is larger than 9007199254740991/,
    ],
    ["send cut inside id", "client", [COMPACT_TYPE.send, 0x80], "BAD_FRAME", /send: id is cut short/],
    ["send without chat", "client", [COMPACT_TYPE.send, 1], "BAD_FRAME", /send: chat is cut short/],
    ["send with no envelope", "client", [COMPACT_TYPE.send, 1, 1], "BAD_MESSAGE", /send: the envelope is empty/],
    [
      "id not shortest (0x81 0x00)",
      "client",
      [COMPACT_TYPE.send, 0x81, 0x00, 1, ...env],
      "BAD_FRAME",
      /id is not in its shortest form/,
    ],
    [
      "zero spelled long (0x80 0x00)",
      "client",
      [COMPACT_TYPE.ack, 0x80, 0x00, 1],
      "BAD_FRAME",
      /chat is not in its shortest form/,
    ],
    [
      "id over u32",
      "client",
      [COMPACT_TYPE.send, 0x80, 0x80, 0x80, 0x80, 0x10, 1, ...env],
      "BAD_MESSAGE",
      /id is larger than 4294967295/,
    ],
    [
      "chat over 2^53-1",
      "client",
      [COMPACT_TYPE.ack, ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10], 1],
      "BAD_MESSAGE",
      /chat is larger than 9007199254740991/,
    ],
    [
      "a 9-byte integer",
      "client",
      [COMPACT_TYPE.ack, ...Array(8).fill(0x80), 1, 1],
      "BAD_FRAME",
      /chat is longer than 8 bytes/,
    ],
    ["ack with trailing bytes", "client", [COMPACT_TYPE.ack, 1, 1, 0], "BAD_FRAME", /ack: trailing bytes/],
    ["ack without upto", "client", [COMPACT_TYPE.ack, 1], "BAD_FRAME", /ack: upto is cut short/],
    ["sent with trailing bytes", "relay", [COMPACT_TYPE.sent, 1, 1, 1, 1], "BAD_FRAME", /sent: trailing bytes/],
    ["sent without ts", "relay", [COMPACT_TYPE.sentDuplicate, 1, 1], "BAD_FRAME", /sent: ts is cut short/],
    [
      "to of 2 bytes",
      "client",
      [COMPACT_TYPE.sendTo, 1, 1, 2, 0x61, 0x62, ...env],
      "BAD_MESSAGE",
      /to must be 3\.\.32 bytes, not 2/,
    ],
    [
      "to of 33 bytes",
      "client",
      [COMPACT_TYPE.sendTo, 1, 1, 33, ...Array(33).fill(0x61), ...env],
      "BAD_MESSAGE",
      /not 33/,
    ],
    ["to cut short", "client", [COMPACT_TYPE.sendTo, 1, 1, 5, 0x61, 0x62], "BAD_FRAME", /to is cut short/],
    [
      "to in capitals",
      "client",
      [COMPACT_TYPE.sendTo, 1, 1, 3, 0x41, 0x42, 0x43, ...env],
      "BAD_MESSAGE",
      /to is not a lowercase username/,
    ],
    [
      "from with a space",
      "relay",
      [COMPACT_TYPE.msg, 1, 1, 1, 3, 0x61, 0x20, 0x62, ...env],
      "BAD_MESSAGE",
      /msg: from is not a lowercase username/,
    ],
    [
      "from with a non-ASCII byte",
      "relay",
      [COMPACT_TYPE.msg, 1, 1, 1, 3, 0x61, 0xe9, 0x62, ...env],
      "BAD_MESSAGE",
      /from is not a lowercase username/,
    ],
    [
      "msg with no envelope",
      "relay",
      [COMPACT_TYPE.msgReply, 1, 1, 1, 3, 0x61, 0x62, 0x63],
      "BAD_MESSAGE",
      /msg: the envelope is empty/,
    ],
    [
      "msg to, cut before to",
      "relay",
      [COMPACT_TYPE.msgTo, 1, 1, 1, 3, 0x61, 0x62, 0x63],
      "BAD_FRAME",
      /msg: to is cut short/,
    ],
  ];
  test.each(cases)("%s", (_name, side, bytes, code, text) => {
    const decode = side === "client" ? decodeCompactClientFrame : decodeCompactRelayFrame;
    const e = thrown(() => decode(Uint8Array.from(bytes)));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(text);
  });

  test("an envelope over MAX_ENVELOPE_BYTES is refused, and the error names the send", () => {
    const p = Uint8Array.from([COMPACT_TYPE.send, 7, 1, ...new Uint8Array(MAX_ENVELOPE_BYTES + 1)]);
    const e = thrown(() => decodeCompactClientFrame(p));
    expect(e.code).toBe("BAD_MESSAGE");
    expect(e.message).toBe(
      `compact send: the envelope has ${MAX_ENVELOPE_BYTES + 1} bytes, more than ${MAX_ENVELOPE_BYTES}`,
    );
    expect(e.requestId).toBe(7);
  });
});

describe("the compact encoders refuse what the peer would refuse", () => {
  const e162 = new Uint8Array(162);
  test.each([
    ["send id over u32", () => encodeCompactSendFrame({ id: 2 ** 32, chat: 1, envelope: e162 })],
    ["send chat negative", () => encodeCompactSendFrame({ id: 1, chat: -1, envelope: e162 })],
    ["send empty envelope", () => encodeCompactSendFrame({ id: 1, chat: 1, envelope: new Uint8Array(0) })],
    ["send to not a username", () => encodeCompactSendFrame({ id: 1, chat: 1, envelope: e162, to: "a b" })],
    ["ack upto not an integer", () => encodeCompactAckFrame({ chat: 1, upto: 1.5 })],
    ["sent ts over 2^53", () => encodeCompactSentFrame({ id: 1, msg: 1, ts: 2 ** 53, duplicate: false })],
    [
      "msg from too long",
      () => encodeCompactMsgFrame({ chat: 1, msg: 1, ts: 1, from: "a".repeat(33), envelope: e162 }),
    ],
    ["a frame over the limit", () => encodeCompactSendFrame({ id: 1, chat: 1, envelope: e162 }, 100)],
    ["held msg negative", () => encodeCompactHeldFrame({ chat: 1, msg: -1 })],
    ["held chat over 2^53", () => encodeCompactHeldFrame({ chat: 2 ** 53, msg: 1 })],
  ])("%s", (_name, f) => {
    expect(f).toThrow(UsageError);
  });

  test("names in any ASCII case go out lowercase, as the msgpack path normalises them", () => {
    const frame = encodeCompactSendFrame({ id: 1, chat: 1, envelope: e162, to: "Bob" });
    expect(decodeCompactClientFrame(payloadOf(frame))).toMatchObject({ to: "bob" });
  });

  test("a held stub is 7..10 bytes framed for ids below 2^21, against 23..28 in version 1 (SECURITY.md §14.9)", () => {
    expect(encodeCompactHeldFrame({ chat: 1, msg: 1 }).length).toBe(7);
    expect(encodeCompactHeldFrame({ chat: 200, msg: 70_000 }).length).toBe(10);
    expect(encodeMessageFrame({ t: "held", chat: 1, msg: 1 }).length).toBe(23);
    expect(encodeMessageFrame({ t: "held", chat: 200, msg: 70_000 }).length).toBe(28);
  });

  test("a 1:1 send of a 162-byte envelope is 170 bytes framed (SECURITY.md §14.9)", () => {
    expect(encodeCompactSendFrame({ id: 300, chat: 5, envelope: e162 }).length).toBe(4 + 1 + 2 + 1 + 162);
    expect(encodeMessageFrame({ t: "send", id: 300, chat: 5, idem: new Uint8Array(16), envelope: e162 }).length).toBe(
      220,
    );
  });
});
