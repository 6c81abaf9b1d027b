/**
 * RelayClient.connectThen (client/relay-client.ts): the first request goes right behind hello,
 * before the welcome (SECURITY.md §14.9 "Negotiation"), against a stand-in relay over loopback
 * TCP with the real Noise handshake. The stand-in answers hello only once it has read the
 * request behind it, so a client that waited for the welcome would never be answered. One
 * stand-in is a version-1 relay (UNSUPPORTED_VERSION for hello v2, then closing): the client
 * asks again in version 1, and the request left unanswered by the first connection is answered
 * on the second. A request refused before the welcome is that request's failure, not hello's.
 */
import { type Server, type Socket, createServer } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { x25519Base } from "../../../crypto/primitives.js";
import { seededRng } from "../../../crypto/rng.js";
import { RelayClient } from "../../../client/relay-client.js";
import { serverHandshake } from "../../../src/transport/index.js";
import {
  type ClientMessage,
  FrameDecoder,
  IDENTITY_PUBLIC_WIRE_BYTES,
  type RelayMessage,
  decodeClientMessage,
  encodeMessageFrame,
} from "../../../src/wire/index.js";

const relayPrivate = seededRng(new Uint8Array(32).fill(7))(32);
const relayKeys = { privateKey: relayPrivate, publicKey: x25519Base(relayPrivate) };
const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/**
 * A stand-in relay speaking only `versions`. On each connection it reads frames, keeps them
 * (per connection, in order) and, once it holds two, answers: the hello (welcome, or for a
 * version it does not speak UNSUPPORTED_VERSION and close), then the lookup_user.
 * `refuseRequest`: the lookup_user is refused, with its id, before the welcome.
 * `welcomeAtOnce`: hello is answered as soon as it is read, each lookup_user when it comes.
 */
async function standIn(
  versions: readonly number[],
  opts: { refuseRequest?: boolean; welcomeAtOnce?: boolean } = {},
): Promise<{ port: number; seen: ClientMessage[][] }> {
  const seen: ClientMessage[][] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    void serverHandshake(socket, { staticKeyPair: relayKeys, rng: seededRng(new Uint8Array(32)), timeoutMs: 5000 })
      .then((conn) => {
        const frames: ClientMessage[] = [];
        seen.push(frames);
        const decoder = new FrameDecoder();
        const send = (m: RelayMessage) => conn.write(encodeMessageFrame(m));
        const user = (request: ClientMessage & { t: "lookup_user" }): RelayMessage => ({
          t: "user",
          id: request.id,
          username: request.username,
          identity: new Uint8Array(IDENTITY_PUBLIC_WIRE_BYTES),
        });
        conn.on("data", (chunk) => {
          for (const f of decoder.push(chunk)) {
            const m = decodeClientMessage(f);
            frames.push(m);
            if (!opts.welcomeAtOnce) continue;
            if (m.t === "hello") send({ t: "welcome", v: m.v, relay: "stand-in" });
            if (m.t === "lookup_user") send(user(m));
          }
          if (opts.welcomeAtOnce || frames.length !== 2) return;
          const [hello, request] = frames;
          if (hello?.t !== "hello" || request?.t !== "lookup_user") throw new Error("unexpected frames");
          if (!versions.includes(hello.v)) {
            send({
              t: "error",
              code: "UNSUPPORTED_VERSION",
              message: `protocol version ${hello.v} is not supported (this side speaks 1)`,
            });
            conn.close();
            return;
          }
          if (opts.refuseRequest) {
            // As a relay refuses a malformed frame: as it reads it, before it handles the hello.
            send({ t: "error", id: request.id, code: "BAD_MESSAGE", message: "lookup_user: refused as read" });
            send({ t: "welcome", v: hello.v, relay: "stand-in" });
            return;
          }
          send({ t: "welcome", v: hello.v, relay: "stand-in" });
          send(user(request));
        });
      })
      .catch(() => socket.destroy());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, seen };
}

const options = (port: number) => ({
  host: "127.0.0.1",
  port,
  relayKey: relayKeys.publicKey,
  rng: seededRng(new Uint8Array(32).fill(1)),
  timeoutMs: 5000,
});

const lookupBob = (c: RelayClient) => c.request<"lookup_user">({ t: "lookup_user", username: "bob" });

describe("RelayClient.connectThen", () => {
  test("sends its request before the welcome, and gets the answer", async () => {
    const relay = await standIn([1, 2]);
    const { client, answer } = await RelayClient.connectThen(options(relay.port), lookupBob);
    expect(await answer).toMatchObject({ t: "user", username: "bob" });
    expect(client.protocolVersion).toBe(2);
    expect(relay.seen.map((frames) => frames.map((f) => f.t))).toEqual([["hello", "lookup_user"]]);
    client.close();
  });

  test("a version-1 relay refuses hello v2 and closes; asked again in version 1, the request is answered", async () => {
    const relay = await standIn([1]);
    const { client, answer } = await RelayClient.connectThen(options(relay.port), lookupBob);
    expect(await answer).toMatchObject({ t: "user", username: "bob" });
    expect(client.protocolVersion).toBe(1);
    expect(relay.seen.map((frames) => frames.map((f) => (f.t === "hello" ? `hello ${f.v}` : f.t)))).toEqual([
      ["hello 2", "lookup_user"],
      ["hello 1", "lookup_user"],
    ]);
    client.close();
  });

  test("a request refused (with its id) before the welcome fails that request; the connection is welcomed", async () => {
    const relay = await standIn([1, 2], { refuseRequest: true });
    const { client, answer } = await RelayClient.connectThen(options(relay.port), lookupBob);
    expect(client.protocolVersion).toBe(2);
    await expect(answer).rejects.toMatchObject({ code: "BAD_MESSAGE", message: "lookup_user: refused as read" });
    client.close();
  });

  test("a request that throws before sending anything fails its answer, not the connection", async () => {
    const relay = await standIn([1, 2], { welcomeAtOnce: true });
    let sent = false;
    const { client, answer } = await RelayClient.connectThen(options(relay.port), (c) => {
      if (!sent) {
        sent = true;
        throw new Error("could not build the request");
      }
      return lookupBob(c);
    });
    await expect(answer).rejects.toThrow("could not build the request");
    // Nothing was sent for it; the connection works on.
    expect(await lookupBob(client)).toMatchObject({ t: "user", username: "bob" });
    expect(relay.seen.map((frames) => frames.map((f) => f.t))).toEqual([["hello", "lookup_user"]]);
    client.close();
  });

  test("told to use one version, a relay that refuses it is hello's error, not the request's", async () => {
    const relay = await standIn([1]);
    await expect(
      RelayClient.connectThen({ ...options(relay.port), protocolVersion: 2 }, lookupBob),
    ).rejects.toMatchObject({ code: "UNSUPPORTED_VERSION" });
  });
});
