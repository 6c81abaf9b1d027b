/**
 * Pins that every change a send's checks depend on, a member's removal or role, a chat's
 * closing, an account's deletion, takes the chat's lock the send path takes
 * (relay/store/chat-locks.ts, docs/ARCHITECTURE.md §4.2). A send is held open inside its
 * transaction, after its checks and its INSERT, as a slow relay would be; the change is
 * started and shown to wait for that lock; once the send commits the change goes through
 * and the next send is refused. So a send racing the change is stored before it or refused,
 * never stored after it from a snapshot that predates it. Run against every server with the
 * store suite (embedded.test.ts, pg.test.ts).
 */
import { beforeEach, describe, expect, test } from "vitest";
import { deleteAccount } from "../../../relay/store/account-admin.js";
import type { Db } from "../../../relay/store/db.js";
import type { NewMessage } from "../../../relay/store/types.js";
import { waitFor } from "../../helpers/wait-for.js";
import { T0, bytes, countRows, makeAccount, resetTables, type Harness } from "./harness.js";

/**
 * A send run by smsg_insert_messages in a transaction kept open until `commit` is called:
 * `inserted` is its answer once the function ran (its chat lock held, nothing committed),
 * `committed` the same answer after the COMMIT.
 */
function heldSend(
  db: Db,
  m: NewMessage,
): { inserted: Promise<string>; committed: Promise<string>; commit: () => void } {
  let commit = () => {};
  const released = new Promise<void>((resolve) => (commit = resolve));
  let ran: (outcome: string) => void = () => {};
  const inserted = new Promise<string>((resolve) => (ran = resolve));
  const committed = db.transaction(async (tx) => {
    const rows = await tx.query<{ r_outcome: string }>(
      `SELECT r_outcome FROM smsg_insert_messages($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                                                  $5::bytea[], $6::bytea[], $7)`,
      [[m.chatId], [m.chatId], [m.senderId], [m.recipientId], [m.idem], [m.envelope], T0],
    );
    const outcome = rows[0]?.r_outcome ?? "no answer";
    ran(outcome);
    await released;
    return outcome;
  });
  return { inserted: Promise.race([inserted, committed]), committed, commit };
}

/** True when some session waits for the advisory lock of chat `chatId` in this database. */
async function waitsForChatLock(db: Db, chatId: number): Promise<boolean> {
  const rows = await db.query<{ n: number | bigint }>(
    `SELECT count(*) AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = $1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [chatId],
  );
  return Number(rows[0]?.n) > 0;
}

export function chatLockSuite(get: () => Harness): void {
  describe("changes a send's checks depend on wait for the send (the chat lock)", () => {
    beforeEach(async () => {
      await resetTables(get().db);
    });

    const changes = ["removing the sender", "changing the sender's role", "closing the chat", "deleting the sender"];

    test.each(changes)("%s waits for a send in flight, which is stored; the next one is refused", async (change) => {
      const { db, store } = get();
      const alice = await makeAccount(store, "alice");
      const bob = await makeAccount(store, "bob");
      const group = await store.createGroupChat(alice.id, [bob.id]);
      const send = (): NewMessage => ({
        chatId: group.id,
        senderId: bob.id,
        recipientId: null,
        idem: bytes(16),
        envelope: bytes(32),
      });

      const start = () => {
        switch (change) {
          case "removing the sender":
            return store.removeMember(group.id, bob.id);
          case "changing the sender's role":
            return store.setRole(group.id, bob.id, "admin");
          case "closing the chat":
            return store.setClosed(group.id, true);
          default:
            return deleteAccount(db, bob.id, T0);
        }
      };

      const inFlight = heldSend(db, send());
      let changed: Promise<unknown> | undefined;
      let settled = false;
      try {
        // The send has run its checks and its INSERT and holds the chat's lock, uncommitted.
        expect(await inFlight.inserted).toBe("new");
        expect(await countRows(db, "messages")).toBe(0);
        changed = start().finally(() => (settled = true));
        await waitFor(() => waitsForChatLock(db, group.id), { what: `${change} to wait for the chat's lock` });
        expect(settled).toBe(false);
      } finally {
        inFlight.commit();
      }
      expect(await inFlight.committed).toBe("new");
      await changed;
      expect(await countRows(db, "messages")).toBe(1);

      const [next] = await store.insertMessages([send()], T0);
      if (change === "changing the sender's role") expect(next?.ok).toBe(true);
      else expect(next).toEqual({ ok: false, reason: change === "closing the chat" ? "chat_closed" : "not_member" });
    });
  });
}
