/**
 * Accepting sends into the `messages` table (docs/ARCHITECTURE.md §3.8 group commit, §4.2).
 * The rule that decides, for each send of a batch, whether it is stored, a duplicate of an
 * earlier one, or refused, is written once: the PL/pgSQL function smsg_insert_sends
 * (migrations/0007_device_mailboxes.sql, which took over 0005's smsg_insert_messages and
 * added devices and send_copies). This file only calls it and reads its answer.
 */
import { InternalError } from "../../src/errors.js";
import type { Db, Int8 } from "./db.js";
import { num } from "./sql-values.js";
import type { InsertFailure, InsertResult, NewSend } from "./types.js";

/** The refusals smsg_insert_messages reports, by name. */
const INSERT_FAILURES: ReadonlySet<string> = new Set<InsertFailure>([
  "chat_unknown",
  "not_member",
  "chat_closed",
  "recipient_not_member",
  "idem_conflict",
  "devices_listed",
  "device_list_stale",
]);

/**
 * Stores a batch of sends in ONE transaction (group commit: the relay acks each send only
 * after this resolves) and returns one result per item, in order. One statement in
 * autocommit, whatever the batch size: a call of smsg_insert_messages, so one round trip and
 * its own transaction, the chat locks held until it commits. Its work per batch is the same
 * whatever its size: lock the chats, check chats and memberships, one multi-row INSERT over
 * unnest() arrays, and a look-up of earlier sends only for those it could not store.
 *
 * Idempotency: a (sender, idem) already stored for the same chat, recipient, sending device
 * and kind (send or send_copies) returns the ORIGINAL id and created_at with
 * `duplicate: true` and stores nothing, even if the chat was closed, the sender removed or a
 * device list changed since; the same pair twice within `batch` is stored once and reported
 * as a duplicate the second time. The pair already used otherwise (SECURITY.md §14.7) is
 * `idem_conflict`. Ids are per sender account: another sender may use the same idem.
 *
 * A new send is refused (typed, nothing stored for it) when the chat does not exist
 * (`chat_unknown`), the sender is not a member (`not_member`), the chat is closed
 * (`chat_closed`), a directed envelope's recipient is not a member (`recipient_not_member`),
 * a `send` goes to a direct chat where a member has a device list (`devices_listed`), or a
 * send_copies' copies do not match the members' current devices (`device_list_stale`,
 * SECURITY.md §17.8), checked in that order. Other items of the batch are unaffected.
 * A send_copies stores one message row (no envelope) and a row per copy, all or nothing. `now` becomes every new
 * message's created_at.
 *
 * Throws (and stores nothing from the whole batch) on a database error, e.g. an idem that
 * is not 16 bytes: the caller validates inputs first. A batch may also fail with a deadlock
 * (SQLSTATE 40P01) in one pathological case: two relays at once storing batches in which the
 * same sender reuses idems across different chats in opposite orders. Retrying a failed
 * batch is always safe: it is idempotent.
 */
export async function insertMessages(db: Db, batch: readonly NewSend[], now: Date): Promise<InsertResult[]> {
  if (batch.length === 0) return [];
  const lock = [...new Set(batch.map((m) => m.chatId))].sort((a, b) => a - b);
  const copyOrd: number[] = [];
  const copyAccount: number[] = [];
  const copyDevice: number[] = [];
  const copyEnvelope: Uint8Array[] = [];
  batch.forEach((m, i) => {
    if (!("copies" in m)) return;
    for (const c of m.copies) {
      copyOrd.push(i + 1);
      copyAccount.push(c.accountId);
      copyDevice.push(c.deviceId);
      copyEnvelope.push(c.envelope);
    }
  });
  const rows = await db.query<{ r_ord: number; r_outcome: string; r_id: Int8 | null; r_created_at: Date | null }>(
    `SELECT r_ord, r_outcome, r_id, r_created_at
       FROM smsg_insert_sends($1::bigint[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[], $6::bytea[],
                              $7::bytea[], $8::integer[], $9::bigint[], $10::integer[], $11::bytea[], $12)`,
    [
      lock,
      batch.map((m) => m.chatId),
      batch.map((m) => m.senderId),
      batch.map((m) => m.senderDevice ?? 1),
      batch.map((m) => ("copies" in m ? null : m.recipientId)),
      batch.map((m) => m.idem),
      batch.map((m) => ("copies" in m ? null : m.envelope)),
      copyOrd,
      copyAccount,
      copyDevice,
      copyEnvelope,
      now,
    ],
  );
  const results = new Array<InsertResult | undefined>(batch.length);
  for (const r of rows) {
    if (r.r_outcome === "new" || r.r_outcome === "duplicate") {
      if (r.r_id === null || r.r_created_at === null) throw new InternalError("a stored send came back without its id");
      results[r.r_ord - 1] = {
        ok: true,
        id: num(r.r_id),
        createdAt: r.r_created_at,
        duplicate: r.r_outcome === "duplicate",
      };
    } else if (INSERT_FAILURES.has(r.r_outcome)) {
      results[r.r_ord - 1] = { ok: false, reason: r.r_outcome as InsertFailure };
    } else {
      throw new InternalError(`unexpected send outcome ${r.r_outcome}`);
    }
  }
  return results.map((r) => {
    if (r === undefined) throw new InternalError("no outcome for a send in the batch");
    return r;
  });
}
