/**
 * What the `messages` table's foreign keys guaranteed, kept without them (migrations/0004_…sql,
 * relay/store/integrity.ts): every delete path the relay has (an operator's account delete,
 * member removal, retention, expiry) leaves no message whose chat, sender or recipient is
 * missing, and the check that guards restored rows finds each kind of orphan. Run against
 * every server with the store suite (embedded.test.ts, pg.test.ts).
 */
import { beforeEach, describe, expect, test } from "vitest";
import { deleteAccount } from "../../../relay/store/account-admin.js";
import { orphanMessageCount } from "../../../relay/store/integrity.js";
import { T0, at, bytes, countRows, makeAccount, resetTables, type Harness } from "./harness.js";

export function integritySuite(get: () => Harness): void {
  describe("integrity of messages without foreign keys", () => {
    beforeEach(async () => {
      await resetTables(get().db);
    });

    test("messages has no foreign keys; the membership tables keep theirs", async () => {
      const { db } = get();
      const rows = await db.query<{ table_name: string; n: number | bigint }>(
        `SELECT table_name, count(*) AS n FROM information_schema.table_constraints
          WHERE constraint_type = 'FOREIGN KEY' AND table_name IN ('messages', 'chat_members')
          GROUP BY table_name`,
      );
      expect(rows.map((r) => [r.table_name, Number(r.n)])).toEqual([["chat_members", 2]]);
    });

    test("account delete, member removal, retention and expiry leave no orphan rows", async () => {
      const { db, store } = get();
      const alice = await makeAccount(store, "alice", { opks: 3 });
      const bob = await makeAccount(store, "bob", { opks: 3 });
      const carol = await makeAccount(store, "carol");
      const group = await store.createGroupChat(alice.id, [bob.id, carol.id]);
      const { chat: direct } = await store.openDirectChat(alice.id, bob.id);
      const send = (chatId: number, senderId: number, recipientId: number | null = null) => ({
        chatId,
        senderId,
        recipientId,
        idem: bytes(16),
        envelope: bytes(32),
      });
      const results = await store.insertMessages(
        [
          send(group.id, alice.id),
          send(group.id, bob.id),
          send(group.id, alice.id, bob.id),
          send(group.id, bob.id, carol.id),
          send(direct.id, alice.id),
          send(direct.id, bob.id),
        ],
        T0,
      );
      expect(results.every((r) => r.ok)).toBe(true);
      expect(await orphanMessageCount(db)).toBe(0);

      expect(await store.removeMember(group.id, carol.id)).toBe(true);
      const deleted = await deleteAccount(db, bob.id, at(1));
      expect(deleted.directChats).toEqual([direct.id]);
      expect(await store.deleteDelivered()).toBeGreaterThanOrEqual(0);
      expect(await store.expireOlderThan(at(-1))).toBe(0);

      expect(await orphanMessageCount(db)).toBe(0);
      // Nothing of bob's is left but his account row, which keeps his name taken.
      const left = await db.query<{ what: string; n: number | bigint }>(
        `SELECT 'members' AS what, count(*) AS n FROM chat_members WHERE account_id = $1
         UNION ALL SELECT 'signed prekeys', count(*) FROM signed_prekeys WHERE account_id = $1
         UNION ALL SELECT 'one-time prekeys', count(*) FROM one_time_prekeys WHERE account_id = $1
         UNION ALL SELECT 'messages to him', count(*) FROM messages WHERE recipient_id = $1
         UNION ALL SELECT 'account rows', count(*) FROM accounts WHERE id = $1`,
        [bob.id],
      );
      expect(Object.fromEntries(left.map((r) => [r.what, Number(r.n)]))).toEqual({
        members: 0,
        "signed prekeys": 0,
        "one-time prekeys": 0,
        "messages to him": 0,
        "account rows": 1,
      });
      // What bob sent stays queued for alice; every message left names existing rows.
      expect(await countRows(db, "messages")).toBeGreaterThan(0);
      expect(await store.expireOlderThan(at(2))).toBeGreaterThan(0);
      expect(await countRows(db, "messages")).toBe(0);
    });

    test.each([
      ["a chat", "chat_id"],
      ["a sender", "sender_id"],
      ["a recipient", "recipient_id"],
    ])("the check finds a message naming %s that does not exist", async (_what, column) => {
      const { db, store } = get();
      const alice = await makeAccount(store, "alice");
      const bob = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(alice.id, bob.id);
      const row = { chat_id: chat.id, sender_id: alice.id, recipient_id: bob.id, [column]: 999_999 };
      await db.query(
        `INSERT INTO messages (chat_id, sender_id, recipient_id, idem, envelope, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [row.chat_id, row.sender_id, row.recipient_id, bytes(16), bytes(8), T0],
      );
      expect(await orphanMessageCount(db)).toBe(1);
    });
  });
}
