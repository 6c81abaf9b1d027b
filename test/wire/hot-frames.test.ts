/**
 * The relay's direct encoders of `msg` and `sent` (src/wire/hot-frames.ts) write exactly the
 * bytes of the generic `encodeMessageFrame`, over random valid frames and at every boundary of
 * the integer, string and bin encodings; out-of-profile input falls back to the generic path
 * (same normalisation, same UsageError).
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { UsageError } from "../../src/errors.js";
import {
  MAX_ENVELOPE_BYTES,
  decodeRelayMessage,
  encodeMessageFrame,
  encodeMsgFrame,
  encodeSentFrame,
  type MsgFrameFields,
  type SentFrameFields,
} from "../../src/wire/index.js";

/** Integers around every boundary of msgpack's integer encodings, and random ones. */
const EDGES = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1];
const uint53 = fc.oneof(
  fc.constantFrom(...EDGES),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc
    .constantFrom(...EDGES)
    .chain((e) => fc.integer({ min: Math.max(0, e - 2), max: Math.min(Number.MAX_SAFE_INTEGER, e + 2) })),
);
const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const HEAD = "abcdefghijklmnopqrstuvwxyz0123456789".split("");
const TAIL = [...HEAD, "_", ".", "-"];
const username = fc
  .tuple(fc.constantFrom(...HEAD), fc.array(fc.constantFrom(...TAIL), { minLength: 2, maxLength: 31 }))
  .map(([h, t]) => h + t.join(""));
const envelope = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.constantFrom(1, 0xff, 0x100, 0xffff, 0x10000, MAX_ENVELOPE_BYTES).map((n) => new Uint8Array(n).fill(n & 0xff)),
);
const msgFields: fc.Arbitrary<MsgFrameFields> = fc.record(
  { chat: uint53, msg: uint53, from: username, ts: uint53, envelope, to: username, reply: fc.constant(true as const) },
  { requiredKeys: ["chat", "msg", "from", "ts", "envelope"] },
);
const sentFields: fc.Arbitrary<SentFrameFields> = fc.record({
  id: u32,
  msg: uint53,
  ts: uint53,
  duplicate: fc.boolean(),
});

/** Byte equality without vitest's element-wise diff (slow on 64 KiB envelopes); shows the first difference. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.compare(actual, expected) === 0) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  expect({ length: actual.length, from: i, bytes: Buffer.from(actual.subarray(i, i + 16)).toString("hex") }).toEqual({
    length: expected.length,
    from: i,
    bytes: Buffer.from(expected.subarray(i, i + 16)).toString("hex"),
  });
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("encodeMsgFrame", () => {
  test("writes the generic encoder's bytes for random valid frames", () => {
    fc.assert(
      fc.property(msgFields, (f) => {
        const fast = encodeMsgFrame(f);
        expectSameBytes(fast, encodeMessageFrame({ t: "msg", ...f }));
        expect(fast.constructor).toBe(Uint8Array);
      }),
      { numRuns: 3000 },
    );
  });

  test("decodes back to the same message", () => {
    fc.assert(
      fc.property(msgFields, (f) => {
        const frame = encodeMsgFrame(f, 200_000);
        const { envelope: got, ...rest } = decodeRelayMessage(frame.subarray(4)) as MsgFrameFields;
        const { envelope: want, ...fields } = f;
        expect(rest).toEqual({ t: "msg", ...fields });
        expectSameBytes(got, want);
      }),
      { numRuns: 300 },
    );
  });

  test("usernames of 31 and 32 characters (fixstr / str 8), with and without to and reply", () => {
    const base = { chat: 1, msg: 2, ts: Date.now(), envelope: new Uint8Array(162) };
    for (const name of ["a".repeat(3), "b".repeat(31), "c".repeat(32)]) {
      for (const extra of [{}, { to: name }, { reply: true as const }, { to: "dd9", reply: true as const }]) {
        const f = { ...base, from: name, ...extra };
        expectSameBytes(encodeMsgFrame(f), encodeMessageFrame({ t: "msg", ...f }));
      }
    }
  });

  test("out-of-profile input takes the generic path: normalised or refused the same way", () => {
    const base = { chat: 1, msg: 2, from: "alice", ts: 3, envelope: new Uint8Array(10) };
    // Upper case is normalised by the schema, so the same bytes as the canonical name.
    expect(encodeMsgFrame({ ...base, from: "Alice", to: "BOB" })).toEqual(
      encodeMessageFrame({ t: "msg", ...base, to: "bob" }),
    );
    const bad: MsgFrameFields[] = [
      { ...base, chat: -1 },
      { ...base, msg: 1.5 },
      { ...base, ts: 2 ** 53 },
      { ...base, from: "x" },
      { ...base, from: "a".repeat(33) },
      { ...base, to: "no spaces" },
      { ...base, envelope: new Uint8Array(0) },
      { ...base, envelope: new Uint8Array(MAX_ENVELOPE_BYTES + 1) },
      { ...base, reply: false as unknown as true },
    ];
    for (const f of bad) {
      const e = thrown(() => encodeMsgFrame(f));
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toEqual(thrown(() => encodeMessageFrame({ t: "msg", ...f })));
    }
    // The frame limit: too small a frame, an invalid limit.
    for (const max of [20, 0, 1.5, 2 ** 32]) {
      const e = thrown(() => encodeMsgFrame(base, max));
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toEqual(thrown(() => encodeMessageFrame({ t: "msg", ...base }, max)));
    }
  });
});

describe("encodeSentFrame", () => {
  test("writes the generic encoder's bytes for random valid frames", () => {
    fc.assert(
      fc.property(sentFields, (f) => {
        expectSameBytes(encodeSentFrame(f), encodeMessageFrame({ t: "sent", ...f }));
        expect(decodeRelayMessage(encodeSentFrame(f).subarray(4))).toEqual({ t: "sent", ...f });
      }),
      { numRuns: 3000 },
    );
  });

  test("out-of-profile input is refused the same way", () => {
    const base = { id: 1, msg: 2, ts: 3, duplicate: false };
    const bad: SentFrameFields[] = [
      { ...base, id: 2 ** 32 },
      { ...base, id: -1 },
      { ...base, msg: Number.NaN },
      { ...base, ts: 2 ** 53 },
      { ...base, duplicate: 1 as unknown as boolean },
    ];
    for (const f of bad) {
      const e = thrown(() => encodeSentFrame(f));
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toEqual(thrown(() => encodeMessageFrame({ t: "sent", ...f })));
    }
    expect(thrown(() => encodeSentFrame(base, 5))).toEqual(thrown(() => encodeMessageFrame({ t: "sent", ...base }, 5)));
  });
});
