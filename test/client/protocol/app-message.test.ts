/**
 * Application messages (SECURITY.md §15.1–§15.2): every kind round-trips, every
 * malformed variant is refused with an AppMessageError, and for arbitrary msgpack values and
 * arbitrary bytes the decoder agrees with an independent reference validator written here from
 * the spec, never throwing anything else.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { MAX_PADDED_LENGTH, pad, paddedLength } from "../../../crypto/padding.js";
import { seededRng } from "../../../crypto/rng.js";
import { createSenderKey, distributionMessage, senderEncrypt } from "../../../crypto/sender-keys.js";
import { initiateSession, sessionEncrypt } from "../../../crypto/session.js";
import { UsageError } from "../../../src/errors.js";
import { MAX_ENVELOPE_BYTES } from "../../../src/wire/limits.js";
import { decodeMsgpack, encodeMsgpack } from "../../../src/wire/msgpack.js";
import {
  APP_MESSAGE_KINDS,
  type AppMessage,
  AppMessageError,
  type AppMessageErrorReason,
  MAX_APP_MESSAGE_BYTES,
  MAX_TEXT_BODY_BYTES,
  decodeAppMessage,
  encodeAppMessage,
  parseAppMessage,
} from "../../../client/protocol/app-message.js";
import { bundleFor, makeParty } from "../../helpers/parties.js";

const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const DISTRIBUTION = distributionMessage(createSenderKey(seededRng(utf8("app-message test seed")), 5));

const SAMPLES: Record<(typeof APP_MESSAGE_KINDS)[number], AppMessage> = {
  text: { v: 1, k: "text", chat: 7, seq: 1, ts: 1_700_000_000_000, body: "hello\nworld\t✓ 👋" },
  sender_key: { v: 1, k: "sender_key", chat: 7, epoch: 3, distribution: DISTRIBUTION },
  group_state: {
    v: 1,
    k: "group_state",
    chat: 7,
    epoch: 2,
    name: "Ops — night shift",
    members: ["alice", "bob", "carol"],
    admins: ["alice"],
    by: "alice",
    ts: 1_700_000_000_001,
    signature: new Uint8Array(64).fill(9),
  },
  profile: { v: 1, k: "profile", display_name: "Alice Liddell" },
  device_list: {
    v: 1,
    k: "device_list",
    list: new Uint8Array(300).fill(1),
    names: [
      { id: 1, name: "Desktop" },
      { id: 3, name: "Laptop ✓" },
    ],
  },
};

/** The AppMessageError reason decodeAppMessage throws. */
function refusal(bytes: Uint8Array): AppMessageErrorReason {
  try {
    decodeAppMessage(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(AppMessageError);
    expect((e as AppMessageError).code).toBe("CODEC");
    return (e as AppMessageError).reason;
  }
  throw new Error("accepted");
}

/** A sample with some fields replaced (undefined deletes). */
function variant(kind: keyof typeof SAMPLES, changes: Record<string, unknown>): Uint8Array {
  const m: Record<string, unknown> = { ...SAMPLES[kind], ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete m[key];
  return encodeMsgpack(m);
}

describe("round trips", () => {
  test.each(APP_MESSAGE_KINDS)("%s", (kind) => {
    const bytes = encodeAppMessage(SAMPLES[kind]);
    expect(decodeAppMessage(bytes)).toEqual(SAMPLES[kind]);
    expect(encodeAppMessage(decodeAppMessage(bytes))).toEqual(bytes);
  });

  test("the encoding of the spec's examples (SECURITY.md §15.2.6)", () => {
    expect(toHex(encodeAppMessage({ v: 1, k: "profile", display_name: "Ann" }))).toBe(
      "83" + "a176" + "01" + "a16b" + "a770726f66696c65" + "ac646973706c61795f6e616d65" + "a3416e6e",
    );
    expect(toHex(encodeAppMessage({ v: 1, k: "text", chat: 7, seq: 1, ts: 1_700_000_000_000, body: "hi" }))).toBe(
      "86a17601a16ba474657874" + "a46368617407" + "a373657101" + "a27473d30000018bcfe56800" + "a4626f6479a26869",
    );
  });

  test("any integer width decodes: the encoding is not canonical", () => {
    // The same profile message with v as uint 8, uint 64 and float 64.
    for (const v of ["cc01", "cf0000000000000001", "cb3ff0000000000000"]) {
      const bytes = hex(`83a176${v}a16ba770726f66696c65ac646973706c61795f6e616d65a3416e6e`);
      expect(decodeAppMessage(bytes)).toEqual({ v: 1, k: "profile", display_name: "Ann" });
    }
  });

  test("integers up to 2^53 − 1 in chat and ts", () => {
    const m: AppMessage = {
      v: 1,
      k: "text",
      chat: Number.MAX_SAFE_INTEGER,
      seq: 0xffffffff,
      ts: Number.MAX_SAFE_INTEGER,
      body: "x",
    };
    expect(decodeAppMessage(encodeAppMessage(m))).toEqual(m);
  });

  test("the largest text message and the largest group state fit", () => {
    const text: AppMessage = {
      v: 1,
      k: "text",
      chat: Number.MAX_SAFE_INTEGER,
      seq: 0xffffffff,
      ts: Number.MAX_SAFE_INTEGER,
      body: "€".repeat(MAX_TEXT_BODY_BYTES / 3), // 3 UTF-8 bytes each
    };
    expect(Buffer.byteLength((text as { body: string }).body)).toBe(MAX_TEXT_BODY_BYTES);
    expect(decodeAppMessage(encodeAppMessage(text))).toEqual(text);

    const names = Array.from({ length: 256 }, (_, i) => `user${String(i).padStart(3, "0")}`.padEnd(32, "x")).sort();
    const state: AppMessage = {
      ...(SAMPLES.group_state as Extract<AppMessage, { k: "group_state" }>),
      chat: Number.MAX_SAFE_INTEGER,
      epoch: 0xffffffff,
      name: "é".repeat(128),
      members: names,
      admins: names,
      by: names[0]!,
      ts: Number.MAX_SAFE_INTEGER,
    };
    const bytes = encodeAppMessage(state);
    expect(bytes.length).toBeLessThan(MAX_APP_MESSAGE_BYTES);
    expect(decodeAppMessage(bytes)).toEqual(state);
  });
});

describe("MAX_APP_MESSAGE_BYTES fits in one envelope (SECURITY.md §15.1)", () => {
  const PREKEY_OVERHEAD = 1 + 128 + 32 + 4 + 1 + 4 + 41 + 16; // SECURITY.md §6.5, with a one-time prekey
  const GROUP_OVERHEAD = 9 + 16 + 64; // SECURITY.md §7.4

  test("by the numbers: the largest padded size that fits, and no larger", () => {
    expect(paddedLength(MAX_APP_MESSAGE_BYTES)).toBe(63_488);
    expect(paddedLength(MAX_APP_MESSAGE_BYTES) + PREKEY_OVERHEAD).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES);
    expect(paddedLength(MAX_APP_MESSAGE_BYTES + 1) + GROUP_OVERHEAD).toBeGreaterThan(MAX_ENVELOPE_BYTES);
    expect(MAX_PADDED_LENGTH).toBeGreaterThan(MAX_ENVELOPE_BYTES); // padding alone does not bound it
  });

  test("for real: a first 1:1 message and a sender-key message of that size", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const { session } = initiateSession(alice.rng, alice.identity, bundleFor(bob));
    const plaintext = new Uint8Array(MAX_APP_MESSAGE_BYTES).fill(0x61);
    const { envelope } = sessionEncrypt(session, alice.identity.publicKey, plaintext);
    expect(envelope.length).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES);

    const key = createSenderKey(seededRng(utf8("app-message max group")), 1);
    const { message } = senderEncrypt(key, { groupId: utf8("7"), senderId: "alice" }, pad(plaintext));
    expect(message.length).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES);
  });
});

describe("refusals", () => {
  test("too large, before parsing", () => {
    expect(refusal(new Uint8Array(MAX_APP_MESSAGE_BYTES + 1))).toBe("too_large");
  });

  test.each([
    ["empty input", new Uint8Array(0)],
    ["truncated", encodeAppMessage(SAMPLES.text).subarray(0, 10)],
    ["trailing bytes", new Uint8Array([...encodeAppMessage(SAMPLES.profile), 0xc0])],
    ["not a map", encodeMsgpack([1, "text"])],
    ["nil", hex("c0")],
    ["an extension type", hex("d40000")],
    ["nesting deeper than 3", encodeMsgpack({ v: 1, k: "profile", display_name: [[["x"]]] })],
  ])("not a message: %s", (_, bytes) => {
    expect(refusal(bytes)).toBe("malformed");
  });

  test.each([
    ["v = 2", { v: 2 }, "unsupported_version"],
    ["v = 0", { v: 0 }, "unsupported_version"],
    ["v = 2^40", { v: 2 ** 40 }, "unsupported_version"],
    ["v missing", { v: undefined }, "malformed"],
    ["v a string", { v: "1" }, "malformed"],
    ["v = 1.5", { v: 1.5 }, "malformed"],
    ["k unknown", { k: "chat_meta" }, "unknown_kind"],
    ["k = __proto__-like", { k: "constructor" }, "unknown_kind"],
    ["k missing", { k: undefined }, "malformed"],
    ["k not a string", { k: 1 }, "malformed"],
  ] as const)("%s", (_, changes, reason) => {
    expect(refusal(variant("profile", changes))).toBe(reason);
  });

  const TOO_LONG_BODY = "x".repeat(MAX_TEXT_BODY_BYTES + 1);
  test.each([
    ["text", "an unknown key", { extra: 1 }],
    ["text", "prev_hash (not part of v1)", { prev_hash: new Uint8Array(32) }],
    ["text", "chat missing", { chat: undefined }],
    ["text", "chat negative", { chat: -1 }],
    ["text", "chat beyond 2^53", { chat: 2n ** 53n }],
    ["text", "chat a float", { chat: 1.5 }],
    ["text", "seq 0", { seq: 0 }],
    ["text", "seq beyond u32", { seq: 2 ** 32 }],
    ["text", "ts a string", { ts: "now" }],
    ["text", "body empty", { body: "" }],
    ["text", "body too long", { body: TOO_LONG_BODY }],
    ["text", "body as bin", { body: utf8("hi") }],
    ["text", "body nil", { body: null }],
    ["sender_key", "distribution 72 bytes", { distribution: new Uint8Array(72) }],
    ["sender_key", "distribution 74 bytes", { distribution: new Uint8Array(74) }],
    ["sender_key", "distribution a string", { distribution: "x" }],
    ["sender_key", "epoch 0", { epoch: 0 }],
    ["group_state", "members unsorted", { members: ["bob", "alice", "carol"] }],
    ["group_state", "members duplicated", { members: ["alice", "alice", "bob"] }],
    ["group_state", "members empty", { members: [], admins: [] }],
    ["group_state", "an admin not a member", { admins: ["alice", "dave"] }],
    ["group_state", "admins empty", { admins: [] }],
    ["group_state", "admins unsorted", { admins: ["bob", "alice"] }],
    ["group_state", "a username in capitals", { members: ["Alice", "alice", "bob"] }],
    ["group_state", "a username too short", { members: ["al", "alice", "bob"] }],
    ["group_state", "by not a username", { by: "Alice!" }],
    [
      "group_state",
      "257 members",
      { members: Array.from({ length: 257 }, (_, i) => `u${String(i).padStart(3, "0")}`) },
    ],
    ["group_state", "name with an escape", { name: "\u001b[2J" }],
    ["group_state", "name with a bidi override", { name: "abc\u202edef" }],
    ["group_state", "name of 257 bytes", { name: "x".repeat(257) }],
    ["group_state", "signature 63 bytes", { signature: new Uint8Array(63) }],
    ["group_state", "epoch beyond u32", { epoch: 2 ** 32 }],
    ["profile", "display name of 65 bytes", { display_name: "x".repeat(65) }],
    ["profile", "display name with a newline", { display_name: "a\nb" }],
    ["profile", "an unknown key", { avatar: new Uint8Array(1) }],
    ["device_list", "list empty", { list: new Uint8Array(0) }],
    ["device_list", "list of 3 248 bytes", { list: new Uint8Array(3248) }],
    ["device_list", "list a string", { list: "x" }],
    ["device_list", "names missing", { names: undefined }],
    ["device_list", "17 names", { names: Array.from({ length: 17 }, (_, i) => ({ id: i + 1, name: "d" })) }],
    [
      "device_list",
      "names out of order",
      {
        names: [
          { id: 3, name: "a" },
          { id: 1, name: "b" },
        ],
      },
    ],
    [
      "device_list",
      "two names for one id",
      {
        names: [
          { id: 2, name: "a" },
          { id: 2, name: "b" },
        ],
      },
    ],
    ["device_list", "device id 0", { names: [{ id: 0, name: "a" }] }],
    ["device_list", "a name of 65 bytes", { names: [{ id: 1, name: "x".repeat(65) }] }],
    ["device_list", "a name with an escape", { names: [{ id: 1, name: "\u001b[2J" }] }],
    ["device_list", "a name entry with another key", { names: [{ id: 1, name: "a", ip: "10.0.0.1" }] }],
  ] as const)("%s: %s", (kind, _, changes) => {
    expect(refusal(variant(kind, changes))).toBe("malformed");
  });

  test("error messages name fields, never content", () => {
    try {
      decodeAppMessage(variant("group_state", { name: "secret\u001b" }));
      throw new Error("accepted");
    } catch (e) {
      expect((e as Error).message).toContain("group_state.name");
      expect((e as Error).message).not.toContain("secret");
    }
  });

  test("encoding refuses what decoding would refuse", () => {
    const bad: unknown[] = [
      { ...SAMPLES.text, seq: 0 },
      { ...SAMPLES.text, body: "a\ud800b" }, // a lone surrogate has no UTF-8 form
      { ...SAMPLES.group_state, members: ["bob", "alice"] },
      { ...SAMPLES.profile, extra: true },
      { v: 2, k: "profile", display_name: "x" },
      { v: 1, k: "chat_meta" },
    ];
    for (const m of bad) expect(() => encodeAppMessage(m as AppMessage)).toThrow(UsageError);
  });

  test("parseAppMessage takes decoded values and returns only the checked fields", () => {
    const decoded = decodeMsgpack(encodeAppMessage(SAMPLES.text));
    expect(parseAppMessage(decoded)).toEqual(SAMPLES.text);
    expect(() => parseAppMessage(null)).toThrow(AppMessageError);
    expect(() => parseAppMessage(new Uint8Array(3))).toThrow(AppMessageError);
  });
});

// ---------------------------------------------------------------------------------------------
// The reference validator: SECURITY.md §15.2 read independently, over decoded msgpack values.

const USERNAME = /^[a-z0-9][a-z0-9_.-]{2,31}$/;
const UNPRINTABLE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

function intIn(x: unknown, lo: number, hi: number): boolean {
  if (typeof x === "bigint") return x >= BigInt(lo) && x <= BigInt(hi);
  return typeof x === "number" && Number.isInteger(x) && x >= lo && x <= hi;
}
const bytesOf = (x: unknown, n: number) => x instanceof Uint8Array && x.length === n;
const label = (x: unknown, max: number) => typeof x === "string" && Buffer.byteLength(x) <= max && !UNPRINTABLE.test(x);
function deviceNames(x: unknown): boolean {
  if (!Array.isArray(x) || x.length > 16) return false;
  return x.every((e, i) => {
    if (typeof e !== "object" || e === null || Array.isArray(e) || e instanceof Uint8Array) return false;
    const n = e as Record<string, unknown>;
    const prev = i === 0 ? 0 : (x[i - 1] as { id: number }).id;
    return (
      Object.keys(n).sort().join() === "id,name" &&
      intIn(n.id, 1, 0xffffffff) &&
      Number(n.id) > prev &&
      label(n.name, 64)
    );
  });
}
function names(x: unknown): x is string[] {
  if (!Array.isArray(x) || x.length < 1 || x.length > 256) return false;
  return x.every((n, i) => typeof n === "string" && USERNAME.test(n) && (i === 0 || (x[i - 1] as string) < n));
}

const FIELDS: Record<string, string[]> = {
  text: ["chat", "seq", "ts", "body"],
  sender_key: ["chat", "epoch", "distribution"],
  group_state: ["chat", "epoch", "name", "members", "admins", "by", "ts", "signature"],
  profile: ["display_name"],
  device_list: ["list", "names"],
};

const U53 = Number.MAX_SAFE_INTEGER;
const U32 = 0xffffffff;

/** True when a decoded msgpack value is a valid application message. */
function referenceValid(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) return false;
  const m = value as Record<string, unknown>;
  if (!intIn(m.v, 1, 1) || typeof m.k !== "string" || !Object.hasOwn(FIELDS, m.k)) return false;
  const expectedKeys = ["v", "k", ...FIELDS[m.k]!].sort().join();
  if (Object.keys(m).sort().join() !== expectedKeys) return false;
  switch (m.k) {
    case "text":
      return (
        intIn(m.chat, 0, U53) &&
        intIn(m.seq, 1, U32) &&
        intIn(m.ts, 0, U53) &&
        typeof m.body === "string" &&
        Buffer.byteLength(m.body) >= 1 &&
        Buffer.byteLength(m.body) <= 61_440
      );
    case "sender_key":
      return intIn(m.chat, 0, U53) && intIn(m.epoch, 1, U32) && bytesOf(m.distribution, 73);
    case "group_state":
      return (
        intIn(m.chat, 0, U53) &&
        intIn(m.epoch, 1, U32) &&
        label(m.name, 256) &&
        names(m.members) &&
        names(m.admins) &&
        m.admins.every((a) => (m.members as string[]).includes(a)) &&
        typeof m.by === "string" &&
        USERNAME.test(m.by) &&
        intIn(m.ts, 0, U53) &&
        bytesOf(m.signature, 64)
      );
    case "profile":
      return label(m.display_name, 64);
    case "device_list":
      return m.list instanceof Uint8Array && m.list.length >= 1 && m.list.length <= 3247 && deviceNames(m.names);
  }
  return false;
}

/** A decoded value as the decoder returns it: bigints as numbers. */
function normalised(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(normalised);
  if (value instanceof Uint8Array) return value;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalised(v)]));
  }
  return value;
}

/** The decoder and the reference agree on `bytes`; the decoder throws only AppMessageError. */
function agrees(bytes: Uint8Array): void {
  let decoded: unknown;
  let error: unknown;
  try {
    decoded = decodeAppMessage(bytes);
  } catch (e) {
    error = e;
  }
  if (error !== undefined) {
    expect(error).toBeInstanceOf(AppMessageError);
    let generic: unknown;
    try {
      generic = decodeMsgpack(bytes, { maxDepth: 3, maxElements: 1024 });
    } catch {
      return; // not msgpack of the profile: refused, as it must be
    }
    expect(bytes.length > MAX_APP_MESSAGE_BYTES || !referenceValid(generic)).toBe(true);
    return;
  }
  const generic = decodeMsgpack(bytes);
  expect(referenceValid(generic)).toBe(true);
  expect(decoded).toEqual(normalised(generic));
  // What decodes re-encodes, and means the same.
  expect(decodeAppMessage(encodeAppMessage(decoded as AppMessage))).toEqual(decoded);
}

// ---------------------------------------------------------------------------------------------
// Generators: mostly near-valid messages, so that both sides of every rule are exercised.

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0, 1, 2, 0xffffffff, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, 0.5, -0, 1e300),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 8 }),
  fc.constantFrom("", "alice", "Bob", "\u001b[31m", "a\u202eb", "x".repeat(70), "text", "profile"),
  fc.uint8Array({ maxLength: 80 }),
  fc.constantFrom(new Uint8Array(64), new Uint8Array(73)),
  fc.array(fc.oneof(fc.constantFrom("alice", "bob", "carol", "dave"), fc.string({ maxLength: 4 })), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);

const username = fc.constantFrom("alice", "bob", "carol", "dave", "eve.x", "z-9_k");
const sortedNames = fc.uniqueArray(username, { minLength: 0, maxLength: 5 }).map((a) => a.sort());
const validish: Record<string, fc.Arbitrary<unknown>> = {
  chat: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.bigInt({ min: 0n, max: 2n ** 54n })),
  seq: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) }, fc.constantFrom(0, 0xffffffff, 2 ** 32)),
  ts: fc.nat(),
  body: fc.oneof(fc.string({ minLength: 0, maxLength: 20, unit: "grapheme" }), fc.constant("line\r\n\t\u001b[0m")),
  epoch: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, fc.constantFrom(0, 2 ** 32)),
  distribution: fc.oneof(fc.constant(DISTRIBUTION), fc.uint8Array({ minLength: 72, maxLength: 74 })),
  name: fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 10 }) },
    fc.string({ maxLength: 10, unit: "grapheme" }),
    fc.constantFrom("a\u0007b", "x".repeat(257)),
  ),
  // Usually containing alice, so that the usual admins (alice) are members.
  members: fc.oneof(
    { weight: 4, arbitrary: sortedNames.map((a) => [...new Set(["alice", ...a])].sort()) },
    { weight: 1, arbitrary: sortedNames },
  ),
  admins: fc.oneof({ weight: 4, arbitrary: fc.constant(["alice"]) }, { weight: 1, arbitrary: sortedNames }),
  by: username,
  signature: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 64, maxLength: 64 }) },
    fc.uint8Array({ minLength: 63, maxLength: 65 }),
  ),
  display_name: fc.oneof(fc.string({ maxLength: 70, unit: "grapheme" }), fc.constant("tab\there")),
  list: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
    fc.constant(new Uint8Array(0)),
  ),
  names: fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ id: fc.integer({ min: 0, max: 6 }), name: fc.string({ maxLength: 6 }) }) },
      { weight: 1, arbitrary: fc.record({ id: fc.nat(), name: fc.string(), x: fc.nat() }) },
    ),
    { maxLength: 4 },
  ),
};
const ALL_FIELDS = Object.keys(validish);

/** A map with v and k mostly right and each known field present, absent, valid-ish or junk. */
const candidate: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    v: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: junk }),
    k: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...APP_MESSAGE_KINDS) }, { weight: 1, arbitrary: junk }),
    fields: fc.tuple(
      ...ALL_FIELDS.map((f) => fc.oneof({ weight: 12, arbitrary: validish[f]! }, { weight: 1, arbitrary: junk })),
    ),
    presence: fc.array(fc.integer({ min: 0, max: 99 }), { minLength: ALL_FIELDS.length, maxLength: ALL_FIELDS.length }),
    extra: fc.oneof(
      { weight: 8, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom("extra", "prev_hash", "V", ""), junk) },
    ),
  })
  .map(({ v, k, fields, presence, extra }) => {
    // Own keys only: a junk k such as "constructor" must not find Object.prototype's members.
    const own: readonly string[] = typeof k === "string" && Object.hasOwn(FIELDS, k) ? (FIELDS[k] ?? []) : [];
    const m: Record<string, unknown> = { v, k };
    ALL_FIELDS.forEach((f, i) => {
      // A field of the kind is usually present; another kind's field rarely.
      if ((presence[i] as number) < (own.includes(f) ? 95 : 2)) m[f] = fields[i];
    });
    if (extra !== null) m[extra[0]] = extra[1];
    return m;
  });

describe("properties", () => {
  test("near-valid maps: the decoder accepts exactly what the reference accepts", () => {
    const accepted = new Map<unknown, number>();
    fc.assert(
      fc.property(candidate, (m) => {
        const bytes = encodeMsgpack(m);
        agrees(bytes);
        const generic = decodeMsgpack(bytes) as Record<string, unknown>;
        if (referenceValid(generic)) accepted.set(generic.k, (accepted.get(generic.k) ?? 0) + 1);
      }),
      // A fixed seed: the reach check below counts what the generator drew, which with a fresh seed
      // fell short now and then (18 device_list messages of 3000, under a bar of 20).
      { numRuns: 3000, seed: 20261203 },
    );
    // The generator does reach valid messages of every kind, so both sides of each rule run.
    for (const k of APP_MESSAGE_KINDS) expect(accepted.get(k) ?? 0).toBeGreaterThan(20);
  });

  test("arbitrary msgpack values never decode to something invalid", () => {
    const value = fc.letrec((tie) => ({
      any: fc.oneof({ depthSize: "small" }, junk, tie("arr"), tie("map")),
      arr: fc.array(tie("any"), { maxLength: 4 }),
      map: fc.dictionary(fc.oneof(fc.constantFrom("v", "k", ...ALL_FIELDS), fc.string({ maxLength: 3 })), tie("any"), {
        maxKeys: 6,
      }),
    })).any;
    fc.assert(
      fc.property(value, (v) => {
        agrees(encodeMsgpack(v));
      }),
      { numRuns: 2000 },
    );
  });

  test("arbitrary bytes, and valid encodings with bytes changed, never crash the decoder", () => {
    const encodings = APP_MESSAGE_KINDS.map((k) => encodeAppMessage(SAMPLES[k]));
    const mutated = fc
      .record({
        base: fc.constantFrom(...encodings),
        edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        cut: fc.option(fc.nat()),
      })
      .map(({ base, edits, cut }) => {
        const b = base.slice();
        for (const [at, byte] of edits) b[at % b.length] = byte;
        return cut === null ? b : b.subarray(0, cut % (b.length + 1));
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated), (bytes) => {
        agrees(bytes);
      }),
      { numRuns: 5000 },
    );
  });
});
