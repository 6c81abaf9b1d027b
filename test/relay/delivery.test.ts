/**
 * Delivery through a real relay over loopback sockets: acked after commit, pushed to online
 * members, synced (paged, by cursor) to offline ones, idempotent retries, directed envelopes,
 * history, group commit order under pipelining, and deletion (all acked, TTL, retention) with
 * the relay's clock under the test's control. The same body runs on the embedded PostgreSQL and,
 * when TEST_DATABASE_URL is set, on external PostgreSQL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { RelayConfig } from "../../relay/config.js";
import type { Db } from "../../relay/store/index.js";
import { RemoteError } from "../../src/errors.js";
import { type TestRelay, idem, startRelay } from "./harness.js";
import { type Msg, roundTrip } from "./inbox.js";
import {
  type Person,
  group,
  historyPage,
  openDirect,
  person as join,
  reconnect,
  send,
  syncPage,
  text,
} from "./people.js";
import { explainSkip, relayStorages } from "./storages.js";
import { countRows } from "./store/harness.js";

explainSkip("Relay delivery");

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The highest id per chat among `msgs`: what a client acks after a page. */
function highestPerChat(msgs: readonly Msg[]): Map<number, number> {
  const top = new Map<number, number>();
  for (const m of msgs) top.set(m.chat, Math.max(top.get(m.chat) ?? 0, m.msg));
  return top;
}

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`relay delivery on ${storage.name}`, () => {
    let r: TestRelay | undefined;
    let db: Db;
    /** Added to Date.now() to make the relay's clock: tests move time forward with `advance`. */
    let offset = 0;
    const people: Person[] = [];

    /** Starts a relay on the emptied database, with the test's clock and `config`. */
    async function start(config: Partial<RelayConfig> = {}): Promise<TestRelay> {
      db = await storage.fresh();
      offset = 0;
      r = await startRelay({
        db,
        config,
        now: () => Date.now() + offset,
        // Time jumps by hours or days here: keep the heartbeat from calling every connection dead.
        limits: { heartbeatMs: 3_000_000_000, idleTimeoutMs: 6_000_000_000, loginTimeoutMs: 6_000_000_000 },
      });
      return r;
    }

    function advance(ms: number): void {
      offset += ms;
    }

    async function person(name: string): Promise<Person> {
      if (!r) throw new Error("start a relay first");
      const p = await join(r, name);
      people.push(p);
      return p;
    }

    beforeAll(() => storage.open());
    afterAll(() => storage.close());
    afterEach(async () => {
      for (const p of people.splice(0)) p.client.close();
      await r?.stop();
      r = undefined;
    });

    test("a send is acked once committed, then pushed to every online member but the sender", async () => {
      await start();
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      const chat = await group(alice, [bob, carol]);
      const envelope = new Uint8Array([9, 8, 7, 6, 5]);
      const sent = await send(alice, chat, envelope);
      expect(sent.duplicate).toBe(false);
      // By the time the ack is here the message is in the database.
      const rows = await db.query<{ id: number; envelope: Uint8Array }>("SELECT id, envelope FROM messages");
      expect(rows).toEqual([{ id: sent.msg, envelope }]);

      for (const p of [bob, carol]) {
        const m = await p.inbox.message(sent.msg);
        expect(m).toEqual({ t: "msg", chat, msg: sent.msg, from: "alice", ts: sent.ts, envelope });
      }
      await roundTrip(alice.client);
      expect(alice.inbox.msgs).toEqual([]);
    });

    test("the sender never gets its own message pushed, on any of its connections, nor on sync", async () => {
      await start();
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      const firstConnection = alice.client;
      const firstInbox = alice.inbox;
      const second = await reconnect(r!, alice); // alice is now online twice
      const s1 = await send(firstConnection, chat, "from the first connection");
      const s2 = await send(second, chat, "from the second connection");
      await bob.inbox.message(s2.msg);
      await roundTrip(firstConnection);
      await roundTrip(second);
      expect(firstInbox.msgs).toEqual([]);
      expect(alice.inbox.msgs).toEqual([]);
      expect((await syncPage(second)).ids).toEqual([]);
      expect(bob.inbox.ids).toEqual([s1.msg, s2.msg]);
      firstConnection.close();
    });

    test("an offline member gets everything on the next login by sync: in order per chat, in pages, from acked cursors", async () => {
      await start();
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      const direct = await openDirect(alice, bob);
      const grp = await group(carol, [alice, bob]);
      bob.client.close();

      const sentByChat = new Map<number, number[]>([
        [direct, []],
        [grp, []],
      ]);
      for (let i = 0; i < 12; i++) {
        const [from, chat] = i % 5 < 3 ? [alice, direct] : [carol, grp];
        const s = await send(from, chat, `message ${i}`);
        sentByChat.get(chat)!.push(s.msg);
      }
      expect(sentByChat.get(direct)).toHaveLength(8);
      expect(sentByChat.get(grp)).toHaveLength(4);

      const client = await reconnect(r!, bob);
      const first = await syncPage(client, 4);
      expect(first.ids).toHaveLength(4);
      expect(first.more).toBe(true);
      // Without an ack, the same page comes again (at least once on the wire).
      expect((await syncPage(client, 4)).ids).toEqual(first.ids);
      // Asked to count, the relay says how many wait beyond the page (for a progress bar); only when more do.
      expect(await client.request<"sync">({ t: "sync", limit: 4, count: true })).toMatchObject({
        more: true,
        pending: 8,
      });
      expect((await client.request<"sync">({ t: "sync", limit: 12, count: true })).pending).toBeUndefined();

      const received: Msg[] = [];
      let page = first;
      let pages = 0;
      for (;;) {
        pages += 1;
        received.push(...page.msgs);
        for (const [chat, upto] of highestPerChat(page.msgs)) client.notify({ t: "ack", chat, upto });
        if (!page.more) break;
        page = await syncPage(client, 4);
      }
      // 12 messages in pages of 4: the third page is the last, and says so.
      expect(pages).toBe(3);
      for (const [chat, ids] of sentByChat)
        expect(received.filter((m) => m.chat === chat).map((m) => m.msg)).toEqual(ids);
      expect(received.map((m) => m.msg)).toEqual([...received.map((m) => m.msg)].sort((a, b) => a - b));
      expect(received.map(text)).toEqual(Array.from({ length: 12 }, (_, i) => `message ${i}`));
      expect(await syncPage(client, 4)).toEqual({ ids: [], msgs: [], more: false });

      // The cursors are stored: another login starts after them too.
      const again = await reconnect(r!, bob);
      expect((await syncPage(again)).ids).toEqual([]);
      const late = await send(alice, direct, "late");
      await bob.inbox.message(late.msg);
      const third = await reconnect(r!, bob);
      expect((await syncPage(third)).ids).toEqual([late.msg]);
    });

    test("ack is monotonic and never runs ahead of the chat; an ack for a foreign chat is refused without closing", async () => {
      await start();
      const [alice, bob, eve] = [await person("alice"), await person("bob"), await person("eve")];
      const chat = await openDirect(alice, bob);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push((await send(alice, chat, `m${i}`)).msg);
      await bob.inbox.count(3);

      bob.client.notify({ t: "ack", chat, upto: ids[2]! });
      bob.client.notify({ t: "ack", chat, upto: ids[0]! }); // backwards: ignored
      expect((await syncPage(bob.client)).ids).toEqual([]);

      // An ack beyond the newest message only reaches the newest: later messages still come.
      bob.client.notify({ t: "ack", chat, upto: ids[2]! + 1_000_000 });
      await roundTrip(bob.client);
      const m4 = await send(alice, chat, "m4");
      await bob.inbox.message(m4.msg); // its live push, so that only the sync's copy comes next
      expect((await syncPage(bob.client)).ids).toEqual([m4.msg]);

      const errors: RemoteError[] = [];
      eve.client.on("relay_error", (e) => errors.push(e));
      eve.client.notify({ t: "ack", chat, upto: m4.msg });
      await roundTrip(eve.client);
      expect(errors.map((e) => e.code)).toEqual(["CHAT_UNKNOWN"]);
      expect(eve.client.isClosed).toBe(false);
      // eve's ack moved nothing: bob's cursor is still before m4.
      const bobAgain = await reconnect(r!, bob);
      expect((await syncPage(bobAgain)).ids).toEqual([m4.msg]);
    });

    test("a retry with the same idem returns the same message, marked duplicate, stored and pushed once", async () => {
      await start();
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      const id = idem();
      const first = await send(alice, chat, "once", { idem: id });
      const retry = await send(alice, chat, "once", { idem: id });
      expect(retry).toMatchObject({ msg: first.msg, ts: first.ts, duplicate: true });
      // Two copies in flight together (one commit batch or two): one stored, one duplicate.
      const id2 = idem();
      const [x, y] = await Promise.all([
        send(alice, chat, "twice", { idem: id2 }),
        send(alice, chat, "twice", { idem: id2 }),
      ]);
      expect(x.msg).toBe(y.msg);
      expect([x.duplicate, y.duplicate].sort()).toEqual([false, true]);
      expect(await countRows(db, "messages")).toBe(2);

      const marker = await send(alice, chat, "after");
      await bob.inbox.message(marker.msg);
      expect(bob.inbox.ids).toEqual([first.msg, x.msg, marker.msg]);
    });

    test("idem is per sender: another user's same idem is a new message; the same sender's for another chat conflicts", async () => {
      await start();
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      // Chosen idempotency ids are version 1's; version 2 derives them (the test after this one).
      for (const p of [alice, bob]) {
        const old = p.client;
        await reconnect(r!, p, { protocolVersion: 1 });
        old.close();
      }
      const chat = await openDirect(alice, bob);
      const other = await group(alice, [carol]);
      const id = idem();
      const a = await send(alice, chat, "alice", { idem: id });
      const b = await send(bob, chat, "bob", { idem: id.slice() });
      expect(b.duplicate).toBe(false);
      expect(b.msg).not.toBe(a.msg);
      expect(await countRows(db, "messages")).toBe(2);
      expect(text(await alice.inbox.message(b.msg))).toBe("bob");

      await expect(send(alice, other, "elsewhere", { idem: id })).rejects.toMatchObject({
        code: "IDEMPOTENCY_CONFLICT",
      });
      expect(await countRows(db, "messages")).toBe(2);
      // The original send is still recognised.
      expect(await send(alice, chat, "alice", { idem: id })).toMatchObject({ msg: a.msg, duplicate: true });
    });

    test("version 2: the idempotency id is derived from the envelope, so the same envelope is the same send", async () => {
      await start();
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      expect(alice.client.protocolVersion).toBe(2);
      const chat = await openDirect(alice, bob);
      const other = await group(alice, [carol]);
      const a = await send(alice, chat, "alice");
      // Another idem in the request changes nothing: a compact send does not carry it.
      expect(await send(alice, chat, "alice")).toMatchObject({ msg: a.msg, duplicate: true });
      expect((await send(bob, chat, "alice")).duplicate).toBe(false); // per sender
      await expect(send(alice, other, "alice")).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
      expect(await countRows(db, "messages")).toBe(2);
    });

    test("a directed envelope reaches only its recipient, pushed and on sync; to a non-member is refused", async () => {
      await start();
      const [alice, bob, carol, dave, erin] = [
        await person("alice"),
        await person("bob"),
        await person("carol"),
        await person("dave"),
        await person("erin"),
      ];
      const chat = await group(alice, [bob, carol, dave]);
      dave.client.close();

      const directed = await send(alice, chat, "for bob only", { to: "bob" });
      expect(await bob.inbox.message(directed.msg)).toMatchObject({ from: "alice", to: "bob" });
      const everyone = await send(alice, chat, "for everyone");
      await carol.inbox.message(everyone.msg);
      expect(carol.inbox.ids).toEqual([everyone.msg]);

      await bob.inbox.message(everyone.msg);
      const daveClient = await reconnect(r!, dave);
      expect((await syncPage(daveClient)).ids).toEqual([everyone.msg]);
      expect((await syncPage(bob.client)).ids).toEqual([directed.msg, everyone.msg]);
      expect((await historyPage(carol.client, chat)).ids).toEqual([everyone.msg]);
      expect((await historyPage(bob.client, chat)).ids).toEqual([directed.msg, everyone.msg]);
      expect((await historyPage(alice.client, chat)).ids).toEqual([directed.msg, everyone.msg]);

      await expect(send(alice, chat, "x", { to: "erin" })).rejects.toMatchObject({ code: "NOT_A_MEMBER" });
      await expect(send(alice, chat, "x", { to: "nobody" })).rejects.toMatchObject({ code: "USER_UNKNOWN" });
      expect(await countRows(db, "messages")).toBe(2);
      await roundTrip(erin.client);
      expect(erin.inbox.msgs).toEqual([]);
    });

    test("history comes in pages by after, the sender's own messages included", async () => {
      await start();
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      const ids: number[] = [];
      for (let i = 0; i < 9; i++) ids.push((await send(i % 3 === 0 ? bob : alice, chat, `h${i}`)).msg);
      // Let the live pushes land first: only history's own frames are counted below.
      await alice.inbox.count(3);
      await bob.inbox.count(6);

      const pages: { ids: number[]; more: boolean }[] = [];
      let after: number | undefined;
      for (;;) {
        const page = await historyPage(alice.client, chat, { limit: 3, ...(after !== undefined ? { after } : {}) });
        pages.push({ ids: page.ids, more: page.more });
        if (!page.more) break;
        after = page.ids.at(-1);
      }
      expect(pages).toEqual([
        { ids: ids.slice(0, 3), more: true },
        { ids: ids.slice(3, 6), more: true },
        { ids: ids.slice(6, 9), more: false },
      ]);
      expect((await historyPage(alice.client, chat, { after: ids[8]! })).ids).toEqual([]);
      expect((await historyPage(bob.client, chat, { after: ids[3]!, limit: 2 })).ids).toEqual(ids.slice(4, 6));
      const all = await historyPage(bob.client, chat);
      expect(all.msgs.map(text)).toEqual(ids.map((_, i) => `h${i}`));
      expect(all.more).toBe(false);
    });

    test("a member added later receives only what is sent after joining", async () => {
      await start();
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      const chat = await group(alice, [bob]);
      const old = [await send(alice, chat, "old 1"), await send(bob, chat, "old 2")];
      await alice.client.request<"add_member">({ t: "add_member", chat, username: "carol" });
      const fresh = await send(alice, chat, "new");
      await carol.inbox.message(fresh.msg);
      await bob.inbox.message(fresh.msg);
      expect(carol.inbox.ids).toEqual([fresh.msg]);
      expect((await syncPage(carol.client)).ids).toEqual([fresh.msg]);
      expect((await historyPage(carol.client, chat)).ids).toEqual([fresh.msg]);
      expect((await historyPage(bob.client, chat)).ids).toEqual([...old.map((s) => s.msg), fresh.msg]);

      // A push of the old messages that comes late (announced by another relay after carol was
      // added) reaches bob, a member then, and not carol.
      const stored = await r!.relay.ctx.store.messagesByIds(old.map((o) => o.msg));
      expect(stored).toHaveLength(2);
      await r!.relay.ctx.fanout.committed(stored);
      await bob.inbox.message(old[0]!.msg);
      // Barrier: a message sent after the late push reaches carol. The relay pushes to a
      // connection in commit order (relay/fanout.ts), so an old one pushed to her would be first.
      const marker = await send(alice, chat, "after the late push");
      await carol.inbox.message(marker.msg);
      expect(carol.inbox.ids.filter((id) => old.some((o) => o.msg === id))).toEqual([]);
    });

    test("500 pipelined sends from one connection are all acked, with ids increasing in send order, and pushed in order", async () => {
      await start();
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      const n = 500;
      const acks = await Promise.all(Array.from({ length: n }, (_, i) => send(alice, chat, `p${i}`)));
      const ids = acks.map((a) => a.msg);
      for (let i = 1; i < n; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
      expect(acks.every((a) => !a.duplicate)).toBe(true);
      expect(await countRows(db, "messages")).toBe(n);
      await bob.inbox.count(n);
      expect(bob.inbox.ids).toEqual(ids);
      expect(bob.inbox.msgs.map(text)).toEqual(acks.map((_, i) => `p${i}`));
    });

    test("a message is deleted once every recipient acked it; a directed one once its recipient did", async () => {
      const relay = await start();
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      const chat = await group(alice, [bob, carol]);
      const m1 = await send(alice, chat, "m1");
      const m2 = await send(alice, chat, "m2");
      const m3 = await send(alice, chat, "m3 for bob", { to: "bob" });
      expect(await relay.relay.sweep()).toEqual({ delivered: 0, expired: 0 });

      bob.client.notify({ t: "ack", chat, upto: m3.msg });
      await roundTrip(bob.client);
      expect(await relay.relay.sweep()).toEqual({ delivered: 1, expired: 0 }); // m3: only bob waited for it
      carol.client.notify({ t: "ack", chat, upto: m1.msg });
      await roundTrip(carol.client);
      expect(await relay.relay.sweep()).toEqual({ delivered: 1, expired: 0 }); // m1
      expect((await db.query<{ id: number }>("SELECT id FROM messages")).map((x) => x.id)).toEqual([m2.msg]);
      carol.client.notify({ t: "ack", chat, upto: m2.msg });
      await roundTrip(carol.client);
      expect(await relay.relay.sweep()).toEqual({ delivered: 1, expired: 0 });
      expect(await countRows(db, "messages")).toBe(0);
    });

    test("an unacked message expires after the TTL", async () => {
      const relay = await start({ messageTtlMs: DAY });
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      bob.client.close();
      await send(alice, chat, "never picked up");
      advance(DAY - 60_000);
      expect(await relay.relay.sweep()).toEqual({ delivered: 0, expired: 0 });
      expect(await countRows(db, "messages")).toBe(1);
      advance(120_000);
      expect(await relay.relay.sweep()).toEqual({ delivered: 0, expired: 1 });
      expect(await countRows(db, "messages")).toBe(0);
      const client = await reconnect(r!, bob);
      expect((await syncPage(client)).ids).toEqual([]);
    });

    test("with a retention window, acked ciphertext is kept (and retries still recognised) until the window passes", async () => {
      const relay = await start({ retentionMs: HOUR, messageTtlMs: DAY });
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      const id = idem();
      const m = await send(alice, chat, "kept a while", { idem: id });
      await bob.inbox.message(m.msg);
      bob.client.notify({ t: "ack", chat, upto: m.msg });
      await roundTrip(bob.client);
      expect(await relay.relay.sweep()).toEqual({ delivered: 0, expired: 0 });
      advance(HOUR - 60_000);
      expect(await relay.relay.sweep()).toEqual({ delivered: 0, expired: 0 });
      expect(await send(alice, chat, "kept a while", { idem: id })).toMatchObject({ msg: m.msg, duplicate: true });
      expect((await historyPage(bob.client, chat)).ids).toEqual([m.msg]);
      advance(120_000);
      expect(await relay.relay.sweep()).toEqual({ delivered: 1, expired: 0 });
      expect(await countRows(db, "messages")).toBe(0);
    });
  });
}
