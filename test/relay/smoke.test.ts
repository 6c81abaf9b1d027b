import { afterAll, beforeAll, describe, expect, test } from "vitest";
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
    const sent = await alice.client.request<"send">({ t: "send", chat: chat.chat.id, idem: idem(), envelope: new Uint8Array([1, 2, 3]) });
    expect(sent.duplicate).toBe(false);
    const [m] = await arriving;
    expect(m).toMatchObject({ t: "msg", chat: chat.chat.id, msg: sent.msg, from: "alice" });

    bob.client.close();
    const id2 = idem();
    const s2 = await alice.client.request<"send">({ t: "send", chat: chat.chat.id, idem: id2, envelope: new Uint8Array([4]) });
    const retry = await alice.client.request<"send">({ t: "send", chat: chat.chat.id, idem: id2, envelope: new Uint8Array([4]) });
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
