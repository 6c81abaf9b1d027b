/**
 * The socket shell (noise-connection.ts) over an in-memory pair and over real loopback TCP:
 * handshake, data both ways, failures on either side, and that the byte stream survives any
 * chunking (SECURITY.md §10 "Protocol", "After the handshake", "Framing", "Failures").
 */
import { once } from "node:events";
import type { Duplex } from "node:stream";
import fc from "fast-check";
import { afterEach, describe, expect, test } from "vitest";
import { concat, toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import { systemRng } from "../../src/system-rng.js";
import {
  ConnectionClosedError,
  HandshakeRefusedError,
  NoiseConnection,
  TimeoutError,
  clientHandshake,
  serverHandshake,
  type SecureSession,
} from "../../src/transport/index.js";
import { OTHER_KEYS, RELAY_KEYS, clientSide, relaySide, rngFor } from "./fixtures.js";
import { socketPair, tcpPair } from "./socket-pair.js";
import { waitFor } from "../helpers/wait-for.js";

interface Link {
  client: Duplex;
  server: Duplex;
  close(): Promise<void>;
}

const LINKS: Record<string, () => Promise<Link>> = {
  memory: async () => {
    const [client, server] = socketPair();
    return {
      client,
      server,
      close: async () => {
        client.destroy();
        server.destroy();
      },
    };
  },
  tcp: tcpPair,
};

const TIMEOUT = 5_000;
const clientOpts = (relayStaticKey = RELAY_KEYS.publicKey) => ({ relayStaticKey, rng: systemRng, timeoutMs: TIMEOUT });
const serverOpts = (timeoutMs = TIMEOUT) => ({ staticKeyPair: RELAY_KEYS, rng: systemRng, timeoutMs });

const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) await l.close();
});

/** Settles with the rejection of `p` (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

/** Resolves once `s` has closed. */
async function streamClosed(s: Duplex): Promise<void> {
  if (!s.closed) await once(s, "close");
}

/** Collects plaintext until `n` bytes arrived. */
function receive(conn: NoiseConnection, n: number): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const parts: Uint8Array[] = [];
    let got = 0;
    const onData = (d: Uint8Array) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        conn.off("data", onData);
        resolve(concat(...parts));
      }
    };
    conn.on("data", onData);
  });
}

/** The 'close' event's error. */
function closeReason(conn: NoiseConnection): Promise<Error | undefined> {
  return new Promise((resolve) => conn.once("close", resolve));
}

/** Acts as a client by hand, on a raw stream: handshake bytes out, the sans-I/O session back. */
function rawClient(
  stream: Duplex,
  relayKey = RELAY_KEYS.publicKey,
  extra?: (session: SecureSession) => Uint8Array,
): Promise<SecureSession> {
  const hs = clientSide(1, relayKey);
  stream.write(hs.start());
  return new Promise((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      try {
        const step = hs.receive(chunk);
        if (step.session) {
          stream.off("data", onData);
          if (extra) stream.write(extra(step.session));
          resolve(step.session);
        }
      } catch (err) {
        reject(err);
      }
    };
    stream.on("data", onData);
  });
}

const pattern = (len: number, fill: number) => new Uint8Array(len).map((_, i) => (i * 131 + fill + (i >> 8)) & 0xff);

for (const [kind, makeLink] of Object.entries(LINKS)) {
  describe(`over ${kind === "memory" ? "an in-memory pair" : "loopback TCP"}`, () => {
    async function link(): Promise<Link> {
      const l = await makeLink();
      links.push(l);
      return l;
    }

    async function connected(): Promise<{ c: NoiseConnection; s: NoiseConnection; l: Link }> {
      const l = await link();
      const [c, s] = await Promise.all([
        clientHandshake(l.client, clientOpts()),
        serverHandshake(l.server, serverOpts()),
      ]);
      return { c, s, l };
    }

    test("the handshake succeeds and both ends hold the same handshake hash", async () => {
      const { c, s } = await connected();
      expect(c.handshakeHash.length).toBe(32);
      expect(toHex(c.handshakeHash)).toBe(toHex(s.handshakeHash));
      expect([c.state, s.state]).toEqual(["open", "open"]);
    });

    test("1 MB each way at once, spanning many records", async () => {
      const { c, s } = await connected();
      const up = pattern(1 << 20, 1);
      const down = pattern(1 << 20, 2);
      const atServer = receive(s, up.length);
      const atClient = receive(c, down.length);
      c.write(up);
      s.write(down);
      const [gotUp, gotDown] = await Promise.all([atServer, atClient]);
      expect(Buffer.from(gotUp).equals(Buffer.from(up))).toBe(true);
      expect(Buffer.from(gotDown).equals(Buffer.from(down))).toBe(true);
    });

    test("backpressure: a big write returns false, the bytes wait in the stream, 'drain' follows", async () => {
      const { c, s } = await connected();
      const big = pattern(1 << 20, 3);
      expect(c.write(big)).toBe(false);
      expect(c.bufferedBytes).toBeGreaterThanOrEqual(big.length); // queued until the next tick seals it
      const drained = once(c, "drain");
      const got = receive(s, big.length);
      await drained;
      expect((await got).length).toBe(big.length);
    });

    test("many small writes arrive as the same byte stream, in order", async () => {
      const { c, s } = await connected();
      const writes = Array.from({ length: 2000 }, (_, i) => pattern(1 + (i % 37), i));
      const all = concat(...writes);
      const atServer = receive(s, all.length);
      for (const w of writes) c.write(w);
      expect(toHex(await atServer)).toBe(toHex(all));
      // and back, spread over ticks
      const atClient = receive(c, 3 * 5);
      for (const w of ["hello", "world", "again"]) {
        s.write(utf8(w));
        await new Promise((r) => setImmediate(r));
      }
      expect(new TextDecoder().decode(await atClient)).toBe("helloworldagain");
    });

    test("a client that pinned the wrong relay key: both sides fail cleanly", async () => {
      const l = await link();
      const [ce, se] = await Promise.all([
        rejection(clientHandshake(l.client, clientOpts(OTHER_KEYS.publicKey))),
        rejection(serverHandshake(l.server, serverOpts())),
      ]);
      expect(se).toBeInstanceOf(CryptoVerificationError);
      expect(se.message).toBe("could not decrypt");
      // The relay answered nothing to message 1: a refusal, not a broken connection (SECURITY.md §10.3).
      expect(ce).toBeInstanceOf(HandshakeRefusedError);
      expect((ce as HandshakeRefusedError).code).toBe("HANDSHAKE_REFUSED");
      await Promise.all([streamClosed(l.client), streamClosed(l.server)]);
    });

    test("a peer that reads message 1 and closes without a byte back: HandshakeRefusedError", async () => {
      const l = await link();
      l.server.on("error", () => {});
      let got = 0;
      l.server.on("data", (d: Uint8Array) => {
        got += d.length;
        if (got >= 50) l.server.end();
      });
      expect(await rejection(clientHandshake(l.client, clientOpts()))).toBeInstanceOf(HandshakeRefusedError);
    });

    test("a peer that closes inside its answer: ConnectionClosedError, not a refusal", async () => {
      const l = await link();
      l.server.on("error", () => {});
      l.server.once("data", () => l.server.end(new Uint8Array([0, 48, 1, 2, 3])));
      const err = await rejection(clientHandshake(l.client, clientOpts()));
      expect(err).toBeInstanceOf(ConnectionClosedError);
      expect(err).not.toBeInstanceOf(HandshakeRefusedError);
    });

    test("random bytes instead of a handshake: the relay refuses them and drops the connection", async () => {
      const l = await link();
      const server = rejection(serverHandshake(l.server, serverOpts()));
      l.client.on("error", () => {});
      l.client.resume();
      l.client.write(pattern(300, 7));
      const err = await server;
      expect(err instanceof CodecError || err instanceof CryptoVerificationError, String(err)).toBe(true);
      await Promise.all([streamClosed(l.server), streamClosed(l.client)]);
    });

    test("a non-empty handshake payload is refused", async () => {
      const l = await link();
      const server = rejection(serverHandshake(l.server, serverOpts()));
      l.client.on("error", () => {});
      l.client.write(new Uint8Array([0, 58, ...pattern(58, 1)]));
      expect(await server).toBeInstanceOf(CodecError);
    });

    test("a client that never finishes its handshake: the relay times out", async () => {
      const l = await link();
      const server = rejection(serverHandshake(l.server, serverOpts(200)));
      l.client.on("error", () => {});
      l.client.resume();
      l.client.write(new Uint8Array([0, 48, 1, 2, 3])); // a plausible start, then silence
      const err = await server;
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as TimeoutError).code).toBe("TIMEOUT");
      await Promise.all([streamClosed(l.server), streamClosed(l.client)]);
    });

    test("a relay that never answers: the client times out", async () => {
      const l = await link();
      l.server.resume();
      const err = await rejection(clientHandshake(l.client, { ...clientOpts(), timeoutMs: 200 }));
      expect(err).toBeInstanceOf(TimeoutError);
    });

    test("the peer closing during the handshake: ConnectionClosedError", async () => {
      const l = await link();
      const server = rejection(serverHandshake(l.server, serverOpts()));
      l.client.end(new Uint8Array([0, 48, 9]));
      expect(await server).toBeInstanceOf(ConnectionClosedError);
    });

    test("a flipped byte in a transport record: could not decrypt, connection destroyed", async () => {
      const l = await link();
      const [session, s] = await Promise.all([rawClient(l.client), serverHandshake(l.server, serverOpts())]);
      const errors: Error[] = [];
      s.on("error", (e) => errors.push(e));
      const got: Uint8Array[] = [];
      s.on("data", (d) => got.push(d));
      const reason = closeReason(s);
      l.client.on("error", () => {});
      l.client.resume();
      const good = session.seal(utf8("fine"));
      const bad = session.seal(utf8("tampered"));
      bad[5]! ^= 0x20;
      l.client.write(good);
      // The good record is read and delivered before the bad one arrives (two reads, not one chunk).
      await waitFor(() => got.length === 1, { what: "the good record to be delivered" });
      l.client.write(bad);
      const err = await reason;
      expect(err).toBeInstanceOf(CryptoVerificationError);
      expect(err!.message).toBe("could not decrypt");
      expect(errors).toEqual([err]);
      expect(got).toEqual([utf8("fine")]);
      expect(s.state).toBe("closed");
      expect(s.write(utf8("too late"))).toBe(false);
      await Promise.all([streamClosed(l.server), streamClosed(l.client)]);
    });

    test("a replayed record (the same bytes twice) is rejected", async () => {
      const l = await link();
      const [session, s] = await Promise.all([rawClient(l.client), serverHandshake(l.server, serverOpts())]);
      const got: Uint8Array[] = [];
      s.on("data", (d) => got.push(d));
      const reason = closeReason(s);
      l.client.on("error", () => {});
      const record = session.seal(utf8("pay 10"));
      l.client.write(record);
      l.client.write(record);
      expect(await reason).toBeInstanceOf(CryptoVerificationError);
      expect(got).toEqual([utf8("pay 10")]);
    });

    test("message 1 and records in the same write: nothing after the handshake message is lost", async () => {
      // A real NK client cannot seal before it has read message 2; this one can, because it
      // precomputes the relay's answer with a twin of the relay's deterministic rng. What is
      // tested is the relay's side: bytes behind message 1 in one chunk reach the connection.
      const l = await link();
      const { wire, expected } = precomputedClientStream([utf8("early"), utf8(" bird")]);
      const server = serverHandshake(l.server, { ...serverOpts(), rng: rngFor(50) });
      l.client.resume();
      l.client.write(wire);
      const s = await server;
      await new Promise((r) => setTimeout(r, 30)); // listening late loses nothing either
      expect(toHex(await receive(s, expected.length))).toBe(toHex(expected));
    });

    test("message 2 and the relay's first record in one write: the client gets it even if it listens late", async () => {
      const l = await link();
      const relay = relaySide(5);
      l.server.on("data", (chunk: Uint8Array) => {
        const step = relay.receive(chunk);
        if (step.session) l.server.write(concat(step.send, step.session.seal(utf8("welcome"))));
      });
      const c = await clientHandshake(l.client, clientOpts());
      await new Promise((r) => setTimeout(r, 30));
      expect(new TextDecoder().decode(await receive(c, 7))).toBe("welcome");
    });

    test("the peer ending the stream inside a record is a CodecError", async () => {
      const l = await link();
      const [session, s] = await Promise.all([rawClient(l.client), serverHandshake(l.server, serverOpts())]);
      s.on("data", () => {});
      const reason = closeReason(s);
      const record = session.seal(utf8("cut short"));
      l.client.end(record.subarray(0, 7));
      expect(await reason).toBeInstanceOf(CodecError);
    });

    test("close(): the peer sees 'end' and both close without an error", async () => {
      const { c, s } = await connected();
      s.on("data", () => {});
      c.on("data", () => {});
      const ended = once(s, "end");
      const [cr, sr] = [closeReason(c), closeReason(s)];
      c.write(utf8("bye"));
      c.close();
      expect(c.state).toBe("closing");
      expect(c.write(utf8("after close"))).toBe(false);
      await ended;
      expect(await cr).toBeUndefined();
      expect(await sr).toBeUndefined();
    });

    test("close(): a peer that never answers our end is cut off after the grace, so nothing hangs", async () => {
      const { c, l } = await connected();
      l.server.pause(); // a frozen peer: it reads nothing, so it never sees our end nor ends its side
      const cr = closeReason(c);
      c.close(50);
      expect(c.state).toBe("closing");
      await cr;
      expect(c.state).toBe("closed");
    });

    test("destroy(err): 'close' carries err; no 'error' listener, no crash", async () => {
      const { c, s } = await connected();
      s.on("data", () => {});
      const sr = closeReason(s);
      const cr = closeReason(c);
      const err = new UsageError("going away");
      c.destroy(err);
      c.destroy();
      expect(await cr).toBe(err);
      expect(await sr).toBeUndefined();
    });
  });
}

describe("the in-memory pair specifically", () => {
  test("bad options or a dead stream: rejected, stream destroyed", async () => {
    const [a] = socketPair();
    expect(await rejection(clientHandshake(a, { ...clientOpts(), timeoutMs: 0 }))).toBeInstanceOf(UsageError);
    expect(a.destroyed).toBe(true);
    const [b] = socketPair();
    expect(await rejection(clientHandshake(b, clientOpts(new Uint8Array(31))))).toBeInstanceOf(UsageError);
    const [c] = socketPair();
    c.destroy();
    expect(await rejection(serverHandshake(c, serverOpts()))).toBeInstanceOf(ConnectionClosedError);
  });

  test("writes issued in one tick reach the stream as one chunk, sealed together in one record", async () => {
    const [client, server] = socketPair();
    const sessions: SecureSession[] = [];
    const relay = relaySide(6);
    const chunks: Uint8Array[] = [];
    server.on("data", (chunk: Uint8Array) => {
      if (sessions.length === 0) {
        const step = relay.receive(chunk);
        if (step.session) {
          sessions.push(step.session);
          server.write(step.send);
        }
      } else chunks.push(chunk);
    });
    const c = await clientHandshake(client, clientOpts());
    for (let i = 0; i < 10; i++) c.write(utf8(`message ${i};`));
    await new Promise((r) => setImmediate(r));
    expect(chunks.length).toBe(1);
    const pieces = sessions[0]!.open(chunks[0]!);
    expect(pieces.length).toBe(1); // one record: 18 bytes of length and tag for all ten
    expect(pieces.map((p) => new TextDecoder().decode(p)).join("")).toBe(
      Array.from({ length: 10 }, (_, i) => `message ${i};`).join(""),
    );
    client.destroy();
  });

  test("a handshake and records written in arbitrary pieces, byte by byte included, give the same plaintext", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 100 }), { minLength: 1, maxLength: 6 }),
        fc.oneof(fc.constant([1]), fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 10 })),
        async (writes, steps) => {
          const [client, server] = socketPair();
          const serverConn = serverHandshake(server, { ...serverOpts(), rng: rngFor(50) });
          client.resume();
          const { wire, expected } = precomputedClientStream(writes);
          for (let off = 0, i = 0; off < wire.length; i++) {
            const step = steps[i % steps.length]!;
            client.write(wire.subarray(off, off + step));
            off += step;
            if (i % 3 === 0) await new Promise((r) => setImmediate(r));
          }
          const s = await serverConn;
          if (expected.length > 0) expect(toHex(await receive(s, expected.length))).toBe(toHex(expected));
          client.destroy();
        },
      ),
      { numRuns: 30 },
    );
  });
});

/**
 * Everything a client sends, computed in advance: message 1, then `writes` sealed. Valid for a
 * relay with RELAY_KEYS whose rng is rngFor(50) (the twin below draws the same ephemeral key).
 */
function precomputedClientStream(writes: Uint8Array[]): { wire: Uint8Array; expected: Uint8Array } {
  const hs = clientSide(4);
  const twin = relaySide(50);
  const m1 = hs.start();
  const session = hs.receive(twin.receive(m1).send).session!;
  return { wire: concat(m1, ...writes.map((w) => session.seal(w))), expected: concat(...writes) };
}
