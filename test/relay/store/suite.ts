/**
 * The one RelayStore suite, run against every server (embedded.test.ts, pg.test.ts). Each test
 * starts from empty tables with ids restarting at 1; time is always passed in explicitly.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, test } from "vitest";
import { checkDurability } from "../../../relay/store/db.js";
import { nextPageAfter } from "../../../relay/store/relay-store.js";
import { listMigrations, migrate, migrationsDir } from "../../../relay/store/migrate.js";
import type { InsertResult, NewMessage } from "../../../relay/store/types.js";
import {
  T0,
  at,
  bytes,
  countRows,
  makeAccount,
  oneTimePrekeys,
  resetTables,
  searchAllTablesFor,
  sha256,
  signedPrekey,
  type Harness,
} from "./harness.js";

function ok(result: InsertResult | undefined): { id: number; createdAt: Date; duplicate: boolean } {
  if (result === undefined || !result.ok) throw new Error(`expected a stored send, got ${JSON.stringify(result)}`);
  return result;
}

function msg(chatId: number, senderId: number, extra: Partial<NewMessage> = {}): NewMessage {
  return { chatId, senderId, recipientId: null, idem: bytes(16), envelope: bytes(48), ...extra };
}

/** Registers the shared suite; `get` returns the harness once the file's beforeAll has run. */
export function storeSuite(get: () => Harness): void {
  const getHarness = get;
  beforeEach(async () => {
    await resetTables(get().db);
  });

  describe("driver and migrations", () => {
    test("migrate is idempotent: a second run applies nothing and each version is recorded once", async () => {
      const { db } = get();
      expect(await migrate(db)).toEqual([]);
      expect(await migrate(db)).toEqual([]);
      const rows = await db.query<{ version: number; name: string }>(
        "SELECT version, name FROM schema_migrations ORDER BY version",
      );
      // Every migration shipped, each once (the list grows with the schema).
      expect(rows.map((r) => r.name).slice(0, 2)).toEqual(["0001_init.sql", "0002_insert_messages_function.sql"]);
      expect(rows).toEqual(listMigrations().map((m) => ({ version: m.version, name: m.name })));
    });

    test("a failing migration is rolled back and not recorded; earlier ones stay", async () => {
      const { db } = get();
      const dir = mkdtempSync(join(tmpdir(), "smsg-migrations-"));
      try {
        const shipped = listMigrations();
        for (const m of shipped) copyFileSync(join(migrationsDir(), m.name), join(dir, m.name));
        const next = String(shipped.at(-1)!.version + 1).padStart(4, "0");
        writeFileSync(
          join(dir, `${next}_broken.sql`),
          "CREATE TABLE half_done (x int);\nSELECT no_such_column FROM accounts;\n",
        );
        await expect(migrate(db, dir)).rejects.toThrow(new RegExp(`migration ${next}_broken\\.sql failed`));
        const tables = await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'");
        expect(tables).toEqual([]);
        expect(await db.query("SELECT version FROM schema_migrations ORDER BY version")).toEqual(
          shipped.map((m) => ({ version: m.version })),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("migrate refuses a database migrated by a newer relay", async () => {
      const { db } = get();
      await db.query("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')");
      try {
        await expect(migrate(db)).rejects.toThrow(/9999.*newer relay/);
      } finally {
        await db.query("DELETE FROM schema_migrations WHERE version = 9999");
      }
    });

    test("bytea comes back as Uint8Array and int8 as number, on every driver", async () => {
      const { db } = get();
      const [row] = await db.query<Record<string, unknown>>(
        "SELECT '\\x0102ff'::bytea AS b, 42::int8 AS small, 9007199254740993::int8 AS big, now() AS t",
      );
      expect(row?.["b"]).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(row?.["b"])).toBe(false);
      expect(row?.["b"]).toEqual(new Uint8Array([1, 2, 255]));
      expect(row?.["small"]).toBe(42);
      expect(row?.["big"]).toBe(9007199254740993n);
      expect(row?.["t"]).toBeInstanceOf(Date);
    });

    test("a transaction that throws is rolled back", async () => {
      const { db } = get();
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO admin_tokens (token_hash) VALUES ($1)", [bytes(32)]);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await countRows(db, "admin_tokens")).toBe(0);
    });

    test("checkDurability names exactly the settings that are off", async () => {
      const h = get();
      expect(await checkDurability(h.db)).toEqual(h.durabilityOff ?? []);
    });

    test("listen receives notify payloads until unsubscribed", async () => {
      const { db } = get();
      const got: string[] = [];
      const stop = await db.listen("smsg_test_channel", (p) => got.push(p));
      await db.notify("smsg_test_channel", "one");
      await expect.poll(() => got, { timeout: 2000 }).toEqual(["one"]);
      await stop();
      await db.notify("smsg_test_channel", "two");
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual(["one"]);
    });
  });

  describe("accounts and invites", () => {
    test("an invite with 2 uses admits exactly 2 accounts; a refused signup keeps the use", async () => {
      const { store } = get();
      const code = bytes(32);
      const invite = await store.createInvite({
        codeHash: sha256(code),
        uses: 2,
        expiresAt: null,
        grantsAdmin: false,
        createdBy: null,
      });
      expect(invite.usesLeft).toBe(2);
      const signup = (username: string) =>
        store.createAccountWithInvite({
          inviteCodeHash: sha256(code),
          username,
          credentialHash: sha256(bytes(32)),
          identity: bytes(128),
          signedPrekey: signedPrekey(7),
          oneTimePrekeys: oneTimePrekeys(1, 3),
          now: T0,
        });
      const first = await signup("Alice");
      expect(first.ok && first.account.username).toBe("alice");
      // Taken username: refused, and the invite's use is not consumed.
      expect(await signup("ALICE")).toEqual({ ok: false, reason: "username_taken" });
      expect((await signup("bob")).ok).toBe(true);
      expect(await signup("carol")).toEqual({ ok: false, reason: "invite_invalid" });
      expect(await store.countAccounts()).toBe(2);
    });

    test("an invalid invite is reported even when the username is also taken", async () => {
      const { store } = get();
      await makeAccount(store, "alice");
      const result = await store.createAccountWithInvite({
        inviteCodeHash: sha256(bytes(32)),
        username: "alice",
        credentialHash: sha256(bytes(32)),
        identity: bytes(128),
        signedPrekey: signedPrekey(1),
        oneTimePrekeys: [],
        now: T0,
      });
      expect(result).toEqual({ ok: false, reason: "invite_invalid" });
    });

    test("an invite is valid strictly before its expiry; grantsAdmin makes an admin", async () => {
      const { store } = get();
      const code = bytes(32);
      await store.createInvite({
        codeHash: sha256(code),
        uses: 5,
        expiresAt: at(1000),
        grantsAdmin: true,
        createdBy: null,
      });
      const signup = (username: string, now: Date) =>
        store.createAccountWithInvite({
          inviteCodeHash: sha256(code),
          username,
          credentialHash: sha256(bytes(32)),
          identity: bytes(128),
          signedPrekey: signedPrekey(1),
          oneTimePrekeys: [],
          now,
        });
      const early = await signup("early", at(999));
      expect(early.ok && early.account.isAdmin).toBe(true);
      expect(early.ok && early.account.createdAt).toEqual(at(999));
      expect(await signup("ontime", at(1000))).toEqual({ ok: false, reason: "invite_invalid" });
      expect(await signup("late", at(5000))).toEqual({ ok: false, reason: "invite_invalid" });
    });

    test("lookups are case-insensitive; listing, counting and disabling", async () => {
      const { store } = get();
      const alice = await makeAccount(store, "Alice");
      const bob = await makeAccount(store, "bob");
      expect((await store.accountByUsername("aLiCe"))?.id).toBe(alice.id);
      expect(await store.accountByUsername("nobody")).toBeUndefined();
      expect(await store.accountById(bob.id)).toEqual(bob);
      expect(await store.accountById(999)).toBeUndefined();
      expect((await store.listAccounts()).map((a) => a.username)).toEqual(["alice", "bob"]);
      expect(await store.setDisabled("BOB", true)).toBe(true);
      expect((await store.accountByUsername("bob"))?.disabled).toBe(true);
      expect(await store.setDisabled("nobody", true)).toBe(false);
      expect(await store.countAccounts()).toBe(2);
      expect(alice.identity).toBeInstanceOf(Uint8Array);
      expect(alice.identity.length).toBe(128);
    });

    test("only the credential's hash is stored, never the credential", async () => {
      const { db, store } = get();
      const credential = bytes(32);
      await makeAccount(store, "alice", { credential });
      expect(await searchAllTablesFor(db, credential)).toEqual([]);
      expect(await searchAllTablesFor(db, sha256(credential))).toEqual([
        "accounts.credential_hash",
        // device 1's, which logins check (SECURITY.md §17.8)
        "devices.credential_hash",
      ]);
    });
  });

  describe("prekeys", () => {
    test("each one-time prekey is handed out once, then bundles come without one", async () => {
      const { store } = get();
      const alice = await makeAccount(store, "alice", { opks: 3 });
      expect(await store.oneTimePrekeyCount(alice.id)).toBe(3);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        const bundle = await store.takeBundle(alice.id);
        expect(bundle?.identity).toEqual(alice.identity);
        ids.push(bundle?.oneTimePrekey?.keyId ?? -1);
      }
      expect(ids).toEqual([100, 101, 102]);
      const empty = await store.takeBundle(alice.id);
      expect(empty?.signedPrekey.keyId).toBe(1);
      expect(empty?.oneTimePrekey).toBeUndefined();
      expect(await store.oneTimePrekeyCount(alice.id)).toBe(0);
    });

    test("50 concurrent takeBundle calls share 30 keys: each handed out exactly once", async () => {
      const { store } = get();
      const alice = await makeAccount(store, "alice", { opks: 30 });
      const bundles = await Promise.all(Array.from({ length: 50 }, () => store.takeBundle(alice.id)));
      const handed = bundles.map((b) => b?.oneTimePrekey?.keyId).filter((id): id is number => id !== undefined);
      expect(bundles.every((b) => b !== undefined)).toBe(true);
      expect(handed).toHaveLength(30);
      expect(new Set(handed).size).toBe(30);
      expect(await store.oneTimePrekeyCount(alice.id)).toBe(0);
    });

    test("the newest signed prekey upload is current, even when it re-uses an older id", async () => {
      const { store } = get();
      const alice = await makeAccount(store, "alice");
      const second = signedPrekey(2);
      await store.putSignedPrekey(alice.id, second, at(10));
      expect((await store.takeBundle(alice.id))?.signedPrekey).toEqual(second);
      const again = signedPrekey(1);
      await store.putSignedPrekey(alice.id, again, at(20));
      expect((await store.takeBundle(alice.id))?.signedPrekey).toEqual(again);
    });

    test("addOneTimePrekeys ignores ids the account already has, and repeats within one call", async () => {
      const { store } = get();
      const alice = await makeAccount(store, "alice", { opks: 2 }); // ids 100, 101
      const [k101, k102] = oneTimePrekeys(101, 2);
      expect(await store.addOneTimePrekeys(alice.id, [k101!, k102!, k102!])).toBe(1);
      expect(await store.oneTimePrekeyCount(alice.id)).toBe(3);
      expect(await store.addOneTimePrekeys(alice.id, [])).toBe(0);
    });

    test("a disabled or unknown account has no bundle, and nothing is consumed", async () => {
      const { store } = get();
      const alice = await makeAccount(store, "alice", { opks: 2 });
      await store.setDisabled("alice", true);
      expect(await store.takeBundle(alice.id)).toBeUndefined();
      expect(await store.oneTimePrekeyCount(alice.id)).toBe(2);
      expect(await store.takeBundle(12345)).toBeUndefined();
    });
  });

  describe("chats", () => {
    test("a direct chat is created once and reused from either side", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const first = await store.openDirectChat(a.id, b.id);
      expect(first.created).toBe(true);
      expect(first.chat.kind).toBe("direct");
      expect(first.chat.members.map((m) => [m.username, m.role])).toEqual([
        ["alice", "admin"],
        ["bob", "admin"],
      ]);
      const again = await store.openDirectChat(b.id, a.id);
      expect(again.created).toBe(false);
      expect(again.chat.id).toBe(first.chat.id);
      await expect(store.openDirectChat(a.id, a.id)).rejects.toThrow(/two different accounts/);
    });

    test("concurrent opens of the same direct chat agree on one chat", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2 ? store.openDirectChat(a.id, b.id) : store.openDirectChat(b.id, a.id),
        ),
      );
      expect(new Set(results.map((r) => r.chat.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results.every((r) => r.chat.members.length === 2)).toBe(true);
    });

    test("groups: roles, membership changes, closing, and chatsOf", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const c = await makeAccount(store, "carol");
      const group = await store.createGroupChat(a.id, [b.id, a.id, b.id]);
      expect(group.kind).toBe("group");
      expect(group.members.map((m) => [m.accountId, m.role])).toEqual([
        [a.id, "admin"],
        [b.id, "member"],
      ]);
      expect(await store.memberRole(group.id, a.id)).toBe("admin");
      expect(await store.memberRole(group.id, c.id)).toBeUndefined();
      expect(await store.addMember(group.id, c.id, "member")).toBe(true);
      expect(await store.addMember(group.id, c.id, "admin")).toBe(false);
      expect(await store.setRole(group.id, c.id, "admin")).toBe(true);
      expect(await store.memberRole(group.id, c.id)).toBe("admin");
      expect(await store.removeMember(group.id, b.id)).toBe(true);
      expect(await store.removeMember(group.id, b.id)).toBe(false);
      expect((await store.members(group.id)).map((m) => m.username)).toEqual(["alice", "carol"]);
      expect(await store.setClosed(group.id, true)).toBe(true);
      expect(await store.setClosed(999, true)).toBe(false);
      expect((await store.chat(group.id))?.closed).toBe(true);
      expect(await store.chat(999)).toBeUndefined();

      const direct = await store.openDirectChat(c.id, b.id);
      const ofCarol = await store.chatsOf(c.id);
      expect(ofCarol.map((ch) => [ch.id, ch.kind, ch.closed, ch.members.map((m) => m.username)])).toEqual([
        [group.id, "group", true, ["alice", "carol"]],
        [direct.chat.id, "direct", false, ["bob", "carol"]],
      ]);
      expect(await store.chatsOf(b.id)).toHaveLength(1);
    });
  });

  // Every batch size goes through the one rule, smsg_insert_messages (relay/store/sends.ts);
  // send-rule.ts pins it for sizes on both sides of the old 16-send split between two paths.
  describe("insertMessages", () => {
    const get = getHarness;
    async function twoPeople() {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(a.id, b.id);
      return { a, b, chat };
    }

    test("a batch is stored in one go, ids increasing in batch order, created_at = now", async () => {
      const { db, store } = get();
      const { a, b, chat } = await twoPeople();
      const batch = [msg(chat.id, a.id), msg(chat.id, b.id), msg(chat.id, a.id)];
      const results = (await store.insertMessages(batch, at(5))).map(ok);
      expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
      expect(results.map((r) => r.id)).toEqual([1, 2, 3]);
      expect(results.every((r) => r.createdAt.getTime() === at(5).getTime())).toBe(true);
      expect(await countRows(db, "messages")).toBe(3);
      expect(await store.insertMessages([], T0)).toEqual([]);
    });

    test("a retry returns the original id and created_at and stores nothing new", async () => {
      const { db, store } = get();
      const { a, chat } = await twoPeople();
      const send = msg(chat.id, a.id);
      const original = ok((await store.insertMessages([send], at(1)))[0]);
      const retry = ok((await store.insertMessages([{ ...send, envelope: bytes(48) }], at(2)))[0]);
      expect(retry).toEqual({ ...original, duplicate: true });
      expect(await countRows(db, "messages")).toBe(1);
      // Still recognised after the chat was closed.
      await store.setClosed(chat.id, true);
      expect(ok((await store.insertMessages([send], at(3)))[0]).id).toBe(original.id);
    });

    test("the same (sender, idem) twice in one batch is stored once", async () => {
      const { db, store } = get();
      const { a, chat } = await twoPeople();
      const send = msg(chat.id, a.id);
      const [first, second, third] = await store.insertMessages([send, msg(chat.id, a.id), send], T0);
      expect(ok(first).duplicate).toBe(false);
      expect(ok(third)).toEqual({ ...ok(first), duplicate: true });
      expect(ok(second).id).not.toBe(ok(first).id);
      expect(await countRows(db, "messages")).toBe(2);
    });

    test("another sender may reuse an idem; the same sender reusing it in another chat is a conflict", async () => {
      const { store } = get();
      const { a, b, chat } = await twoPeople();
      const group = await store.createGroupChat(a.id, [b.id]);
      const idem = bytes(16);
      const [fromA, fromB] = await store.insertMessages(
        [msg(chat.id, a.id, { idem }), msg(chat.id, b.id, { idem })],
        T0,
      );
      expect(ok(fromA).duplicate).toBe(false);
      expect(ok(fromB).duplicate).toBe(false);
      expect(ok(fromB).id).not.toBe(ok(fromA).id);
      expect(await store.insertMessages([msg(group.id, a.id, { idem })], T0)).toEqual([
        { ok: false, reason: "idem_conflict" },
      ]);
      // Within one batch too.
      const idem2 = bytes(16);
      const [x, y] = await store.insertMessages(
        [msg(chat.id, a.id, { idem: idem2 }), msg(group.id, a.id, { idem: idem2 })],
        T0,
      );
      expect(ok(x).duplicate).toBe(false);
      expect(y).toEqual({ ok: false, reason: "idem_conflict" });
    });

    test("refused sends are typed, and do not stop the rest of the batch", async () => {
      const { db, store } = get();
      const { a, b, chat } = await twoPeople();
      const c = await makeAccount(store, "carol");
      const closed = await store.createGroupChat(a.id, [b.id]);
      await store.setClosed(closed.id, true);
      const results = await store.insertMessages(
        [
          msg(999, a.id),
          msg(chat.id, c.id),
          msg(closed.id, a.id),
          msg(closed.id, c.id),
          msg(chat.id, a.id, { recipientId: c.id }),
          msg(chat.id, a.id, { recipientId: b.id }),
        ],
        T0,
      );
      expect(results.map((r) => (r.ok ? "ok" : r.reason))).toEqual([
        "chat_unknown",
        "not_member",
        "chat_closed",
        "not_member",
        "recipient_not_member",
        "ok",
      ]);
      expect(await countRows(db, "messages")).toBe(1);
    });

    test("a database error fails the whole batch and stores nothing", async () => {
      const { db, store } = get();
      const { a, chat } = await twoPeople();
      await expect(
        store.insertMessages([msg(chat.id, a.id), msg(chat.id, a.id, { idem: bytes(15) })], T0),
      ).rejects.toThrow();
      expect(await countRows(db, "messages")).toBe(0);
    });
  });

  describe("delivery", () => {
    test("pendingFor: every chat, ordered by id, paged, own and others' directed messages excluded", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const c = await makeAccount(store, "carol");
      const direct = (await store.openDirectChat(a.id, b.id)).chat;
      const group = await store.createGroupChat(a.id, [b.id, c.id]);
      const results = (
        await store.insertMessages(
          [
            msg(direct.id, a.id), // 1 → bob
            msg(group.id, a.id), // 2 → bob, carol
            msg(group.id, b.id), // 3 bob's own
            msg(group.id, a.id, { recipientId: c.id }), // 4 → carol only
            msg(group.id, a.id, { recipientId: b.id }), // 5 → bob only
            msg(direct.id, a.id), // 6 → bob
          ],
          T0,
        )
      ).map(ok);
      expect(results.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6]);

      const all = await store.pendingFor(b.id, { limit: 100 });
      expect(all.map((m) => m.id)).toEqual([1, 2, 5, 6]);
      expect(all[0]).toMatchObject({ chatId: direct.id, senderId: a.id, recipientId: null });
      expect(all[2]?.recipientId).toBe(b.id);
      expect(all[0]?.envelope).toBeInstanceOf(Uint8Array);

      const page1 = await store.pendingFor(b.id, { limit: 2 });
      const page2 = await store.pendingFor(b.id, { limit: 2, afterByChat: nextPageAfter(page1) });
      const page3 = await store.pendingFor(b.id, { limit: 2, afterByChat: nextPageAfter(page2, nextPageAfter(page1)) });
      expect([page1, page2, page3].map((p) => p.map((m) => m.id))).toEqual([[1, 2], [5, 6], []]);
      // Paging is per chat: having received the group up to id 5 moves only the group's
      // position, so the direct chat's 1 and 6 still come (a global "after 5" would lose 1).
      const late = nextPageAfter([{ ...all[1]!, id: 5 }]);
      expect((await store.pendingFor(b.id, { limit: 10, afterByChat: late })).map((m) => m.id)).toEqual([1, 6]);

      expect((await store.pendingFor(c.id, { limit: 100 })).map((m) => m.id)).toEqual([2, 3, 4]);
      expect((await store.pendingFor(a.id, { limit: 100 })).map((m) => m.id)).toEqual([3]);
      await expect(store.pendingFor(a.id, { limit: 0 })).rejects.toThrow(/limit/);
    });

    test("a new member sees no older messages, only newer ones", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const c = await makeAccount(store, "carol");
      const group = await store.createGroupChat(a.id, [b.id]);
      await store.insertMessages([msg(group.id, a.id), msg(group.id, b.id)], T0);
      await store.addMember(group.id, c.id, "member");
      const [later] = (await store.insertMessages([msg(group.id, a.id)], T0)).map(ok);
      expect((await store.pendingFor(c.id, { limit: 10 })).map((m) => m.id)).toEqual([later?.id]);
      expect((await store.fetchChatMessages(group.id, c.id, 0, 10)).map((m) => m.id)).toEqual([later?.id]);
      // A member removed and added again starts over from the time of re-adding.
      await store.removeMember(group.id, c.id);
      await store.addMember(group.id, c.id, "member");
      expect(await store.pendingFor(c.id, { limit: 10 })).toEqual([]);
    });

    test("messagesByIds returns the stored ones, by id", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(a.id, b.id);
      const envelope = bytes(20);
      await store.insertMessages([msg(chat.id, a.id), msg(chat.id, b.id, { recipientId: a.id, envelope })], at(7));
      const found = await store.messagesByIds([2, 999, 1, 2]);
      expect(found.map((m) => m.id)).toEqual([1, 2]);
      expect(found[1]).toEqual({
        id: 2,
        chatId: chat.id,
        senderId: b.id,
        recipientId: a.id,
        envelope,
        createdAt: at(7),
      });
      expect(await store.messagesByIds([])).toEqual([]);
    });

    test("ackCursor is monotonic, capped at the chat's newest message, and only for members", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const c = await makeAccount(store, "carol");
      const { chat } = await store.openDirectChat(a.id, b.id);
      await store.insertMessages([msg(chat.id, a.id), msg(chat.id, a.id), msg(chat.id, a.id)], T0); // ids 1..3
      expect(await store.ackCursor(b.id, chat.id, 2)).toBe(2);
      expect((await store.pendingFor(b.id, { limit: 10 })).map((m) => m.id)).toEqual([3]);
      expect(await store.ackCursor(b.id, chat.id, 1)).toBe(2);
      expect(await store.ackCursor(b.id, chat.id, 1_000_000)).toBe(3);
      const [next] = (await store.insertMessages([msg(chat.id, a.id)], T0)).map(ok);
      expect((await store.pendingFor(b.id, { limit: 10 })).map((m) => m.id)).toEqual([next?.id]);
      expect(await store.ackCursor(c.id, chat.id, 3)).toBeUndefined();
    });

    test("fetchChatMessages: history with own messages, without others' directed ones", async () => {
      const { store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const c = await makeAccount(store, "carol");
      const group = await store.createGroupChat(a.id, [b.id, c.id]);
      await store.insertMessages(
        [
          msg(group.id, b.id),
          msg(group.id, a.id, { recipientId: c.id }),
          msg(group.id, a.id, { recipientId: b.id }),
          msg(group.id, a.id),
        ],
        T0,
      );
      expect((await store.fetchChatMessages(group.id, b.id, 0, 10)).map((m) => m.id)).toEqual([1, 3, 4]);
      expect((await store.fetchChatMessages(group.id, a.id, 0, 10)).map((m) => m.id)).toEqual([1, 2, 3, 4]);
      expect((await store.fetchChatMessages(group.id, b.id, 1, 1)).map((m) => m.id)).toEqual([3]);
      expect(await store.fetchChatMessages(group.id, 999, 0, 10)).toEqual([]);
    });
  });

  describe("retention", () => {
    test("deleteDelivered removes a message once every recipient acked it, and its bytes are gone", async () => {
      const { db, store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const c = await makeAccount(store, "carol");
      const group = await store.createGroupChat(a.id, [b.id, c.id]);
      const envelope = bytes(64);
      const [m1] = (await store.insertMessages([msg(group.id, a.id, { envelope })], T0)).map(ok);
      expect(await store.deleteDelivered()).toBe(0);
      await store.ackCursor(b.id, group.id, m1!.id);
      expect(await store.deleteDelivered()).toBe(0);
      await store.ackCursor(c.id, group.id, m1!.id);
      expect(await searchAllTablesFor(db, envelope)).toEqual(["messages.envelope"]);
      expect(await store.deleteDelivered()).toBe(1);
      expect(await searchAllTablesFor(db, envelope)).toEqual([]);
    });

    test("recipients: only the directed one; not those who joined later or left", async () => {
      const { db, store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const c = await makeAccount(store, "carol");
      const d = await makeAccount(store, "dave");
      const group = await store.createGroupChat(a.id, [b.id, c.id]);
      const [directed, broadcast] = (
        await store.insertMessages([msg(group.id, a.id, { recipientId: b.id }), msg(group.id, a.id)], T0)
      ).map(ok);
      await store.addMember(group.id, d.id, "member"); // joined after both: not a recipient
      await store.ackCursor(b.id, group.id, directed!.id); // bob acked only the directed one
      expect(await store.deleteDelivered()).toBe(1);
      expect((await db.query<{ id: number }>("SELECT id FROM messages")).map((r) => r.id)).toEqual([broadcast!.id]);
      await store.ackCursor(b.id, group.id, broadcast!.id);
      await store.removeMember(group.id, c.id); // carol left without acking
      expect(await store.deleteDelivered()).toBe(1);
      expect(await countRows(db, "messages")).toBe(0);
    });

    test("deleteDelivered keeps acked messages newer than createdBefore, and honours limit", async () => {
      const { db, store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(a.id, b.id);
      await store.insertMessages([msg(chat.id, a.id), msg(chat.id, a.id)], at(0));
      await store.insertMessages([msg(chat.id, a.id)], at(60_000));
      await store.ackCursor(b.id, chat.id, 3);
      expect(await store.deleteDelivered({ createdBefore: at(30_000), limit: 1 })).toBe(1);
      expect(await store.deleteDelivered({ createdBefore: at(30_000) })).toBe(1);
      expect(await countRows(db, "messages")).toBe(1);
      expect(await store.deleteDelivered()).toBe(1);
    });

    test("expireOlderThan deletes unacked messages older than the cutoff", async () => {
      const { db, store } = get();
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(a.id, b.id);
      await store.insertMessages([msg(chat.id, a.id), msg(chat.id, a.id)], at(0));
      await store.insertMessages([msg(chat.id, a.id)], at(10_000));
      expect(await store.expireOlderThan(at(10_000))).toBe(2);
      expect(await store.expireOlderThan(at(10_000))).toBe(0);
      expect(await countRows(db, "messages")).toBe(1);
      expect((await store.pendingFor(b.id, { limit: 10 })).map((m) => m.id)).toEqual([3]);
    });
  });
}
