/**
 * The v1 message catalogue (SECURITY.md §14.6) and its codec: every message round-trips, every
 * field is checked (type, presence, size) with its path in the refusal, and no input at all
 * makes a decoder do anything but return a valid message or throw ProtocolError.
 */
import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, expectTypeOf, test } from "vitest";
import { IDENTITY_PUBLIC_BYTES } from "../../crypto/identity.js";
import {
  ERROR_CODES,
  InternalError,
  ProtocolError,
  RemoteError,
  SmsgError,
  UsageError,
  isErrorCode,
  type ProtocolErrorCode,
} from "../../src/errors.js";
import {
  CLIENT_MESSAGES,
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  IDENTITY_PUBLIC_WIRE_BYTES,
  MAX_CHATS_PER_PAGE,
  MAX_ENVELOPE_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_PREKEYS_PER_UPLOAD,
  MAX_SYNC_HAVE,
  RELAY_MESSAGES,
  REPLY_TYPES,
  type ClientMessage,
  type ClientMessageOf,
  type RelayMessage,
  type RelayMessageOf,
  type ReplyTo,
  decodeClientMessage,
  decodeRelayMessage,
  encodeMessage,
  encodeMessageFrame,
  encodeMsgpack,
  errorMessageFor,
  remoteErrorOf,
} from "../../src/wire/index.js";
import { CLIENT_SAMPLES, OPTIONAL_FIELDS, RELAY_SAMPLES, bytes } from "./samples.js";

type Decode = (frame: Uint8Array) => ClientMessage | RelayMessage;
const SIDES: readonly [string, readonly (ClientMessage | RelayMessage)[], Decode][] = [
  ["client → relay", CLIENT_SAMPLES, decodeClientMessage],
  ["relay → client", RELAY_SAMPLES, decodeRelayMessage],
];

/** The ProtocolError a decode throws. */
function refusal(decode: Decode, value: unknown): ProtocolError {
  try {
    decode(encodeMsgpack(value));
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error(`accepted ${JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`);
}

/** A deep copy of a message as plain data, so tests can break it. */
function raw(msg: ClientMessage | RelayMessage): Record<string, unknown> {
  return structuredClone(msg) as unknown as Record<string, unknown>;
}

/** Every field path in a value: [path, parent, key] (arrays give "[i]"). */
function fieldPaths(
  root: Record<string, unknown>,
  prefix: string,
): [string, Record<string, unknown> | unknown[], string | number][] {
  const out: [string, Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        out.push([`${path}[${i}]`, node, i]);
        walk(v, `${path}[${i}]`);
      });
    } else if (node !== null && typeof node === "object" && !(node instanceof Uint8Array)) {
      for (const [k, v] of Object.entries(node)) {
        if (path === prefix && k === "t") continue;
        out.push([`${path}.${k}`, node as Record<string, unknown>, k]);
        walk(v, `${path}.${k}`);
      }
    }
  };
  walk(root, prefix);
  return out;
}

/** A value of another type than `v`. */
function wrongType(v: unknown): unknown {
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "string") return 5;
  if (typeof v === "number") return "5";
  if (typeof v === "boolean") return 1;
  if (Array.isArray(v)) return { a: 1 };
  return [1];
}

const PROTOCOL_CODES: readonly ProtocolErrorCode[] = [
  "BAD_FRAME",
  "FRAME_TOO_LARGE",
  "BAD_MESSAGE",
  "UNKNOWN_TYPE",
  "UNSUPPORTED_VERSION",
];

/** The decoder contract: a valid message (which re-encodes to itself) or a ProtocolError. */
function holdsContract(decode: Decode, frame: Uint8Array): "accepted" | "refused" {
  let msg: ClientMessage | RelayMessage;
  try {
    msg = decode(frame);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    expect(PROTOCOL_CODES).toContain(e.code);
    return "refused";
  }
  expect(decode(encodeMessage(msg))).toEqual(msg);
  return "accepted";
}

describe("the catalogue", () => {
  test("the samples cover every message type and every optional field", () => {
    expect(new Set(CLIENT_SAMPLES.map((m) => m.t))).toEqual(new Set(Object.keys(CLIENT_MESSAGES)));
    expect(new Set(RELAY_SAMPLES.map((m) => m.t))).toEqual(new Set(Object.keys(RELAY_MESSAGES)));
    const present = new Set(
      [...CLIENT_SAMPLES, ...RELAY_SAMPLES].flatMap((m) =>
        fieldPaths(raw(m), m.t).map(([p]) => p.replace(/\[\d+\]/g, "[0]")),
      ),
    );
    for (const field of OPTIONAL_FIELDS) expect(present).toContain(field);
  });

  test("REPLY_TYPES names a reply for exactly the requests (the client messages with an id)", () => {
    const requests = Object.entries(CLIENT_MESSAGES)
      .filter(([, schema]) => "id" in schema.shape)
      .map(([t]) => t);
    expect(Object.keys(REPLY_TYPES).sort()).toEqual(requests.sort());
    for (const reply of Object.values(REPLY_TYPES)) expect(Object.keys(RELAY_MESSAGES)).toContain(reply);
  });

  test("identity keys have the length crypto/ encodes", () => {
    expect(IDENTITY_PUBLIC_WIRE_BYTES).toBe(IDENTITY_PUBLIC_BYTES);
  });

  test("types are derived from the schemas", () => {
    expectTypeOf<ClientMessageOf<"send">>().toEqualTypeOf<{
      t: "send";
      id: number;
      chat: number;
      idem: Uint8Array;
      envelope: Uint8Array;
      to?: string;
    }>();
    expectTypeOf<ReplyTo<"send">>().toEqualTypeOf<RelayMessageOf<"sent">>();
    expectTypeOf<ReplyTo<"create_group">["chat"]["members"][number]["role"]>().toEqualTypeOf<"admin" | "member">();
    expectTypeOf<RelayMessageOf<"error">["code"]>().toEqualTypeOf<keyof typeof ERROR_CODES>();
    expectTypeOf<RelayMessageOf<"welcome">["v"]>().toEqualTypeOf<number>();
    const handle = (m: ClientMessage): number => {
      switch (m.t) {
        case "send":
          return m.envelope.length;
        case "ack":
          return m.upto;
        default:
          return 0;
      }
    };
    expect(handle({ t: "ack", chat: 1, upto: 2 })).toBe(2);
  });
});

describe.each(SIDES)("%s", (_, samples, decode) => {
  test("every sample round-trips, and encoding is deterministic", () => {
    for (const msg of samples) {
      const frame = encodeMessage(msg);
      const decoded = decode(frame);
      expect(decoded).toEqual(msg);
      expect(encodeMessage(decoded)).toEqual(frame);
    }
  });

  test("every frame of a stream cut at random decodes to its sample", () => {
    const frames = samples.map((m) => encodeMessageFrame(m));
    const stream = Buffer.concat(frames);
    // The frames' payloads, which the test above shows decode to their samples and re-encode
    // to the same bytes: compared as bytes here, since a deep comparison of every decoded sample
    // (64 KiB byte strings among them) on every run is what made this test slow on a busy machine.
    const payloads = samples.map((m) => Buffer.from(encodeMessage(m)));
    fc.assert(
      fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 40 }), (cuts) => {
        const decoder = new FrameDecoder();
        const got: Buffer[] = [];
        let start = 0;
        for (const cut of [...cuts.sort((a, b) => a - b), stream.length]) {
          for (const frame of decoder.push(stream.subarray(start, cut))) got.push(Buffer.from(frame));
          start = cut;
        }
        expect(got.length).toBe(payloads.length);
        got.forEach((frame, i) => expect(frame.equals(payloads[i]!), `frame ${i} (${samples[i]!.t})`).toBe(true));
        expect(decode(got.at(-1)!)).toEqual(samples.at(-1));
      }),
      { numRuns: 50 },
    );
  });

  test("leaving out any field is refused with its path, unless it is optional", () => {
    for (const msg of samples) {
      for (const [path, parent, key] of fieldPaths(raw(msg), msg.t)) {
        if (Array.isArray(parent)) continue;
        const broken = raw(msg);
        const [, brokenParent] = fieldPaths(broken, msg.t).find(([p]) => p === path)!;
        delete (brokenParent as Record<string, unknown>)[key];
        if (OPTIONAL_FIELDS.has(path.replace(/\[\d+\]/g, "[0]"))) {
          expect(() => decode(encodeMsgpack(broken))).not.toThrow();
        } else {
          const e = refusal(decode, broken);
          expect(e.code).toBe("BAD_MESSAGE");
          expect(e.message).toMatch(new RegExp(`^${escape(path)}: missing \\(expected .+\\)$`));
        }
      }
    }
  });

  test("a field of the wrong type is refused with its path", () => {
    for (const msg of samples) {
      for (const [path, parent, key] of fieldPaths(raw(msg), msg.t)) {
        const broken = raw(msg);
        const [, brokenParent] = fieldPaths(broken, msg.t).find(([p]) => p === path)!;
        (brokenParent as Record<string | number, unknown>)[key] = wrongType(
          (parent as Record<string | number, unknown>)[key],
        );
        const e = refusal(decode, broken);
        expect(e.code).toBe("BAD_MESSAGE");
        expect(e.message.startsWith(`${path}: expected `)).toBe(true);
      }
    }
  });

  test("an unknown field, at the top or nested, is refused with its path", () => {
    for (const msg of samples) {
      const top = raw(msg);
      top["zz"] = 1;
      expect(refusal(decode, top).message).toBe(`${msg.t}: unknown field "zz"`);
      for (const [path, parent, key] of fieldPaths(raw(msg), msg.t)) {
        const node = (parent as Record<string | number, unknown>)[key];
        if (node === null || typeof node !== "object" || node instanceof Uint8Array || Array.isArray(node)) continue;
        const broken = raw(msg);
        const [, brokenParent] = fieldPaths(broken, msg.t).find(([p]) => p === path)!;
        ((brokenParent as Record<string | number, unknown>)[key] as Record<string, unknown>)["zz"] = 1;
        expect(refusal(decode, broken).message).toBe(`${path}: unknown field "zz"`);
      }
    }
  });

  test("nil is not an absent optional field", () => {
    for (const msg of samples) {
      for (const [path, parent, key] of fieldPaths(raw(msg), msg.t)) {
        if (!OPTIONAL_FIELDS.has(path.replace(/\[\d+\]/g, "[0]"))) continue;
        const broken = raw(msg);
        const [, brokenParent] = fieldPaths(broken, msg.t).find(([p]) => p === path)!;
        (brokenParent as Record<string | number, unknown>)[key] = null;
        expect(refusal(decode, broken).message).toMatch(new RegExp(`^${escape(path)}: expected .*, got nil$`));
        void parent;
      }
    }
  });

  test("a message is a map with a string t", () => {
    for (const value of [[1], "hello", 5, null, new Uint8Array(3), true]) {
      const e = refusal(decode, value);
      expect(e.code).toBe("BAD_MESSAGE");
      expect(e.message).toMatch(/^message: expected a map, got /);
    }
    expect(refusal(decode, { id: 3 }).message).toBe("message.t: missing (expected a message type)");
    expect(refusal(decode, { id: 3 }).requestId).toBe(3);
    expect(refusal(decode, { t: 1 }).message).toMatch(/^message\.t: expected a message type string/);
  });

  test("an unknown t is UNKNOWN_TYPE, naming the request when it has an id", () => {
    const e = refusal(decode, { t: "nope", id: 5, x: 1 });
    expect(e.code).toBe("UNKNOWN_TYPE");
    expect(e.message).toBe('unknown message type "nope"');
    expect(e.requestId).toBe(5);
    for (const t of ["__proto__", "constructor", "toString", "hasOwnProperty", "", "\u001b[2J", "x".repeat(1000)]) {
      const inherited = refusal(decode, { t });
      expect(inherited.code).toBe("UNKNOWN_TYPE");
      expect(inherited.requestId).toBeUndefined();
      expect(inherited.message).not.toContain("\u001b");
      expect(inherited.message.length).toBeLessThan(64);
    }
  });

  test("a BAD_MESSAGE names the request's id when it is a valid u32", () => {
    const msg = samples.find((m) => "id" in m && m.id !== undefined)!;
    const broken = { ...raw(msg), zz: 1 };
    expect(refusal(decode, broken).requestId).toBe((msg as { id: number }).id);
    expect(refusal(decode, { ...broken, id: -1 }).requestId).toBeUndefined();
    expect(refusal(decode, { ...broken, id: 2 ** 32 }).requestId).toBeUndefined();
  });

  test("random maps built from the catalogue's names only ever decode or throw ProtocolError", () => {
    const names = [
      ...new Set(samples.flatMap((m) => fieldPaths(raw(m), m.t).map(([p]) => p.split(/[.[]/).pop()!))),
    ].filter((n) => !n.endsWith("]"));
    const leaf = fc.oneof(
      fc.constantFrom(...samples.map((m) => m.t)),
      fc.constantFrom("alice", "Bob", "a", "admin", "member", "direct", "group", "added", "CHAT_CLOSED"),
      fc.integer({ min: -2, max: 2 ** 32 + 1 }),
      fc.constantFrom(0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER, 0.5),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(0, 1, 16, 32, 64, 128, 1000).map((n) => bytes(n)),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom(...names), tie("v"), { maxKeys: 4 }),
      ),
    })).v;
    const message = fc.record({
      t: fc.constantFrom(...samples.map((m) => m.t), "nope"),
      rest: fc.dictionary(fc.constantFrom(...names, "zz"), value, { maxKeys: 8 }),
    });
    const outcomes = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(message, ({ t, rest }) => {
        outcomes[holdsContract(decode, encodeMsgpack({ ...rest, t }))]++;
      }),
      { numRuns: 3000 },
    );
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  test("any field of a valid message replaced by anything: a valid message or ProtocolError", () => {
    const broken = fc
      .record({ i: fc.nat(), j: fc.nat(), value: fc.anything({ withBigInt: true, maxDepth: 3 }) })
      .map(({ i, j, value }) => {
        const msg = raw(samples[i % samples.length]!);
        const paths = fieldPaths(msg, "");
        const [, parent, key] = paths[j % paths.length]!;
        (parent as Record<string | number, unknown>)[key] = value;
        return msg;
      });
    fc.assert(
      fc.property(broken, (msg) => {
        let frame: Uint8Array;
        try {
          frame = encodeMsgpack(msg);
        } catch {
          return; // not encodable as plain msgpack (undefined, -0 keys...): nothing to decode
        }
        holdsContract(decode, frame);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("arbitrary input", () => {
  const rawPackr = new Packr({ useRecords: false, mapsAsObjects: true });
  const recordsPackr = new Packr(); // msgpackr's defaults: records and extensions

  test("decodeClientMessage on any value msgpackr or encodeMsgpack can write: valid or ProtocolError", () => {
    const anything = fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withNullPrototype: true,
      withSparseArray: true,
      withBoxedValues: true,
    });
    const frames = fc.oneof(
      ...[rawPackr, recordsPackr].map((p) =>
        anything.map((v) => {
          try {
            return new Uint8Array(p.pack(v));
          } catch {
            return undefined;
          }
        }),
      ),
      anything.map((v) => {
        try {
          return encodeMsgpack(v);
        } catch {
          return undefined;
        }
      }),
    );
    fc.assert(
      fc.property(frames, (frame) => {
        if (frame === undefined || frame.length === 0) return;
        holdsContract(decodeClientMessage, frame);
        holdsContract(decodeRelayMessage, frame);
      }),
      { numRuns: 3000 },
    );
  });

  test("decodeClientMessage on arbitrary bytes: valid or ProtocolError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (frame) => {
        holdsContract(decodeClientMessage, frame);
        holdsContract(decodeRelayMessage, frame);
      }),
      { numRuns: 5000 },
    );
  });

  test("arbitrary bytes after a valid message's prefix: valid or ProtocolError", () => {
    const frames = CLIENT_SAMPLES.map((m) => encodeMessage(m));
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 40 }), (i, cut, tail) => {
        const frame = frames[i % frames.length]!;
        const mixed = new Uint8Array([...frame.subarray(0, cut % frame.length), ...tail]);
        if (mixed.length > 0) holdsContract(decodeClientMessage, mixed);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("specific rules", () => {
  const client = (msg: Record<string, unknown>) => refusal(decodeClientMessage, msg);
  const relay = (msg: Record<string, unknown>) => refusal(decodeRelayMessage, msg);
  const send = { t: "send", id: 1, chat: 1, idem: bytes(16), envelope: bytes(10) };
  const spk = { key_id: 1, public_key: bytes(32), signature: bytes(64) };
  const opks = (n: number) => Array.from({ length: n }, (_, i) => ({ key_id: i, public_key: bytes(32) }));
  const join = {
    t: "join",
    id: 1,
    invite: bytes(32),
    username: "alice",
    credential: bytes(32),
    identity: bytes(128),
    signed_prekey: spk,
    one_time_prekeys: [],
    signature: bytes(64),
  };
  const name = (n: number) => "u".repeat(n);

  test("oversized and undersized bins, strings and arrays are refused with their path", () => {
    const cases: [ProtocolError, string][] = [
      [
        client({ ...send, envelope: bytes(MAX_ENVELOPE_BYTES + 1) }),
        "send.envelope: expected bytes of 1..65536, got 65537 bytes",
      ],
      [client({ ...send, envelope: bytes(0) }), "send.envelope: expected bytes of 1..65536, got 0 bytes"],
      [client({ ...send, idem: bytes(15) }), "send.idem: expected 16 bytes, got 15 bytes"],
      [client({ ...join, identity: bytes(127) }), "join.identity: expected 128 bytes, got 127 bytes"],
      [
        client({ ...join, signed_prekey: { ...spk, public_key: bytes(33) } }),
        "join.signed_prekey.public_key: expected 32 bytes, got 33 bytes",
      ],
      [
        client({ ...join, one_time_prekeys: opks(MAX_PREKEYS_PER_UPLOAD + 1) }),
        "join.one_time_prekeys: expected an array of at most 200 items, got an array of 201",
      ],
      [
        client({ t: "upload_prekeys", id: 1, one_time_prekeys: opks(201) }),
        "upload_prekeys.one_time_prekeys: expected an array of at most 200 items, got an array of 201",
      ],
      [
        client({ ...join, one_time_prekeys: [...opks(3), { key_id: 3, public_key: bytes(31) }] }),
        "join.one_time_prekeys[3].public_key: expected 32 bytes, got 31 bytes",
      ],
      [
        client({ t: "create_group", id: 1, members: Array.from({ length: MAX_GROUP_MEMBERS }, (_, i) => `user${i}`) }),
        "create_group.members: expected an array of at most 255 items, got an array of 256",
      ],
      [
        client({ t: "create_group", id: 1, members: ["bob", "x"] }),
        "create_group.members[1]: expected a username: 3 to 32 of a-z, 0-9, '_', '.', '-', starting with a letter or digit",
      ],
      [
        client({ t: "hello", v: 1, client: name(65) }),
        "hello.client: expected a string of 1..64 bytes, got a string of 65 bytes",
      ],
      [client({ t: "sync", id: 1, limit: 1001 }), "sync.limit: expected a u32 in 1..1000, got an integer out of range"],
      // Held messages (SECURITY.md §14.7): at most MAX_SYNC_HAVE pairs, each exactly [chat, msg].
      [
        client({ t: "sync", id: 1, have: Array.from({ length: MAX_SYNC_HAVE + 1 }, (_, i) => [1, i]) }),
        "sync.have: expected an array of 1..1000 items, got an array of 1001",
      ],
      [client({ t: "sync", id: 1, have: [] }), "sync.have: expected an array of 1..1000 items, got an array of 0"],
      [
        client({ t: "sync", id: 1, have: [[1, 2, 3]] }),
        "sync.have[0]: expected an array of 2 items, got an array of 3",
      ],
      [client({ t: "sync", id: 1, have: [[1]] }), "sync.have[0]: expected an array of 2 items, got an array of 1"],
      [
        client({ t: "sync", id: 1, have: [{ chat: 1, msg: 2 }] }),
        "sync.have[0]: expected an array of 2 items, got a map",
      ],
      [
        client({
          t: "sync",
          id: 1,
          have: [
            [1, 2],
            [1, -1],
          ],
        }),
        "sync.have[1][1]: expected a uint53, got an integer out of range",
      ],
      [client({ t: "sync", id: 1, have: [[1.5, 2]] }), "sync.have[0][0]: expected a uint53, got a non-integer number"],
      [
        client({ t: "history", id: 1, chat: 1, limit: 0 }),
        "history.limit: expected a u32 in 1..1000, got an integer out of range",
      ],
      [client({ t: "ack", chat: 2 ** 53, upto: 1 }), "ack.chat: expected a uint53, got an integer out of range"],
      [
        relay({
          t: "chats",
          id: 1,
          chats: Array.from({ length: MAX_CHATS_PER_PAGE + 1 }, (_, i) => ({
            id: i,
            kind: "group",
            closed: false,
            role: "member",
            member_count: 2,
          })),
          more: false,
        }),
        "chats.chats: expected an array of at most 500 items, got an array of 501",
      ],
      [
        relay({ t: "members", id: 1, chat: 1, members: [] }),
        "members.members: expected an array of 1..256 items, got an array of 0",
      ],
      [
        relay({ t: "error", code: "INTERNAL", message: name(MAX_ERROR_MESSAGE_BYTES + 1) }),
        "error.message: expected a string of at most 1024 bytes, got a string of 1025 bytes",
      ],
      [
        relay({ t: "error", code: "NOPE", message: "" }),
        `error.code: expected one of ${Object.keys(ERROR_CODES)
          .map((c) => `"${c}"`)
          .join(", ")}`,
      ],
      [
        relay({ t: "error", code: "INTERNAL", message: "\u001b]0;pwned\u0007" }),
        "error.message: expected a string without control characters",
      ],
      [
        relay({ t: "welcome", v: 1, relay: "" }),
        "welcome.relay: expected a string of 1..64 bytes, got a string of 0 bytes",
      ],
      [
        relay({ t: "chat_event", chat: 1, event: "exploded", by: "bob" }),
        'chat_event.event: expected one of "added", "removed", "left", "closed", "reopened"',
      ],
    ];
    for (const [error, message] of cases) {
      expect(error.code).toBe("BAD_MESSAGE");
      expect(error.message).toBe(message);
    }
  });

  test("usernames are decoded in canonical form; invalid ones refused with their path", () => {
    const login = { t: "login", id: 1, username: "Alice.SMITH", credential: bytes(32), signature: bytes(64) };
    expect(decodeClientMessage(encodeMsgpack(login))).toMatchObject({ username: "alice.smith" });
    expect(client({ ...login, username: "al" }).message).toMatch(/^login\.username: expected a username/);
    expect(client({ ...login, username: "\u212Aate" }).message).toMatch(/^login\.username: expected a username/);
    expect(client({ ...login, username: name(33) }).message).toMatch(/^login\.username: expected a username/);
  });

  test("hello and welcome for another version are UNSUPPORTED_VERSION, whatever else they hold", () => {
    for (const v of [0, 3, 2 ** 40, 2 ** 64]) {
      const e = client({ t: "hello", v, client: "x", future_field: true });
      expect(e.code).toBe("UNSUPPORTED_VERSION");
      expect(e.message).toContain("this side speaks 1 to 2");
      expect(relay({ t: "welcome", v, relay: "r" }).code).toBe("UNSUPPORTED_VERSION");
    }
    for (const v of [1, 2]) {
      expect(decodeClientMessage(encodeMsgpack({ t: "hello", v, client: "x" }))).toEqual({
        t: "hello",
        v,
        client: "x",
      });
      expect(decodeRelayMessage(encodeMsgpack({ t: "welcome", v, relay: "r" }))).toEqual({
        t: "welcome",
        v,
        relay: "r",
      });
    }
    expect(client({ t: "hello", v: "1", client: "x" }).message).toBe(
      "hello.v: expected a u32 in 1..2, got a string of 1 bytes",
    );
    expect(client({ t: "hello", client: "x" }).message).toBe("hello.v: missing (expected a u32 in 1..2)");
  });

  test("a type of the other direction is UNKNOWN_TYPE", () => {
    expect(client({ t: "welcome", v: 1, relay: "r" }).code).toBe("UNKNOWN_TYPE");
    expect(relay({ ...send }).code).toBe("UNKNOWN_TYPE");
    expect(relay({ ...send }).requestId).toBe(1);
  });

  test("the largest message of each kind fits a default frame and the msgpack limits", () => {
    const longName = (i: number) => `${i}`.padEnd(32, "x");
    const big: (ClientMessage | RelayMessage)[] = [
      {
        t: "send",
        id: 0xffffffff,
        chat: Number.MAX_SAFE_INTEGER,
        idem: bytes(16),
        envelope: bytes(MAX_ENVELOPE_BYTES),
        to: longName(1),
      },
      {
        t: "msg",
        chat: Number.MAX_SAFE_INTEGER,
        msg: Number.MAX_SAFE_INTEGER,
        from: longName(1),
        ts: Number.MAX_SAFE_INTEGER,
        envelope: bytes(MAX_ENVELOPE_BYTES),
        to: longName(2),
      },
      {
        t: "join",
        id: 0xffffffff,
        invite: bytes(32),
        username: longName(0),
        credential: bytes(32),
        identity: bytes(128),
        signed_prekey: { key_id: 0xffffffff, public_key: bytes(32), signature: bytes(64) },
        one_time_prekeys: Array.from({ length: MAX_PREKEYS_PER_UPLOAD }, () => ({
          key_id: 0xffffffff,
          public_key: bytes(32),
        })),
        signature: bytes(64),
      },
      { t: "create_group", id: 1, members: Array.from({ length: MAX_GROUP_MEMBERS - 1 }, (_, i) => longName(i)) },
      {
        t: "chats",
        id: 0xffffffff,
        more: true,
        chats: Array.from({ length: MAX_CHATS_PER_PAGE }, (_, i) => ({
          id: Number.MAX_SAFE_INTEGER - i,
          kind: "direct" as const,
          closed: false,
          role: "member" as const,
          member_count: MAX_GROUP_MEMBERS,
          peer: longName(i),
        })),
      },
      {
        t: "members",
        id: 1,
        chat: Number.MAX_SAFE_INTEGER,
        members: Array.from({ length: MAX_GROUP_MEMBERS }, (_, i) => ({
          username: longName(i),
          role: "member" as const,
        })),
      },
      {
        t: "chat",
        id: 1,
        chat: {
          id: 1,
          kind: "group",
          closed: false,
          members: Array.from({ length: MAX_GROUP_MEMBERS }, (_, i) => ({
            username: longName(i),
            role: "admin" as const,
          })),
        },
      },
      { t: "error", id: 1, code: "IDEMPOTENCY_CONFLICT", message: "é".repeat(MAX_ERROR_MESSAGE_BYTES / 2) },
      {
        t: "sync",
        id: 0xffffffff,
        limit: 1000,
        count: true,
        have: Array.from({ length: MAX_SYNC_HAVE }, (_, i) => [Number.MAX_SAFE_INTEGER - i, Number.MAX_SAFE_INTEGER]),
      },
    ];
    for (const msg of big) {
      const frame = encodeMessageFrame(msg); // throws when over DEFAULT_MAX_FRAME_BYTES
      expect(frame.length).toBeLessThanOrEqual(DEFAULT_MAX_FRAME_BYTES + 4);
      const [payload] = new FrameDecoder().push(frame);
      const decode = msg.t in CLIENT_MESSAGES ? decodeClientMessage : decodeRelayMessage;
      expect(decode(payload!)).toEqual(msg);
    }
  });
});

describe("encodeMessage", () => {
  test("refuses a message its peer would refuse, as UsageError", () => {
    const bad = {
      t: "send",
      id: 1,
      chat: 1,
      idem: bytes(16),
      envelope: bytes(MAX_ENVELOPE_BYTES + 1),
    } as ClientMessage;
    expect(() => encodeMessage(bad)).toThrow(
      new UsageError("cannot encode send.envelope: expected bytes of 1..65536, got 65537 bytes"),
    );
    expect(() => encodeMessage({ t: "nope" } as unknown as ClientMessage)).toThrow(UsageError);
    expect(() => encodeMessage({ t: "ping", n: 1, extra: 2 } as unknown as ClientMessage)).toThrow(UsageError);
    expect(() => encodeMessage(null as unknown as ClientMessage)).toThrow(TypeError);
  });

  test("writes usernames in canonical form and leaves absent optional fields out", () => {
    const frame = encodeMessage({ t: "open_direct", id: 1, username: "BoB" });
    expect(decodeClientMessage(frame)).toEqual({ t: "open_direct", id: 1, username: "bob" });
    const withUndefined = encodeMessage({ t: "sync", id: 2, limit: undefined });
    expect(withUndefined).toEqual(encodeMessage({ t: "sync", id: 2 }));
  });

  test("the bytes of a ping (a small vector for other implementations)", () => {
    expect(Buffer.from(encodeMessage({ t: "ping", n: 1 })).toString("hex")).toBe("82a174a470696e67a16e01");
    expect(Buffer.from(encodeMessageFrame({ t: "ack", chat: 2 ** 32, upto: 7 })).toString("hex")).toBe(
      "0000001b" + "83" + "a174a361636b" + "a463686174d30000000100000000" + "a47570746f" + "07",
    );
  });
});

describe("errors on the wire", () => {
  test("a ProtocolError goes out with its code, text and request id", () => {
    const e = new ProtocolError("BAD_MESSAGE", "send.chat: expected a uint53", { requestId: 9 });
    expect(errorMessageFor(e)).toEqual({
      t: "error",
      id: 9,
      code: "BAD_MESSAGE",
      message: "send.chat: expected a uint53",
    });
    expect(errorMessageFor(e, 10)).toMatchObject({ id: 10 });
    expect(errorMessageFor(new ProtocolError("BAD_FRAME", "x"))).toEqual({
      t: "error",
      code: "BAD_FRAME",
      message: "x",
    });
  });

  test("an SmsgError with a wire code keeps it; anything else is INTERNAL without detail", () => {
    expect(errorMessageFor(new SmsgError("USER_UNKNOWN", "no user bob"), 3)).toEqual({
      t: "error",
      id: 3,
      code: "USER_UNKNOWN",
      message: "no user bob",
    });
    for (const e of [
      new Error("db password=hunter2"),
      new InternalError("state corrupted at 0x1234"),
      new SmsgError("CODEC", "bad blob"),
      "string",
      undefined,
    ]) {
      expect(errorMessageFor(e, 4)).toEqual({ t: "error", id: 4, code: "INTERNAL", message: "internal error" });
    }
  });

  test("the text is made printable and short enough to encode", () => {
    const e = new SmsgError("RATE_LIMITED", `\u001b[31m${"\u{1f600}".repeat(600)}\u202e`);
    const msg = errorMessageFor(e);
    expect(decodeRelayMessage(encodeMessage(msg))).toEqual(msg);
    expect(msg.message.startsWith("?[31m")).toBe(true);
  });

  test("remoteErrorOf gives the RemoteError a client throws", () => {
    const e = remoteErrorOf({ t: "error", id: 5, code: "SLOW_CONSUMER", message: "too slow" });
    expect(e).toBeInstanceOf(RemoteError);
    expect(e).toBeInstanceOf(SmsgError);
    expect(e).toMatchObject({ code: "SLOW_CONSUMER", message: "too slow", requestId: 5, name: "RemoteError" });
    expect(e.closesConnection).toBe(true);
    expect(remoteErrorOf({ t: "error", code: "CHAT_CLOSED", message: "" }).closesConnection).toBe(false);
  });

  test("the code table", () => {
    for (const [code, row] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      expect(row.meaning.length).toBeGreaterThan(10);
      expect(isErrorCode(code)).toBe(true);
    }
    expect(isErrorCode("toString")).toBe(false);
    expect(isErrorCode("NO_PREKEYS")).toBe(false);
    for (const code of PROTOCOL_CODES) expect(isErrorCode(code)).toBe(true);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
