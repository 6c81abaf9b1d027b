/**
 * Deleting from `messages` and `message_copies` what is no longer needed: delivered messages
 * and copies (after `--retention`) and undelivered ones past `--message-ttl`
 * (docs/ARCHITECTURE.md §4.2, SECURITY.md §14.7 "Retention").
 */
import type { Int8, Queryable } from "./db.js";
import { checkLimit, num, one } from "./sql-values.js";

/**
 * SQL: the cursor of device `device` of member row `cm` in chat `chat` (device 1:
 * chat_members.cursor; the others: device_cursors, 0 without a row).
 */
const cursorOf = (chat: string, device: string) => `(CASE WHEN ${device} = 1 THEN cm.cursor ELSE COALESCE(
      (SELECT dc.cursor FROM device_cursors dc
        WHERE dc.chat_id = ${chat} AND dc.account_id = cm.account_id AND dc.device_id = ${device}), 0) END)`;

/**
 * SQL, true for message row `m` when no recipient device waits for it any more (see
 * deleteDelivered). Also used when an account is deleted (account-admin.ts).
 */
export const DELIVERED = `CASE WHEN m.envelope IS NULL THEN NOT EXISTS (SELECT 1 FROM message_copies c WHERE c.message_id = m.id)
  ELSE NOT EXISTS (
    SELECT 1 FROM chat_members cm
     CROSS JOIN LATERAL (
       SELECT b.device_id, b.since_message FROM device_mailboxes b WHERE b.account_id = cm.account_id
       UNION ALL
       SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = cm.account_id)
     ) AS d(device_id, since_message)
     WHERE cm.chat_id = m.chat_id
       AND NOT (cm.account_id = m.sender_id AND d.device_id = m.sender_device)
       AND (m.recipient_id IS NULL OR (cm.account_id = m.recipient_id AND d.device_id = 1))
       AND cm.member_since_message < m.id
       AND d.since_message < m.id
       AND ${cursorOf("m.chat_id", "d.device_id")} < m.id)
  END`;

/**
 * Deletes the copies of send_copies messages that are delivered, and returns how many: acked
 * by their device, or no longer anyone's to read (the device is not current, or its account
 * left the chat). With `createdBefore`, only copies of messages created before it. At most
 * `limit` (default 10 000) per call, oldest first: call again while it returns `limit`.
 * Run before deleteDelivered, which deletes a send_copies message once its copies are gone.
 */
export async function deleteDeliveredCopies(
  q: Queryable,
  options: { createdBefore?: Date; limit?: number } = {},
): Promise<number> {
  const limit = options.limit ?? 10_000;
  checkLimit(limit);
  const rows = await q.query<{ n: Int8 }>(
    `WITH doomed AS (
       SELECT c.account_id, c.chat_id, c.device_id, c.message_id
         FROM message_copies c JOIN messages m ON m.id = c.message_id
        WHERE ($1::timestamptz IS NULL OR m.created_at < $1::timestamptz)
          AND NOT EXISTS (
            SELECT 1 FROM chat_members cm
             WHERE cm.chat_id = c.chat_id AND cm.account_id = c.account_id
               AND (EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = c.account_id AND b.device_id = c.device_id)
                    OR (c.device_id = 1
                        AND NOT EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = c.account_id)))
               AND ${cursorOf("c.chat_id", "c.device_id")} < c.message_id)
        ORDER BY c.message_id
        LIMIT $2),
     deleted AS (
       DELETE FROM message_copies x USING doomed d
        WHERE x.account_id = d.account_id AND x.chat_id = d.chat_id AND x.device_id = d.device_id
          AND x.message_id = d.message_id
       RETURNING 1)
     SELECT count(*) AS n FROM deleted`,
    [options.createdBefore ?? null, limit],
  );
  return num(one(rows).n);
}

/**
 * Deletes messages every recipient device has acknowledged, and returns how many. For a
 * message with one envelope, the recipient devices are the current devices (an account
 * without a device list: device 1) of the chat's current members who joined before it, other
 * than the sending device, whose mailbox opened before it; for a directed one, device 1 of
 * that one member. A send_copies message goes once none of its copies is left
 * (deleteDeliveredCopies). With `createdBefore`, only messages created before it go (a
 * retention setting that keeps acked ciphertext for a while; it is also how long a retried
 * send is still recognised as a duplicate, since the idempotency record is the message row).
 * Deletes at most `limit` (default 10 000) per call, oldest first: call again while it
 * returns `limit`.
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
          AND ${DELIVERED}
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
 * with their copies, and returns how many messages. At most `limit` (default 10 000) per
 * call, oldest first.
 */
export async function expireOlderThan(q: Queryable, cutoff: Date, limit = 10_000): Promise<number> {
  checkLimit(limit);
  const rows = await q.query<{ n: Int8 }>(
    `WITH doomed AS (SELECT id FROM messages WHERE created_at < $1 ORDER BY created_at LIMIT $2),
          copies AS (DELETE FROM message_copies WHERE message_id IN (SELECT id FROM doomed)),
          deleted AS (DELETE FROM messages WHERE id IN (SELECT id FROM doomed) RETURNING 1)
     SELECT count(*) AS n FROM deleted`,
    [cutoff, limit],
  );
  return num(one(rows).n);
}
