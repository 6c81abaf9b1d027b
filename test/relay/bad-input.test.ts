/**
 * Bad input at every layer of a relay connection, over real loopback sockets: before the Noise
 * handshake, inside it, below the frame layer, in frames, in msgpack, in message schemas and in
 * the hello → login → ready state machine, then fuzzed. For each, the relay answers with the
 * documented error frame (or drops the connection when the protocol says so), never crashes,
 * and still serves a well-behaved client afterwards.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { utf8 } from "../../crypto/bytes.js";
import { x25519KeyPair } from "../../crypto/primitives.js";
import { seededRng } from "../../crypto/rng.js";
import { ERROR_CODES, HandshakeRefusedError, ProtocolError, isErrorCode } from "../../src/errors.js";
import { systemRng } from "../../src/system-rng.js";
import { encodeRecord } from "../../src/transport/index.js";
import {
  CLIENT_MESSAGES,
  OLDEST_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  type RelayMessage,
  type RelayMessageOf,
  COMPACT_TYPE,
  decodeClientMessage,
  derivedIdem,
  encodeCompactAckFrame,
  encodeCompactSendFrame,
  encodeMessageFrame,
  encodeMsgpack,
} from "../../src/wire/index.js";
import { type TestRelay, connectTo, idem, joinUser, startRelay } from "./harness.js";
import { RawClient, type World, expectServing, liveLimits, makeWorld, openSocket, socketClosed } from "./raw-client.js";

let r: TestRelay;
let w: World;
let limits: ReturnType<typeof liveLimits>;

beforeAll(async () => {
  r = await startRelay();
  w = await makeWorld(r);
  limits = liveLimits(r);
});
afterEach(() => limits.reset());
afterAll(async () => {
  await r?.stop();
});

/** Deterministic "random" bytes, so a failure replays exactly. */
function noise(label: string, n: number): Uint8Array {
  return seededRng(utf8(`bad-input test bytes: ${label}`))(n);
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

/** Waits until the relay has let go of `c`'s connection (it may lag a tick behind the client). */
async function relayDropped(c: RawClient): Promise<void> {
  await vi.waitFor(() => expect(c.relaySide(r)).toBeUndefined(), { timeout: 5000, interval: 20 });
}

describe("before and during the Noise handshake", () => {
  test("random bytes instead of a handshake: the relay drops the socket and sends nothing", async () => {
    for (const garbage of [
      noise("no handshake", 200), // a length prefix that is not 48: refused on its two bytes
      new Uint8Array([0x00, 0x30, ...noise("no handshake, right length", 48)]), // 48 bytes that do not decrypt
      utf8("GET / HTTP/1.1\r\nHost: relay\r\n\r\n"), // another protocol
    ]) {
      const socket = await openSocket(r);
      let answered = 0;
      socket.on("data", (d: Buffer) => (answered += d.length));
      socket.write(garbage);
      await socketClosed(socket);
      expect(answered).toBe(0);
    }
    await expectServing(r, w);
  });

  test("a client that pinned the wrong relay key fails its handshake; the relay is unaffected", async () => {
    const wrongKey = x25519KeyPair(systemRng).publicKey;
    await expect(connectTo(r, { relayKey: wrongKey })).rejects.toBeInstanceOf(HandshakeRefusedError);
    await expect(RawClient.connect(r, { relayKey: wrongKey })).rejects.toBeInstanceOf(HandshakeRefusedError);
    await expectServing(r, w);
  });

  test("a client that never finishes its handshake is dropped after handshakeTimeoutMs", async () => {
    limits.set({ handshakeTimeoutMs: 300 });
    const silent = await openSocket(r);
    const partial = await openSocket(r);
    partial.write(new Uint8Array([0x00, 0x30, ...noise("half a message 1", 20)])); // 22 of 50 bytes
    let answered = 0;
    for (const s of [silent, partial]) s.on("data", (d: Buffer) => (answered += d.length));
    await Promise.all([socketClosed(silent), socketClosed(partial)]);
    expect(answered).toBe(0);
    limits.reset();
    await expectServing(r, w);
  });
});

describe("after the handshake, below the frame layer", () => {
  test("bytes that are not Noise records of this session close the connection", async () => {
    for (const garbage of [
      encodeRecord(noise("forged record", 64)), // well framed, does not decrypt
      new Uint8Array([0x00, 0x05, 1, 2, 3, 4, 5]), // a record shorter than its tag
      new Uint8Array([0x01, 0x00, ...noise("garbage record", 256)]), // a full-size record of garbage
    ]) {
      const c = await RawClient.ready(r);
      expect(c.relaySide(r)?.phase).toBe("login");
      c.socket.write(garbage); // beside the Noise channel, straight onto the socket
      await c.waitClosed();
      expect(c.received).toEqual([{ t: "welcome", v: OLDEST_PROTOCOL_VERSION, relay: r.relay.ctx.relayName }]);
      await relayDropped(c);
    }
    await expectServing(r, w);
  });
});

describe("frames", () => {
  test("a frame split across writes is reassembled; a truncated one is dropped when the client closes", async () => {
    const c = await RawClient.ready(r);
    await c.loginAs(w.bob);
    const frame = encodeMessageFrame({ t: "lookup_user", id: 5, username: "alice" });
    c.write(frame.subarray(0, 3)); // part of the length
    await new Promise((resolve) => setTimeout(resolve, 20));
    c.write(frame.subarray(3, 9));
    await new Promise((resolve) => setTimeout(resolve, 20));
    c.write(frame.subarray(9));
    expect(await c.next()).toMatchObject({ t: "user", id: 5, username: "alice" });

    c.write(frame.subarray(0, frame.length - 4)); // a frame that never completes
    c.close();
    await c.waitClosed();
    await relayDropped(c);
    expect(c.received.map((m) => m.t)).toEqual(["welcome", "logged_in", "user"]);
    await expectServing(r, w);
  });

  test("a declared length over maxFrameBytes: FRAME_TOO_LARGE as soon as the header is in, then closed", async () => {
    limits.set({ maxFrameBytes: 4096 });
    const c = await RawClient.ready(r);
    c.write(u32be(4097)); // the header alone: no payload byte is ever sent
    const err = await c.expectClosedWith("FRAME_TOO_LARGE");
    expect(err.message).toContain("4097");
    expect(err.id).toBeUndefined();

    const huge = await RawClient.ready(r);
    huge.write(u32be(0xffffffff));
    await huge.expectClosedWith("FRAME_TOO_LARGE");
    limits.reset();
    await expectServing(r, w);
  });

  test("a frame of length 0: BAD_FRAME, closed", async () => {
    const c = await RawClient.ready(r);
    c.write(u32be(0));
    await c.expectClosedWith("BAD_FRAME");
    await expectServing(r, w);
  });

  test("random bytes as a frame payload: BAD_FRAME, closed", async () => {
    const payload = noise("random payload", 64);
    let thrown: unknown;
    try {
      decodeClientMessage(payload);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ProtocolError);
    expect((thrown as ProtocolError).code).toBe("BAD_FRAME"); // what the test sends is what it claims
    const c = await RawClient.ready(r);
    c.sendPayload(payload);
    await c.expectClosedWith("BAD_FRAME");
    await expectServing(r, w);
  });

  test("deeply nested msgpack (100,000 nested arrays): BAD_FRAME, closed, no crash", async () => {
    const payload = new Uint8Array(100_001).fill(0x91); // fixarray of 1, 100,000 deep…
    payload[100_000] = 0xc0; // …around a nil
    const c = await RawClient.ready(r);
    c.sendPayload(payload);
    const err = await c.expectClosedWith("BAD_FRAME");
    expect(err.message).toContain("nesting");

    const maps = await RawClient.ready(r); // the same with maps: {"a": {"a": … }}
    const depth = 30_000;
    const bytes = new Uint8Array(depth * 3 + 1);
    for (let i = 0; i < depth; i++) bytes.set([0x81, 0xa1, 0x61], i * 3);
    bytes[depth * 3] = 0xc0;
    maps.sendPayload(bytes);
    await maps.expectClosedWith("BAD_FRAME");
    await expectServing(r, w);
  });
});

describe("messages", () => {
  test("an unknown message type: UNKNOWN_TYPE for that request, the connection stays usable", async () => {
    const c = await RawClient.connect(r);
    c.sendPayload(encodeMsgpack({ t: "frobnicate", id: 40 })); // before hello: still only this request fails
    expect(await c.next()).toMatchObject({ t: "error", id: 40, code: "UNKNOWN_TYPE" });
    await c.hello();
    await c.loginAs(w.bob);
    c.sendPayload(encodeMsgpack({ t: "get_all_messages", id: 41, chat: 1 }));
    const err = await c.nextError();
    expect(err).toMatchObject({ id: 41, code: "UNKNOWN_TYPE" });
    expect(ERROR_CODES.UNKNOWN_TYPE.closes).toBe(false);
    expect(await c.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({
      t: "user",
      username: "alice",
    });
    expect(c.closed).toBe(false);
    c.close();
    await expectServing(r, w);
  });

  test("wrong field types, missing fields, extra keys: BAD_MESSAGE naming the field, the connection stays usable", async () => {
    const c = await RawClient.ready(r);
    await c.loginAs(w.bob);
    const key = (n: number) => new Uint8Array(n).fill(7);
    const cases: { msg: unknown; id?: number; path: string }[] = [
      { msg: { t: "lookup_user", id: 1, username: 42 }, id: 1, path: "lookup_user.username: expected" },
      { msg: { t: "send", id: 2, chat: w.chat, idem: key(16) }, id: 2, path: "send.envelope: missing" },
      {
        msg: { t: "lookup_user", id: 3, username: "alice", admin: true },
        id: 3,
        path: 'lookup_user: unknown field "admin"',
      },
      {
        msg: { t: "send", id: 4, chat: -1, idem: key(16), envelope: key(3) },
        id: 4,
        path: "send.chat: expected a uint53",
      },
      {
        msg: { t: "send", id: 5, chat: w.chat, idem: "0123456789abcdef", envelope: key(3) },
        id: 5,
        path: "send.idem: expected 16 bytes, got a string",
      },
      {
        msg: { t: "send", id: 6, chat: w.chat, idem: key(16), envelope: key(3), to: null },
        id: 6,
        path: "send.to: expected",
      },
      {
        msg: {
          t: "upload_prekeys",
          id: 7,
          one_time_prekeys: [0, 1, 2, 3].map((i) => ({ key_id: i, public_key: key(i === 3 ? 31 : 32) })),
        },
        id: 7,
        path: "upload_prekeys.one_time_prekeys[3].public_key: expected 32 bytes, got 31 bytes",
      },
      { msg: { t: "sync", id: 8, limit: 0 }, id: 8, path: "sync.limit: expected a u32 in 1..1000" },
      { msg: { id: 9, username: "alice" }, id: 9, path: "message.t: missing" },
      { msg: [1, 2, 3], path: "message: expected a map, got an array of 3" },
      { msg: "hello", path: "message: expected a map" },
    ];
    for (const { msg, id, path } of cases) {
      c.sendPayload(encodeMsgpack(msg));
      const err = await c.nextError();
      expect(err, path).toMatchObject({ code: "BAD_MESSAGE" });
      expect(err.id, path).toBe(id);
      expect(err.message).toContain(path);
    }
    // The error names the field, never the peer's data.
    c.sendPayload(encodeMsgpack({ t: "lookup_user", id: 10, username: "Secret Name \u001b[2J" }));
    const err = await c.nextError();
    expect(err).toMatchObject({ id: 10, code: "BAD_MESSAGE" });
    expect(err.message).toContain("lookup_user.username");
    expect(err.message).not.toContain("Secret");

    expect(await c.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({
      t: "user",
      username: "alice",
    });
    expect(c.closed).toBe(false);
    c.close();
    await expectServing(r, w);
  });
});

describe("the connection's state machine", () => {
  test("a first message that is not hello: UNEXPECTED_MESSAGE, closed", async () => {
    const c = await RawClient.connect(r);
    c.send({ t: "lookup_user", id: 1, username: "alice" });
    await c.expectClosedWith("UNEXPECTED_MESSAGE");

    const login = await RawClient.connect(r); // not even a login may skip hello
    login.send({ t: "login", id: 1, username: "alice", credential: w.alice.credential, signature: new Uint8Array(64) });
    await login.expectClosedWith("UNEXPECTED_MESSAGE");
    await expectServing(r, w);
  });

  test("a request before login: NOT_AUTHENTICATED for it, and the connection can still log in", async () => {
    const c = await RawClient.ready(r);
    for (const msg of [
      { t: "lookup_user", username: "alice" },
      { t: "open_direct", username: "alice" },
      { t: "send", chat: w.chat, idem: idem(), envelope: new Uint8Array([1]) },
      { t: "sync" },
    ]) {
      expect(await c.request(msg as never)).toMatchObject({ t: "error", code: "NOT_AUTHENTICATED" });
    }
    c.send({ t: "ack", chat: w.chat, upto: 1 }); // no id: the error is about the connection
    expect(await c.next()).toMatchObject({ t: "error", code: "NOT_AUTHENTICATED" });
    c.send({ t: "hello", v: PROTOCOL_VERSION, client: "again" });
    expect(await c.next()).toMatchObject({ t: "error", code: "UNEXPECTED_MESSAGE" });
    expect(c.closed).toBe(false);
    await c.loginAs(w.bob);
    expect(await c.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({ t: "user" });
    c.close();
    await expectServing(r, w);
  });

  test("hello with v=3: UNSUPPORTED_VERSION, closed", async () => {
    const c = await RawClient.connect(r);
    c.sendPayload(encodeMsgpack({ t: "hello", v: 3, client: "from-the-future" }));
    const err = await c.expectClosedWith("UNSUPPORTED_VERSION");
    expect(err.message).toContain("3");

    const odd = await RawClient.connect(r); // the version is checked before anything else in the map
    odd.sendPayload(encodeMsgpack({ t: "hello", v: 3, client: 7, extra: true }));
    await odd.expectClosedWith("UNSUPPORTED_VERSION");
    await expectServing(r, w);
  });
});

describe("fuzz", () => {
  /**
   * Sends `payload` as one frame, then a ping; the outcome must be one of: the pong comes back
   * (every error on the way was a non-closing one), or the connection closes right after an
   * error whose code closes. Never INTERNAL, never a silent close.
   */
  async function probe(c: RawClient, payload: Uint8Array, nonce: number): Promise<void> {
    c.sendPayload(payload);
    c.send({ t: "ping", n: nonce });
    const seen: RelayMessage[] = [];
    for (;;) {
      let m: RelayMessage;
      try {
        m = await c.next();
      } catch (e) {
        expect(c.closed, String(e)).toBe(true);
        const last = seen[seen.length - 1];
        expect(last?.t, "the relay closed without an error frame").toBe("error");
        const code = (last as RelayMessageOf<"error">).code;
        expect(ERROR_CODES[code].closes, `closed after ${code}`).toBe(true);
        return;
      }
      seen.push(m);
      if (m.t === "error") {
        expect(isErrorCode(m.code)).toBe(true);
        expect(m.code).not.toBe("INTERNAL");
      }
      if (m.t === "pong" && m.n === nonce) {
        for (const e of seen)
          if (e.t === "error") expect(ERROR_CODES[e.code].closes, `stayed open after ${e.code}`).toBe(false);
        return;
      }
    }
  }

  // Fuzz from their own address: a lucky well-formed login would count against 127.0.0.1's backoff.
  const FUZZ_ADDRESS = "127.0.0.77";
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });
  const types = [...Object.keys(CLIENT_MESSAGES), "bogus"];
  const fieldNames = [
    "v",
    "client",
    "invite",
    "username",
    "credential",
    "identity",
    "signed_prekey",
    "one_time_prekeys",
    "signature",
    "chat",
    "idem",
    "envelope",
    "to",
    "limit",
    "after",
    "upto",
    "members",
    "n",
    "id",
  ];
  const fieldValue = fc.oneof(
    fc.integer(),
    fc.maxSafeNat(),
    fc.double(),
    fc.string({ maxLength: 40 }),
    fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{2,10}$/),
    fc.uint8Array({ maxLength: 130 }),
    fc.constantFrom(16, 32, 64, 128).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.nat(), { maxLength: 4 }),
    fc.array(fc.record({ key_id: fc.nat(), public_key: fc.uint8Array({ minLength: 32, maxLength: 32 }) }), {
      maxLength: 3,
    }),
  );
  const nearlyMessages = fc
    .record({
      t: fc.constantFrom(...types),
      rest: fc.dictionary(fc.constantFrom(...fieldNames), fieldValue, { maxKeys: 6 }),
    })
    .map(({ t, rest }) => ({ ...rest, t }));

  test("arbitrary bytes as frames: the relay never crashes and keeps serving", async () => {
    let nonce = 1;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.boolean(), async (payload, afterHello) => {
        const c = afterHello
          ? await RawClient.ready(r, { localAddress: FUZZ_ADDRESS })
          : await RawClient.connect(r, { localAddress: FUZZ_ADDRESS });
        await probe(c, payload, nonce++);
        c.destroy();
      }),
      { numRuns: 40 },
    );
    await expectServing(r, w);
  });

  test("arbitrary msgpack values as frames: the relay never crashes and keeps serving", async () => {
    let nonce = 1000;
    const value = fc.oneof(fc.anything({ maxDepth: 4 }), nearlyMessages, nearlyMessages);
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const c = await RawClient.ready(r, { localAddress: FUZZ_ADDRESS });
        let payload: Uint8Array;
        try {
          payload = new Uint8Array(packr.pack(v));
        } catch {
          return; // not encodable by msgpackr: nothing to send
        }
        await probe(c, payload, nonce++);
        c.destroy();
      }),
      { numRuns: 60 },
    );
    await expectServing(r, w);
  });

  test("arbitrary but well-formed requests from a logged-in member: replies or request errors, never INTERNAL", async () => {
    const fuzzer = await joinUser(r, "fuzzer");
    fuzzer.client.close();
    const c = await RawClient.ready(r, { localAddress: FUZZ_ADDRESS });
    await c.loginAs(fuzzer);
    const group = await c.request<"create_group">({ t: "create_group", members: ["alice"] });
    expect(group).toMatchObject({ t: "chat" });
    const name = fc.constantFrom("alice", "bob", "fuzzer", "nobody", "Alice");
    const chat = fc.oneof(fc.constantFrom(w.chat, (group as RelayMessageOf<"chat">).chat.id), fc.maxSafeNat());
    const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    const request = fc.oneof(
      fc.record({ t: fc.constantFrom("fetch_bundle", "lookup_user", "open_direct"), username: name }),
      fc.record({ t: fc.constant("create_group"), members: fc.array(name, { maxLength: 4 }) }),
      fc.record({ t: fc.constantFrom("add_member", "remove_member"), chat, username: name }),
      fc.record({ t: fc.constantFrom("leave_chat", "close_chat", "reopen_chat", "list_members"), chat }),
      fc.record({ t: fc.constant("list_chats"), after: fc.option(fc.maxSafeNat(), { nil: undefined }) }),
      fc.record({
        t: fc.constant("send"),
        chat,
        idem: bytes(16),
        envelope: fc.uint8Array({ minLength: 1, maxLength: 64 }),
        to: fc.option(name, { nil: undefined }),
      }),
      fc.record({ t: fc.constant("sync"), limit: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }) }),
      fc.record({
        t: fc.constant("history"),
        chat,
        after: fc.option(fc.maxSafeNat(), { nil: undefined }),
        limit: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
      }),
      fc.record({
        t: fc.constant("upload_prekeys"),
        one_time_prekeys: fc.array(fc.record({ key_id: fc.nat(), public_key: bytes(32) }), { maxLength: 3 }),
      }),
      fc.record({ t: fc.constant("ack"), chat, upto: fc.maxSafeNat() }),
    );
    let nonce = 5000;
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const msg = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined));
        if (req.t === "ack") {
          // No reply unless it fails (then an error without id); the probe's pong shows it was handled.
          await probe(c, encodeMsgpack(msg), nonce++);
        } else {
          const reply = await c.request(msg as never);
          if (reply.t === "error") expect(reply.code, `${req.t}: ${reply.message}`).not.toBe("INTERNAL");
        }
        expect(c.closed).toBe(false);
      }),
      { numRuns: 60 },
    );
    c.close();
    await expectServing(r, w);
  });
});

describe("protocol version 2: compact hot frames (SECURITY.md §14.9)", () => {
  test("a compact send is stored once under the idempotency id derived from its envelope; errors name the request", async () => {
    const c = await RawClient.ready(r, { version: 2 });
    expect(c.relaySide(r)?.compact).toBe(true);
    await c.loginAs(w.bob);
    const envelope = randomBytes(40);
    const compactSend = (id: number) => encodeCompactSendFrame({ id, chat: w.chat, envelope }).subarray(4);
    c.sendPayload(compactSend(70));
    const first = await c.nextWhere((m) => "id" in m && m.id === 70);
    expect(first).toMatchObject({ t: "sent", id: 70, duplicate: false });
    c.sendPayload(compactSend(71)); // the same envelope again: a retry
    expect(await c.nextWhere((m) => "id" in m && m.id === 71)).toMatchObject({
      t: "sent",
      msg: (first as { msg: number }).msg,
      duplicate: true,
    });
    // A version-1 connection of the same sender naming the derived id is the same send.
    const old = await RawClient.ready(r);
    expect(old.relaySide(r)?.compact).toBe(false);
    await old.loginAs(w.bob);
    expect(await old.request<"send">({ t: "send", chat: w.chat, idem: derivedIdem(envelope), envelope })).toMatchObject(
      { t: "sent", msg: (first as { msg: number }).msg, duplicate: true },
    );
    // A malformed compact send: BAD_MESSAGE for that request, the connection stays usable.
    c.sendPayload(Uint8Array.of(COMPACT_TYPE.send, 72, 1));
    expect(await c.nextError()).toMatchObject({
      id: 72,
      code: "BAD_MESSAGE",
      message: "compact send: the envelope is empty",
    });
    expect(await c.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({ t: "user" });
    // A compact frame on a version-1 connection is refused as any payload that is not one map.
    old.sendPayload(encodeCompactAckFrame({ chat: w.chat, upto: 1 }).subarray(4));
    await old.expectClosedWith("BAD_FRAME");
    c.close();
    await expectServing(r, w);
  });
});
