/**
 * Deleting from the `messages` table what is no longer needed: delivered messages (after
 * `--retention`) and undelivered ones past `--message-ttl` (docs/ARCHITECTURE.md §4.2).
 */
import type { Int8, Queryable } from "./db.js";
import { checkLimit, num, one } from "./sql-values.js";

/**
 * Deletes messages every recipient has acknowledged, and returns how many. Recipients are
 * the chat's current members other than the sender who joined before the message (or, for a
 * directed message, that one member); a message none of them still waits for is delivered.
 * With `createdBefore`, only messages created before it go (a retention setting that keeps
 * acked ciphertext for a while; it is also how long a retried send is still recognised as a
 * duplicate, since the idempotency record is the message row). Deletes at most `limit`
 * (default 10 000) per call, oldest first: call again while it returns `limit`.
 */
export async function deleteDelivered(
  q: Queryable,
  options: { createdBefore?: Date; limit?: number } = {},
): Promise<number> {
  const limit = options.limit ?? 10_000;
  checkLimit(limit);
  const rows = await q.query<{ n: Int8 }>(
    `WITH doomed AS (
       SELECT m.id FROM messages m
        WHERE ($1::timestamptz IS NULL OR m.created_at < $1::timestamptz)
          AND NOT EXISTS (
            SELECT 1 FROM chat_members cm
             WHERE cm.chat_id = m.chat_id
               AND cm.account_id <> m.sender_id
               AND (m.recipient_id IS NULL OR cm.account_id = m.recipient_id)
               AND cm.member_since_message < m.id
               AND cm.cursor < m.id)
        ORDER BY m.id
        LIMIT $2),
     deleted AS (DELETE FROM messages WHERE id IN (SELECT id FROM doomed) RETURNING 1)
     SELECT count(*) AS n FROM deleted`,
    [options.createdBefore ?? null, limit],
  );
  return num(one(rows).n);
}

/**
 * Deletes messages created before `cutoff`, delivered or not (the undelivered-message TTL),
 * and returns how many. At most `limit` (default 10 000) per call, oldest first.
 */
export async function expireOlderThan(q: Queryable, cutoff: Date, limit = 10_000): Promise<number> {
  checkLimit(limit);
  const rows = await q.query<{ n: Int8 }>(
    `WITH doomed AS (SELECT id FROM messages WHERE created_at < $1 ORDER BY created_at LIMIT $2),
          deleted AS (DELETE FROM messages WHERE id IN (SELECT id FROM doomed) RETURNING 1)
     SELECT count(*) AS n FROM deleted`,
    [cutoff, limit],
  );
  return num(one(rows).n);
}
