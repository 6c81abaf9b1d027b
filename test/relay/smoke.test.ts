import { EventEmitter } from "node:events";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { concat } from "../../crypto/bytes.js";
import { ClientConnection } from "../../relay/connection.js";
import { encodeMessageFrame } from "../../src/wire/index.js";
import { type TestRelay, idem, joinUser, nextMessages, relogin, startRelay } from "./harness.js";

let r: TestRelay;
beforeAll(async () => {
  r = await startRelay();
});
afterAll(async () => {
  await r.stop();
});

describe("relay smoke", () => {
  test("two users join, open a direct chat, message each other online and offline", async () => {
    const alice = await joinUser(r, "alice");
    const bob = await joinUser(r, "bob");
    const chat = await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" });
    expect(chat.chat.kind).toBe("direct");
    const again = await bob.client.request<"open_direct">({ t: "open_direct", username: "alice" });
    expect(again.chat.id).toBe(chat.chat.id);

    const arriving = nextMessages(bob.client, 1);
    const sent = await alice.client.request<"send">({
      t: "send",
      chat: chat.chat.id,
      idem: idem(),
      envelope: new Uint8Array([1, 2, 3]),
    });
    expect(sent.duplicate).toBe(false);
    const [m] = await arriving;
    expect(m).toMatchObject({ t: "msg", chat: chat.chat.id, msg: sent.msg, from: "alice" });

    bob.client.close();
    const id2 = idem();
    const s2 = await alice.client.request<"send">({
      t: "send",
      chat: chat.chat.id,
      idem: id2,
      envelope: new Uint8Array([4]),
    });
    const retry = await alice.client.request<"send">({
      t: "send",
      chat: chat.chat.id,
      idem: id2,
      envelope: new Uint8Array([4]),
    });
    expect(retry).toMatchObject({ msg: s2.msg, duplicate: true });

    const c = await relogin(r, bob);
    const got = nextMessages(c, 2);
    const synced = await c.request<"sync">({ t: "sync" });
    expect(synced.more).toBe(false);
    expect((await got).map((x) => x.msg)).toEqual([sent.msg, s2.msg]);
    alice.client.close();
    c.close();
  });
});

describe("acks right before disconnecting", () => {
  test("acks the relay read before the client closed are applied, even if their turn comes after the close", async () => {
    const erin = await joinUser(r, "erin");
    const fred = await joinUser(r, "fred");
    const chat = (await erin.client.request<"open_direct">({ t: "open_direct", username: "fred" })).chat.id;
    const ids: number[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(
        (await erin.client.request<"send">({ t: "send", chat, idem: idem(), envelope: new Uint8Array([i + 1]) })).msg,
      );
    // A connection of fred's over a fake transport: ten acks arrive, then the close, in one go.
    const transport = Object.assign(new EventEmitter(), {
      handshakeHash: new Uint8Array(32),
      backlogBytes: 0,
      write: () => true,
      pause: () => undefined,
      resume: () => undefined,
      close: () => undefined,
      destroy: () => undefined,
    });
    const conn = new ClientConnection(r.relay.ctx, transport, "127.0.0.1");
    const account = (await r.relay.store.accountByUsername("fred"))!;
    conn.phase = "ready";
    conn.account = { id: account.id, username: account.username, isAdmin: account.isAdmin, device: 1 };
    transport.emit("data", concat(...ids.map((upto) => encodeMessageFrame({ t: "ack", chat, upto }))));
    transport.emit("close");
    await conn.quiesce();
    const c = await relogin(r, fred);
    const seen: number[] = [];
    c.on("msg", (m) => seen.push(m.msg));
    await c.request<"sync">({ t: "sync" });
    expect(seen).toEqual([]);
    c.close();
    erin.client.close();
  });
});
