/**
 * Pins the rule for accepting sends (smsg_insert_messages, migrations/0005_one_send_rule.sql;
 * RelayStore.insertMessages) against a model written from its documentation: for batch sizes
 * on both sides of 16 (until migration 0005, batches of up to 16 and larger ones took two
 * different paths), every kind of send in one batch, each answer compared with the model's,
 * and what was stored compared with what was answered. Run against every server with the
 * store suite (embedded.test.ts, pg.test.ts).
 */
import { beforeEach, describe, expect, test } from "vitest";
import type { InsertResult, NewMessage } from "../../../relay/store/types.js";
import { T0, at, bytes, countRows, makeAccount, resetTables, type Harness } from "./harness.js";

/** The kinds of send one batch mixes, cycled in this order. */
const KINDS = [
  "new",
  "new, directed to a member",
  "directed to someone not in the chat",
  "to a closed chat",
  "from a non-member",
  "from a non-member to a closed chat",
  "to a chat that does not exist",
  "retry of a stored send",
  "retry of a stored send into a chat closed since",
  "stored idem reused for another chat",
  "repeat within the batch",
  "repeat within the batch for another chat",
  "repeat within the batch of a refused send",
  "stored idem reused for another recipient",
  "stored idem of a directed send reused for the whole chat",
  "repeat within the batch for another recipient",
  "retry of a stored directed send",
] as const;

type Kind = (typeof KINDS)[number];

/** What the rule answers, with `id` naming the send whose stored id it returns. */
type Expected = { ok: true; duplicate: boolean; sameIdAs?: number | "stored" } | { ok: false; reason: string };

export function sendRuleSuite(get: () => Harness): void {
  describe("the rule for accepting sends", () => {
    beforeEach(async () => {
      await resetTables(get().db);
    });

    test.each([1, 2, 13, 16, 17, 40, 100])(
      "a batch of %i mixed sends, answered and stored as the rule says",
      async (size) => {
        const { db, store } = get();
        const alice = await makeAccount(store, "alice");
        const bob = await makeAccount(store, "bob");
        const carol = await makeAccount(store, "carol");
        const dave = await makeAccount(store, "dave");
        const group = await store.createGroupChat(alice.id, [bob.id, dave.id]);
        const closed = await store.createGroupChat(alice.id, [bob.id]);
        await store.setClosed(closed.id, true);
        const closedLater = await store.createGroupChat(alice.id, [bob.id]);
        const notAlices = await store.createGroupChat(carol.id, [dave.id]);
        const unknownChat = 999_999;

        // Sends stored before the batch: the originals of the retries and of the reused idem.
        const stored: { send: NewMessage; id: number }[] = [];
        const store1 = async (send: NewMessage) => {
          const [r] = await store.insertMessages([send], at(1));
          if (r === undefined || !r.ok) throw new Error("an earlier send was not stored");
          stored.push({ send, id: r.id });
          return { send, id: r.id };
        };

        const batch: NewMessage[] = [];
        const expected: Expected[] = [];
        const storedIdOf = new Map<number, number>(); // batch position → the earlier send's id it must return
        let lastNew = -1;
        let lastRefused = -1;
        let lastDirected = -1;
        for (let i = 0; i < size; i++) {
          const kind: Kind = KINDS[i % KINDS.length]!;
          const send = (chatId: number, senderId: number, recipientId: number | null = null): NewMessage => ({
            chatId,
            senderId,
            recipientId,
            idem: bytes(16),
            envelope: bytes(40),
          });
          let m: NewMessage;
          let e: Expected;
          switch (kind) {
            case "new":
              m = send(group.id, i % 2 === 0 ? alice.id : bob.id);
              e = { ok: true, duplicate: false };
              lastNew = i;
              break;
            case "new, directed to a member":
              m = send(group.id, alice.id, bob.id);
              e = { ok: true, duplicate: false };
              lastDirected = i;
              break;
            case "directed to someone not in the chat":
              m = send(group.id, alice.id, carol.id);
              e = { ok: false, reason: "recipient_not_member" };
              lastRefused = i;
              break;
            case "to a closed chat":
              m = send(closed.id, alice.id);
              e = { ok: false, reason: "chat_closed" };
              break;
            case "from a non-member":
              m = send(notAlices.id, alice.id);
              e = { ok: false, reason: "not_member" };
              break;
            case "from a non-member to a closed chat":
              // A non-member learns only that the chat is unknown to it, not that it is closed.
              m = send(closed.id, carol.id);
              e = { ok: false, reason: "not_member" };
              break;
            case "to a chat that does not exist":
              m = send(unknownChat, alice.id);
              e = { ok: false, reason: "chat_unknown" };
              break;
            case "retry of a stored send": {
              const original = await store1(send(group.id, bob.id));
              m = { ...original.send, envelope: bytes(40) };
              e = { ok: true, duplicate: true, sameIdAs: "stored" };
              storedIdOf.set(i, original.id);
              break;
            }
            case "retry of a stored send into a chat closed since": {
              const original = await store1(send(closedLater.id, alice.id));
              m = { ...original.send };
              e = { ok: true, duplicate: true, sameIdAs: "stored" };
              storedIdOf.set(i, original.id);
              break;
            }
            case "stored idem reused for another chat": {
              const original = await store1(send(group.id, alice.id));
              m = { ...original.send, chatId: closed.id };
              e = { ok: false, reason: "idem_conflict" };
              break;
            }
            case "repeat within the batch":
              m = { ...batch[lastNew]! };
              e = { ok: true, duplicate: true, sameIdAs: lastNew };
              break;
            case "repeat within the batch for another chat":
              m = { ...batch[lastNew]!, chatId: closedLater.id };
              e = { ok: false, reason: "idem_conflict" };
              break;
            case "repeat within the batch of a refused send":
              m = { ...batch[lastRefused]! };
              e = expected[lastRefused]!;
              break;
            // One envelope (so one derived idem, SECURITY.md §14.9) addressed to two members is
            // two sends, not a retry: the second is refused, never silently taken as stored.
            case "stored idem reused for another recipient": {
              const original = await store1(send(group.id, alice.id, bob.id));
              m = { ...original.send, recipientId: dave.id };
              e = { ok: false, reason: "idem_conflict" };
              break;
            }
            case "stored idem of a directed send reused for the whole chat": {
              const original = await store1(send(group.id, alice.id, dave.id));
              m = { ...original.send, recipientId: null };
              e = { ok: false, reason: "idem_conflict" };
              break;
            }
            case "repeat within the batch for another recipient":
              m = { ...batch[lastDirected]!, recipientId: dave.id };
              e = { ok: false, reason: "idem_conflict" };
              break;
            case "retry of a stored directed send": {
              const original = await store1(send(group.id, bob.id, dave.id));
              m = { ...original.send };
              e = { ok: true, duplicate: true, sameIdAs: "stored" };
              storedIdOf.set(i, original.id);
              break;
            }
          }
          batch.push(m);
          expected.push(e);
        }
        await store.setClosed(closedLater.id, true);
        const messagesBefore = await countRows(db, "messages");

        const results: InsertResult[] = await store.insertMessages(batch, at(2));

        expect(results).toHaveLength(size);
        results.forEach((r, i) => {
          const e = expected[i]!;
          const what = `send ${i} (${KINDS[i % KINDS.length]!})`;
          if (!e.ok) {
            expect(r, what).toEqual({ ok: false, reason: e.reason });
            return;
          }
          expect(r.ok, what).toBe(true);
          if (!r.ok) return;
          expect(r.duplicate, what).toBe(e.duplicate);
          if (e.sameIdAs === "stored") expect(r.id, what).toBe(storedIdOf.get(i));
          else if (e.sameIdAs !== undefined)
            expect(r, what).toEqual({ ...(results[e.sameIdAs] as object), duplicate: true });
          else expect(r.createdAt.getTime(), what).toBe(at(2).getTime());
        });

        // Exactly the new sends were stored, with ids increasing in batch order.
        const newIds = results.flatMap((r) => (r.ok && !r.duplicate ? [r.id] : []));
        expect(await countRows(db, "messages")).toBe(messagesBefore + newIds.length);
        expect([...newIds].sort((a, b) => a - b)).toEqual(newIds);
        expect(Math.min(...newIds, Infinity)).toBeGreaterThan(Math.max(0, ...stored.map((s) => s.id)));
        const rows = await db.query<{ id: number; chat_id: number; sender_id: number; recipient_id: number | null }>(
          "SELECT id, chat_id, sender_id, recipient_id FROM messages WHERE id = ANY($1::bigint[]) ORDER BY id",
          [newIds],
        );
        expect(
          rows.map((r) => [r.id, r.chat_id, r.sender_id, r.recipient_id].map((v) => (v === null ? v : Number(v)))),
        ).toEqual(
          results.flatMap((r, i) =>
            r.ok && !r.duplicate ? [[r.id, batch[i]!.chatId, batch[i]!.senderId, batch[i]!.recipientId]] : [],
          ),
        );

        // The same batch again: every stored send a duplicate of itself, every refusal the same.
        const again = await store.insertMessages(batch, at(3));
        expect(again).toEqual(results.map((r) => (r.ok ? { ...r, duplicate: true } : r)));
        expect(await countRows(db, "messages")).toBe(messagesBefore + newIds.length);
      },
    );

    test("an older relay's call of the function, first occurrences only, is answered as before", async () => {
      // A relay of the previous version sharing the database passes only the first send of each
      // (sender, idem) and maps repeats itself (migrations/0005_one_send_rule.sql).
      const { db, store } = get();
      const alice = await makeAccount(store, "alice");
      const bob = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(alice.id, bob.id);
      const first = { chatId: chat.id, senderId: alice.id, recipientId: null, idem: bytes(16), envelope: bytes(8) };
      const [stored] = await store.insertMessages([first], T0);
      const idem = bytes(16);
      const rows = await db.query<{ r_ord: number; r_outcome: string; r_id: number | bigint | null }>(
        `SELECT r_ord, r_outcome, r_id
           FROM smsg_insert_messages($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[], $6::bytea[], $7)`,
        [
          [chat.id],
          [chat.id, chat.id],
          [alice.id, alice.id],
          [null, null],
          [first.idem, idem],
          [bytes(8), bytes(8)],
          at(1),
        ],
      );
      const id = (stored as { id: number }).id;
      // (The retry used up a message id: ids have gaps, see the migration.)
      expect(rows.map((r) => [r.r_ord, r.r_outcome])).toEqual([
        [1, "duplicate"],
        [2, "new"],
      ]);
      expect(Number(rows[0]!.r_id)).toBe(id);
      expect(Number(rows[1]!.r_id)).toBeGreaterThan(id);
    });
  });
}
