/**
 * Accepting sends into the `messages` table (docs/ARCHITECTURE.md §3.8 group commit, §4.2):
 * the rule that decides, for each send of a batch, whether it is stored, a duplicate of an
 * earlier one, or refused.
 */
import { InternalError } from "../../src/errors.js";
import { lockChats } from "./chat-locks.js";
import type { Db, Int8, Queryable } from "./db.js";
import { hex, num } from "./sql-values.js";
import type { InsertFailure, InsertResult, NewMessage } from "./types.js";

/**
 * Batches up to this size are stored by one call of smsg_insert_messages (one round trip);
 * larger ones by a transaction (insertInTransaction). Measured on PostgreSQL 15 (2 cores), with the
 * four-statement transaction of before 2026-11-25:
 * the function saves ~1.3 ms per batch of 1 (0.7 vs 2.0 ms) but costs more per row, so from
 * ~32 sends on the transaction is faster (64: 3.3 vs 5 ms; 256: 8 vs 13 ms). Small batches
 * are what an unloaded relay commits (latency); large ones what a saturated one commits.
 */
export const SINGLE_STATEMENT_MAX_BATCH = 16;

/** The refusals smsg_insert_messages reports, by name. */
const INSERT_FAILURES: ReadonlySet<InsertFailure> = new Set<InsertFailure>([
  "chat_unknown",
  "not_member",
  "chat_closed",
  "recipient_not_member",
  "idem_conflict",
]);

/**
 * Stores a batch of sends in ONE transaction (group commit: the relay acks each send only
 * after this resolves) and returns one result per item, in order. The work per batch is the
 * same whatever its size: lock the chats, check chats and memberships and earlier sends with
 * the same (sender, idem), and one multi-row INSERT over unnest() arrays. A
 * small batch (up to SINGLE_STATEMENT_MAX_BATCH) does it in ONE statement in autocommit, a
 * call of the PL/pgSQL function smsg_insert_messages (migrations/0002_…sql): one round
 * trip, its own transaction, the chat locks held until it commits. A larger batch runs the
 * statements inside BEGIN … COMMIT (see insertInTransaction), which costs less per row.
 *
 * Idempotency: a (sender, idem) already stored for the same chat returns the ORIGINAL id and
 * created_at with `duplicate: true` and stores nothing, even if the chat was closed or the
 * sender removed since; the same pair twice within `batch` is stored once and reported as a
 * duplicate the second time. The pair already used for a different chat is `idem_conflict`.
 * Ids are per sender: another sender may use the same idem.
 *
 * A new send is refused (typed, nothing stored for it) when the chat does not exist
 * (`chat_unknown`), is closed (`chat_closed`), the sender is not a member (`not_member`) or a
 * directed envelope's recipient is not a member (`recipient_not_member`). Other items of the
 * batch are unaffected. `now` becomes every new message's created_at.
 *
 * Throws (and stores nothing from the whole batch) on a database error, e.g. an idem that
 * is not 16 bytes: the caller validates inputs first. A batch may also fail with a deadlock
 * (SQLSTATE 40P01) in one pathological case: two relays at once storing batches in which the
 * same sender reuses idems across different chats in opposite orders. Retrying a failed
 * batch is always safe: it is idempotent.
 */
export async function insertMessages(
  db: Db,
  batch: readonly NewMessage[],
  now: Date,
  singleStatementMaxBatch = SINGLE_STATEMENT_MAX_BATCH,
): Promise<InsertResult[]> {
  if (batch.length === 0) return [];
  return batch.length <= singleStatementMaxBatch
    ? insertInOneStatement(db, batch, now)
    : insertInTransaction(db, batch, now);
}

/** insertMessages for a small batch: one call of smsg_insert_messages, in autocommit. */
async function insertInOneStatement(db: Db, batch: readonly NewMessage[], now: Date): Promise<InsertResult[]> {
  // The first occurrence of each (sender, idem) in the batch, by position; repeats follow it.
  const keyOf = (senderId: number, idem: Uint8Array): string => `${senderId}:${hex(idem)}`;
  const firstIndex = new Map<string, number>();
  const firsts: NewMessage[] = [];
  const firstAt: number[] = [];
  const firstOf: number[] = batch.map((m, i) => {
    const key = keyOf(m.senderId, m.idem);
    let f = firstIndex.get(key);
    if (f === undefined) {
      f = firsts.length;
      firstIndex.set(key, f);
      firsts.push(m);
      firstAt.push(i);
    }
    return f;
  });
  const lock = [...new Set(batch.map((m) => m.chatId))].sort((a, b) => a - b);
  // One statement, so one round trip and its own transaction (migrations/0002_…sql).
  const rows = await db.query<{
    r_ord: number;
    r_outcome: string;
    r_id: Int8 | null;
    r_created_at: Date | null;
  }>(
    `SELECT r_ord, r_outcome, r_id, r_created_at
       FROM smsg_insert_messages($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[], $6::bytea[], $7)`,
    [
      lock,
      firsts.map((m) => m.chatId),
      firsts.map((m) => m.senderId),
      firsts.map((m) => m.recipientId),
      firsts.map((m) => m.idem),
      firsts.map((m) => m.envelope),
      now,
    ],
  );
  const outcome: InsertResult[] = new Array<InsertResult>(firsts.length);
  for (const r of rows) {
    let result: InsertResult;
    if (r.r_outcome === "new" || r.r_outcome === "duplicate") {
      if (r.r_id === null || r.r_created_at === null) throw new InternalError("a stored send came back without its id");
      result = { ok: true, id: num(r.r_id), createdAt: r.r_created_at, duplicate: r.r_outcome === "duplicate" };
    } else if (INSERT_FAILURES.has(r.r_outcome as InsertFailure)) {
      result = { ok: false, reason: r.r_outcome as InsertFailure };
    } else {
      throw new InternalError(`unexpected send outcome ${r.r_outcome}`);
    }
    outcome[r.r_ord - 1] = result;
  }

  return batch.map((m, i): InsertResult => {
    const f = firstOf[i]!;
    const first = firsts[f]!;
    const result = outcome[f];
    if (result === undefined) throw new InternalError("no outcome for a send in the batch");
    if (firstAt[f] === i) return result;
    // A repeat within the batch: the same send again, or the idem reused for another chat.
    if (first.chatId !== m.chatId) return { ok: false, reason: "idem_conflict" };
    return result.ok ? { ...result, duplicate: true } : result;
  });
}

/**
 * insertMessages for a large batch: BEGIN, three statements, COMMIT (the same semantics).
 * Lock the chats, read chat state and memberships, INSERT … ON CONFLICT DO NOTHING the sends
 * that pass; only if some send was refused or not inserted (its (sender, idem) is already
 * stored: a retry, or a concurrent transaction committed it first) a fourth statement reads
 * the stored ones, and a stored send wins over a refusal, as if it had been looked up first.
 * The common case, all new and all allowed, saves that lookup's round trip and index probes.
 * (A send whose (sender, idem) is already stored may use up a message id: ids have gaps.)
 */
async function insertInTransaction(db: Db, batch: readonly NewMessage[], now: Date): Promise<InsertResult[]> {
  return db.transaction(async (tx) => {
    await lockChats(
      tx,
      batch.map((m) => m.chatId),
    );

    // The first occurrence of each (sender, idem) in the batch, by position.
    const keyOf = (senderId: number, idem: Uint8Array): string => `${senderId}:${hex(idem)}`;
    const firstIndex = new Map<string, number>();
    batch.forEach((m, i) => {
      const key = keyOf(m.senderId, m.idem);
      if (!firstIndex.has(key)) firstIndex.set(key, i);
    });
    const firstByKey = new Map([...firstIndex].map(([key, i]) => [key, batch[i] as NewMessage]));

    // Chat state and memberships for every (chat, sender) and (chat, recipient) pair.
    const pairs = new Map<string, [number, number]>();
    for (const m of batch) {
      pairs.set(`${m.chatId}:${m.senderId}`, [m.chatId, m.senderId]);
      if (m.recipientId !== null) pairs.set(`${m.chatId}:${m.recipientId}`, [m.chatId, m.recipientId]);
    }
    const pairList = [...pairs.values()];
    const stateRows = await tx.query<{ chat_id: Int8; account_id: Int8; closed: boolean | null; is_member: boolean }>(
      `SELECT u.chat_id, u.account_id, c.closed, (cm.account_id IS NOT NULL) AS is_member
         FROM unnest($1::bigint[], $2::bigint[]) AS u(chat_id, account_id)
         LEFT JOIN chats c ON c.id = u.chat_id
         LEFT JOIN chat_members cm ON cm.chat_id = u.chat_id AND cm.account_id = u.account_id`,
      [pairList.map((p) => p[0]), pairList.map((p) => p[1])],
    );
    const closedByChat = new Map<number, boolean | null>();
    const isMember = new Set<string>();
    for (const r of stateRows) {
      closedByChat.set(num(r.chat_id), r.closed);
      if (r.is_member) isMember.add(`${num(r.chat_id)}:${num(r.account_id)}`);
    }

    // Decide the first occurrence of each (sender, idem); repeats in the batch follow it.
    const outcome = new Map<string, InsertResult>();
    const refused = new Map<string, InsertFailure>();
    const toInsert: NewMessage[] = [];
    for (const [key, m] of firstByKey) {
      const closed = closedByChat.get(m.chatId);
      let refusal: InsertFailure | undefined;
      // A non-member learns only that the chat is unknown to it, not whether it is closed.
      if (closed === undefined || closed === null) refusal = "chat_unknown";
      else if (!isMember.has(`${m.chatId}:${m.senderId}`)) refusal = "not_member";
      else if (closed) refusal = "chat_closed";
      else if (m.recipientId !== null && !isMember.has(`${m.chatId}:${m.recipientId}`))
        refusal = "recipient_not_member";
      if (refusal !== undefined) refused.set(key, refusal);
      else toInsert.push(m);
    }

    if (toInsert.length > 0) {
      const rows = await tx.query<{ id: Int8; sender_id: Int8; idem: Uint8Array; created_at: Date }>(
        `INSERT INTO messages (chat_id, sender_id, recipient_id, idem, envelope, created_at)
         SELECT u.chat_id, u.sender_id, u.recipient_id, u.idem, u.envelope, $6
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[], $5::bytea[])
                WITH ORDINALITY AS u(chat_id, sender_id, recipient_id, idem, envelope, ord)
          ORDER BY u.ord
         ON CONFLICT (sender_id, idem) DO NOTHING
         RETURNING id, sender_id, idem, created_at`,
        [
          toInsert.map((m) => m.chatId),
          toInsert.map((m) => m.senderId),
          toInsert.map((m) => m.recipientId),
          toInsert.map((m) => m.idem),
          toInsert.map((m) => m.envelope),
          now,
        ],
      );
      for (const r of rows) {
        outcome.set(keyOf(num(r.sender_id), r.idem), {
          ok: true,
          id: num(r.id),
          createdAt: r.created_at,
          duplicate: false,
        });
      }
    }

    // Not stored by this INSERT: refused, or the (sender, idem) is already stored (an earlier
    // send, or a concurrent transaction sending to another chat, so not serialised by our
    // chat locks, committed it first; visible now). A stored send is the answer: a duplicate
    // for the same chat, idem_conflict for another, even if the chat was closed or the sender
    // removed since. Otherwise the refusal stands.
    const unresolved: [string, NewMessage][] = [];
    for (const entry of firstByKey) if (!outcome.has(entry[0])) unresolved.push(entry);
    if (unresolved.length > 0) {
      const stored = await findByIdem(
        tx,
        unresolved.map((e) => e[1]),
      );
      for (const [key, m] of unresolved) {
        const w = stored.get(key);
        if (w !== undefined) {
          outcome.set(
            key,
            w.chatId === m.chatId
              ? { ok: true, id: w.id, createdAt: w.createdAt, duplicate: true }
              : { ok: false, reason: "idem_conflict" },
          );
          continue;
        }
        const refusal = refused.get(key);
        if (refusal === undefined)
          throw new InternalError("a send conflicted on its idempotency id but no earlier send was found");
        outcome.set(key, { ok: false, reason: refusal });
      }
    }

    return batch.map((m, i): InsertResult => {
      const key = keyOf(m.senderId, m.idem);
      const first = firstByKey.get(key);
      const result = outcome.get(key);
      if (first === undefined || result === undefined) throw new InternalError("no outcome for a send in the batch");
      if (firstIndex.get(key) === i) return result;
      // A repeat within the batch: the same send again, or the idem reused for another chat.
      if (first.chatId !== m.chatId) return { ok: false, reason: "idem_conflict" };
      return result.ok ? { ...result, duplicate: true } : result;
    });
  });
}

interface StoredIdem {
  readonly id: number;
  readonly chatId: number;
  readonly createdAt: Date;
}

/** Stored messages with the same (sender, idem) as any of `items`, keyed "sender:hex(idem)". */
async function findByIdem(q: Queryable, items: readonly NewMessage[]): Promise<Map<string, StoredIdem>> {
  const found = new Map<string, StoredIdem>();
  if (items.length === 0) return found;
  const rows = await q.query<{ id: Int8; chat_id: Int8; sender_id: Int8; idem: Uint8Array; created_at: Date }>(
    `SELECT m.id, m.chat_id, m.sender_id, m.idem, m.created_at
       FROM unnest($1::bigint[], $2::bytea[]) AS u(sender_id, idem)
       JOIN messages m ON m.sender_id = u.sender_id AND m.idem = u.idem`,
    [items.map((m) => m.senderId), items.map((m) => m.idem)],
  );
  for (const r of rows) {
    found.set(`${num(r.sender_id)}:${hex(r.idem)}`, { id: num(r.id), chatId: num(r.chat_id), createdAt: r.created_at });
  }
  return found;
}
