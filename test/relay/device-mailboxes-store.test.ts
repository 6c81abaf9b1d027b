/**
 * Per-device delivery in the relay's store (SECURITY.md §17.8, §14.7; migrations/0007): the
 * send rule for send_copies and for `send` with devices, each device's own copies and cursors,
 * retention per device and per copy, and a removed device's mailbox deleted with its removal.
 * Devices are listed through setMailboxes, the call the transaction storing a device list
 * makes. Runs on the embedded PostgreSQL and, with TEST_DATABASE_URL, on external PostgreSQL.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type Db, RelayStore, setMailboxes } from "../../relay/store/index.js";
import type { InsertResult, NewCopies, NewCopy, NewMessage, StoredMessage } from "../../relay/store/types.js";
import { explainSkip, relayStorages } from "./storages.js";
import { T0, at, bytes, countRows, makeAccount } from "./store/harness.js";

explainSkip("Device mailboxes (store)");

/** The tables a refused send must leave as they were. */
const TABLES = ["messages", "message_copies", "device_cursors", "device_mailboxes"] as const;

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`device mailboxes in the store on ${storage.name}`, () => {
    let db: Db;
    let store: RelayStore;

    beforeAll(() => storage.open(), 120_000);
    afterAll(() => storage.close(), 120_000);
    beforeEach(async () => {
      db = await storage.fresh();
      store = new RelayStore(db);
    }, 60_000);

    const list = (accountId: number, ids: number[]) => db.transaction((tx) => setMailboxes(tx, accountId, ids));
    const counts = async () =>
      Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, await countRows(db, t)])));
    const copy = (accountId: number, deviceId: number, envelope = bytes(24)): NewCopy => ({
      accountId,
      deviceId,
      envelope,
    });
    const copies = (
      chatId: number,
      senderId: number,
      senderDevice: number,
      cs: NewCopy[],
      idem = bytes(16),
    ): NewCopies => ({
      chatId,
      senderId,
      senderDevice,
      idem,
      copies: cs,
    });
    const send = (chatId: number, senderId: number, extra: Partial<NewMessage> = {}): NewMessage => ({
      chatId,
      senderId,
      recipientId: null,
      idem: bytes(16),
      envelope: bytes(16),
      ...extra,
    });
    const one = async (s: NewMessage | NewCopies, now = T0): Promise<InsertResult> =>
      (await store.insertMessages([s], now))[0]!;
    const okId = (r: InsertResult): number => {
      if (!r.ok) throw new Error(`refused: ${r.reason}`);
      return r.id;
    };
    const pending = (accountId: number, device: number): Promise<StoredMessage[]> =>
      store.pendingFor(accountId, { limit: 100, device });
    const ids = async (accountId: number, device: number) => (await pending(accountId, device)).map((m) => m.id);

    /** alice with devices 1 and 2, bob without a list (device 1), in a direct chat. */
    async function pair() {
      const alice = await makeAccount(store, "alice");
      const bob = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(alice.id, bob.id);
      expect(await list(alice.id, [1, 2])).toEqual({ opened: [2], removed: [], copiesDeleted: 0 });
      return { alice: alice.id, bob: bob.id, chat: chat.id };
    }

    test("a send_copies stores one message and one copy per device; each device reads only its own", async () => {
      const { alice, bob, chat } = await pair();
      const forBob = bytes(30);
      const forAlice2 = bytes(31);
      const id = okId(await one(copies(chat, alice, 1, [copy(bob, 1, forBob), copy(alice, 2, forAlice2)])));
      expect(await counts()).toMatchObject({ messages: 1, message_copies: 2 });
      const [bobs] = await pending(bob, 1);
      expect(bobs).toEqual({
        id,
        chatId: chat,
        senderId: alice,
        senderDevice: 1,
        recipientId: null,
        envelope: forBob,
        createdAt: T0,
      });
      // "Sent by you on another device" (§17.5): alice's device 2 gets its copy; device 1 sent it.
      expect((await pending(alice, 2)).map((m) => m.envelope)).toEqual([forAlice2]);
      expect(await ids(alice, 1)).toEqual([]);
      // The history shows each device its own copy only.
      expect((await store.fetchChatMessages(chat, bob, 0, 10, 1)).map((m) => m.envelope)).toEqual([forBob]);
      expect((await store.fetchChatMessages(chat, alice, 0, 10, 2)).map((m) => m.envelope)).toEqual([forAlice2]);
      expect(await store.fetchChatMessages(chat, alice, 0, 10, 1)).toEqual([]);
      // Fan-out reads the message with its copies.
      const [committed] = await store.messagesByIds([id]);
      expect(committed?.envelope).toBeUndefined();
      expect(committed?.copies?.map((c) => [c.accountId, c.deviceId])).toEqual(
        [
          [alice, 2],
          [bob, 1],
        ].sort((x, y) => x[0]! - y[0]!),
      );
    });

    test("copies that do not match the device lists are refused whole, and nothing is stored", async () => {
      const { alice, bob, chat } = await pair();
      const carol = (await makeAccount(store, "carol")).id;
      expect(await list(alice, [1, 2, 3])).toMatchObject({ opened: [3] });
      expect(await list(alice, [1, 2])).toMatchObject({ removed: [3] });
      const before = await counts();
      const stale: [string, NewCopy[]][] = [
        ["a missing copy (alice's device 2)", [copy(bob, 1)]],
        ["a missing copy (bob)", [copy(alice, 2)]],
        ["a copy for a removed device", [copy(bob, 1), copy(alice, 2), copy(alice, 3)]],
        ["a copy for the sending device", [copy(bob, 1), copy(alice, 2), copy(alice, 1)]],
        ["a device bob does not have", [copy(bob, 1), copy(bob, 2), copy(alice, 2)]],
        ["a device named twice", [copy(bob, 1), copy(bob, 1), copy(alice, 2)]],
        ["an account not in the chat", [copy(bob, 1), copy(alice, 2), copy(carol, 1)]],
        ["an account that does not exist", [copy(bob, 1), copy(alice, 2), copy(0, 1)]],
      ];
      for (const [what, cs] of stale) {
        expect(await one(copies(chat, alice, 1, cs)), what).toEqual({ ok: false, reason: "device_list_stale" });
      }
      // The same checks from device 2: its own copy is the wrong one, device 1's is required.
      expect(await one(copies(chat, alice, 2, [copy(bob, 1)]))).toEqual({ ok: false, reason: "device_list_stale" });
      // A send_copies from a device removed while it was on its way.
      expect(await one(copies(chat, alice, 3, [copy(bob, 1), copy(alice, 1), copy(alice, 2)]))).toEqual({
        ok: false,
        reason: "device_list_stale",
      });
      // A `send` in a direct chat where a member has a list: only two accounts without lists use it.
      expect(await one(send(chat, bob))).toEqual({ ok: false, reason: "devices_listed" });
      expect(await one(send(chat, alice, { senderDevice: 2 }))).toEqual({ ok: false, reason: "devices_listed" });
      expect(await counts()).toEqual(before);
      // A stale one in a batch does not hold up the others.
      const results = await store.insertMessages(
        [copies(chat, alice, 1, [copy(bob, 1)]), copies(chat, alice, 1, [copy(bob, 1), copy(alice, 2)])],
        T0,
      );
      expect(results.map((r) => r.ok)).toEqual([false, true]);
      expect(await counts()).toMatchObject({ messages: 1, message_copies: 2 });
    });

    test("a repeat of a send_copies returns the first result; another kind or device is a conflict", async () => {
      const { alice, bob, chat } = await pair();
      const idem = bytes(16);
      const first = await one(copies(chat, alice, 1, [copy(bob, 1), copy(alice, 2)], idem), at(1));
      const again = await one(copies(chat, alice, 1, [copy(bob, 1), copy(alice, 2)], idem), at(2));
      expect(again).toEqual({ ...first, duplicate: true });
      // Even once the list changed (a retry after the list moved on is still the first send).
      await list(alice, [1, 2, 3]);
      expect(await one(copies(chat, alice, 1, [copy(bob, 1), copy(alice, 2)], idem), at(3))).toEqual({
        ...first,
        duplicate: true,
      });
      // Repeats within one batch: stored once.
      const idem2 = bytes(16);
      const batch = [copy(bob, 1), copy(alice, 2), copy(alice, 3)];
      const [a, b] = await store.insertMessages(
        [copies(chat, alice, 1, batch, idem2), copies(chat, alice, 1, batch, idem2)],
        at(4),
      );
      expect(b).toEqual({ ...a, duplicate: true });
      expect(await counts()).toMatchObject({ messages: 2, message_copies: 5 });
      expect(await one(copies(chat, alice, 2, [copy(bob, 1), copy(alice, 1), copy(alice, 3)], idem))).toEqual({
        ok: false,
        reason: "idem_conflict",
      });
      expect(await one(send(chat, alice, { idem }))).toEqual({ ok: false, reason: "idem_conflict" });
      expect(await counts()).toMatchObject({ messages: 2, message_copies: 5 });
    });

    test("a group message reaches every device of every member but the sending one; `to` reaches device 1", async () => {
      const alice = (await makeAccount(store, "alice")).id;
      const bob = (await makeAccount(store, "bob")).id;
      const carol = (await makeAccount(store, "carol")).id;
      await list(alice, [1, 2]);
      await list(carol, [1, 3]);
      const group = (await store.createGroupChat(alice, [bob, carol])).id;
      const all = okId(await one(send(group, alice, { senderDevice: 2 })));
      const directed = okId(await one(send(group, alice, { senderDevice: 2, recipientId: carol })));
      expect(await ids(alice, 1)).toEqual([all]);
      expect(await ids(alice, 2)).toEqual([]);
      expect(await ids(bob, 1)).toEqual([all]);
      expect(await ids(carol, 1)).toEqual([all, directed]);
      expect(await ids(carol, 3)).toEqual([all]);
      expect((await pending(bob, 1))[0]?.senderDevice).toBe(2);
      // Pairwise hand-overs: any current devices of members, no completeness rule.
      const handOver = okId(await one(copies(group, bob, 1, [copy(carol, 3)])));
      expect(await ids(carol, 3)).toEqual([all, handOver]);
      expect(await ids(carol, 1)).toEqual([all, directed]);
      for (const cs of [[copy(carol, 2)], [copy(bob, 1)], [copy(carol, 3), copy(carol, 3)]]) {
        expect(await one(copies(group, bob, 1, cs))).toEqual({ ok: false, reason: "device_list_stale" });
      }
      // A device listed later gets only what is sent from then on.
      await list(bob, [1, 2]);
      expect(await ids(bob, 2)).toEqual([]);
      const later = okId(await one(send(group, carol, { senderDevice: 3 })));
      expect(await ids(bob, 2)).toEqual([later]);
      expect(await ids(carol, 1)).toEqual([all, directed, later]);
      expect(await ids(carol, 3)).toEqual([all, handOver]);
    });

    test("each device acks its own cursor; a message goes once every recipient device acked it", async () => {
      const alice = (await makeAccount(store, "alice")).id;
      const bob = (await makeAccount(store, "bob")).id;
      await list(bob, [1, 2]);
      const group = (await store.createGroupChat(alice, [bob])).id;
      const m = okId(await one(send(group, alice)));
      expect(await store.ackCursor(bob, group, m, 1)).toBe(m);
      expect(await ids(bob, 1)).toEqual([]);
      expect(await ids(bob, 2)).toEqual([m]);
      expect(await store.deleteDelivered()).toBe(0);
      expect(await store.ackCursor(bob, group, m, 2)).toBe(m);
      expect(await store.ackCursor(bob, group, 0, 2)).toBe(m);
      expect(await ids(bob, 2)).toEqual([]);
      // A device that is not current has no cursor to move.
      expect(await store.ackCursor(bob, group, m, 3)).toBeUndefined();
      expect(await store.deleteDelivered()).toBe(1);

      // Copies go one by one, each once its device acked it; the message once none is left.
      const chat = (await store.openDirectChat(alice, bob)).chat.id;
      const c = okId(await one(copies(chat, alice, 1, [copy(bob, 1), copy(bob, 2)])));
      await store.ackCursor(bob, chat, c, 2);
      expect(await store.deleteDeliveredCopies()).toBe(1);
      expect(await store.deleteDelivered()).toBe(0);
      expect(await ids(bob, 1)).toEqual([c]);
      await store.ackCursor(bob, chat, c, 1);
      expect(await store.deleteDeliveredCopies()).toBe(1);
      expect(await store.deleteDelivered()).toBe(1);
      expect(await counts()).toMatchObject({ messages: 0, message_copies: 0 });
    });

    test("a removed device's copies and cursors are deleted with its removal, and nothing waits for it", async () => {
      const alice = (await makeAccount(store, "alice")).id;
      const bob = (await makeAccount(store, "bob")).id;
      await list(bob, [1, 2]);
      const group = (await store.createGroupChat(alice, [bob])).id;
      const chat = (await store.openDirectChat(alice, bob)).chat.id;
      const g = okId(await one(send(group, alice)));
      okId(await one(copies(chat, alice, 1, [copy(bob, 1), copy(bob, 2)])));
      await store.ackCursor(bob, chat, 1, 2);
      expect(await countRows(db, "device_cursors")).toBe(1);
      expect(await list(bob, [1])).toEqual({ opened: [], removed: [2], copiesDeleted: 1 });
      expect(await counts()).toMatchObject({ message_copies: 1, device_cursors: 0, device_mailboxes: 1 });
      expect(await ids(bob, 2)).toEqual([]);
      await store.ackCursor(bob, group, g, 1);
      expect(await store.deleteDelivered()).toBe(1);
      // A first list without device 1 removes it too (an account without a list received as 1).
      const carol = (await makeAccount(store, "carol")).id;
      expect(await list(carol, [2])).toEqual({ opened: [2], removed: [1], copiesDeleted: 0 });
    });

    test("a member leaving a chat loses its devices' copies and cursors there", async () => {
      const alice = (await makeAccount(store, "alice")).id;
      const bob = (await makeAccount(store, "bob")).id;
      await list(bob, [1, 2]);
      const group = (await store.createGroupChat(alice, [bob])).id;
      const h = okId(await one(copies(group, alice, 1, [copy(bob, 2)])));
      await store.ackCursor(bob, group, h - 1, 2);
      await store.removeMember(group, bob);
      expect(await counts()).toMatchObject({ message_copies: 0, device_cursors: 0 });
      expect(await store.deleteDelivered()).toBe(1);
    });

    test("two accounts without lists: `send` works as before, and so does send_copies", async () => {
      const alice = (await makeAccount(store, "alice")).id;
      const bob = (await makeAccount(store, "bob")).id;
      const chat = (await store.openDirectChat(alice, bob)).chat.id;
      const m = okId(await one(send(chat, alice)));
      expect(await ids(bob, 1)).toEqual([m]);
      expect(await ids(alice, 1)).toEqual([]);
      const c = okId(await one(copies(chat, alice, 1, [copy(bob, 1)])));
      expect(await ids(bob, 1)).toEqual([m, c]);
      await store.ackCursor(bob, chat, c);
      expect(await store.deleteDeliveredCopies()).toBe(1);
      expect(await store.deleteDelivered()).toBe(2);
      // The TTL takes copies with their message.
      okId(await one(copies(chat, alice, 1, [copy(bob, 1)])));
      expect(await store.expireOlderThan(at(1))).toBe(1);
      expect(await counts()).toMatchObject({ messages: 0, message_copies: 0 });
    });
  });
}
