/**
 * Reading the `messages` table (and a device's `message_copies`) for recipients: what waits
 * for a device (sync), a chat's history, and messages by id for fan-out (docs/ARCHITECTURE.md
 * §3.7, §3.9, §4.2 "Devices and mailboxes").
 */
import type { Int8, Queryable } from "./db.js";
import { checkLimit, num, numOrNull } from "./sql-values.js";
import type { CommittedMessage, StoredCopy, StoredMessage } from "./types.js";

interface MessageRow {
  id: Int8;
  chat_id: Int8;
  sender_id: Int8;
  sender_device: number;
  recipient_id: Int8 | null;
  envelope: Uint8Array;
  created_at: Date;
}

const MESSAGE_COLUMNS = "m.id, m.chat_id, m.sender_id, m.sender_device, m.recipient_id, m.envelope, m.created_at";

function toMessage(r: MessageRow): StoredMessage {
  return {
    id: num(r.id),
    chatId: num(r.chat_id),
    senderId: num(r.sender_id),
    senderDevice: r.sender_device,
    recipientId: numOrNull(r.recipient_id),
    envelope: r.envelope,
    createdAt: r.created_at,
  };
}

/**
 * SQL for where device `device` of account `account` (parameter references) starts receiving
 * undirected messages: its mailbox's since_message; 0 for device 1 of an account without a
 * device list; and no message at all for a device that is not current (removed, never listed).
 */
const deviceSince = (account: string, device: string) => `COALESCE(
    (SELECT b.since_message FROM device_mailboxes b WHERE b.account_id = ${account} AND b.device_id = ${device}),
    CASE WHEN ${device} = 1 AND NOT EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = ${account})
         THEN 0 END,
    9223372036854775807)`;

/**
 * The rows waiting for device $5 of account $1 (pendingFor, pendingCount), with the page given
 * as chat ids $2 / after ids $3: in its chats, above the device's cursor (device 1:
 * chat_members.cursor; others: device_cursors), its member_since_message and the page; then
 * either a message with one envelope that this device did not send itself, undirected (and
 * above the device's mailbox start) or directed to the account (device 1 only), or this
 * device's copy of a send_copies (SECURITY.md §17.8), the ones other devices of the same
 * account sent included (§17.5 "sent by you on another device").
 *
 * Each chat gives at most $4 rows of each kind, read in id order from its index (messages
 * (chat_id, id), message_copies' primary key), so a page costs what it returns, not what waits:
 * with the whole union sorted, every chunk of a sync reply (messages.ts READ_CHUNK) read every
 * waiting row again (10,000 waiting: 313 reads of 10,000 rows; bench/RESULTS.md "Client first
 * sync"). The caller's ORDER BY id LIMIT $4 over that union is the same page.
 */
const PENDING_FOR_DEVICE = `
  WITH mine AS (
    SELECT cm.chat_id,
           GREATEST(CASE WHEN $5 = 1 THEN cm.cursor ELSE COALESCE(dc.cursor, 0) END,
                    cm.member_since_message, COALESCE(a.after_id, 0)) AS above
      FROM chat_members cm
      LEFT JOIN unnest($2::bigint[], $3::bigint[]) AS a(chat_id, after_id) ON a.chat_id = cm.chat_id
      LEFT JOIN device_cursors dc
             ON $5 <> 1 AND dc.chat_id = cm.chat_id AND dc.account_id = cm.account_id AND dc.device_id = $5
     WHERE cm.account_id = $1),
  waiting AS (
    SELECT w.*
      FROM mine, LATERAL (
        SELECT ${MESSAGE_COLUMNS}
          FROM messages m
         WHERE m.chat_id = mine.chat_id
           AND m.id > GREATEST(mine.above, ${deviceSince("$1", "$5")})
           AND m.envelope IS NOT NULL
           AND NOT (m.sender_id = $1 AND m.sender_device = $5)
           AND (m.recipient_id IS NULL OR (m.recipient_id = $1 AND $5 = 1))
         ORDER BY m.id
         LIMIT $4) w
    UNION ALL
    SELECT w.*
      FROM mine, LATERAL (
        SELECT m.id, m.chat_id, m.sender_id, m.sender_device, m.recipient_id, c.envelope, m.created_at
          FROM message_copies c
          JOIN messages m ON m.id = c.message_id
         WHERE c.account_id = $1 AND c.chat_id = mine.chat_id AND c.device_id = $5 AND c.message_id > mine.above
         ORDER BY c.message_id
         LIMIT $4) w)`;

/**
 * The `afterByChat` for the page after `page` of pendingFor: `previous` updated with the
 * highest id `page` holds in each chat.
 */
export function nextPageAfter(
  page: readonly StoredMessage[],
  previous: ReadonlyMap<number, number> = new Map(),
): Map<number, number> {
  const next = new Map(previous);
  for (const m of page) if ((next.get(m.chatId) ?? 0) < m.id) next.set(m.chatId, m.id);
  return next;
}

/**
 * The messages waiting for device `device` (default 1) of `accountId`, oldest first, at most
 * `limit` (PENDING_FOR_DEVICE says which): for each, the envelope meant for this device.
 *
 * To page without acking, pass `afterByChat`: for each chat, the highest id already received
 * (`nextPageAfter` computes it from a page). Paging is per chat, not by one global id,
 * because only within a chat do ids commit in order: a message of another chat with a
 * smaller id may commit after this page was read, and must still come on the next one.
 * Throws UsageError for a bad limit.
 */
export async function pendingFor(
  q: Queryable,
  accountId: number,
  page: { limit: number; afterByChat?: ReadonlyMap<number, number>; device?: number },
): Promise<StoredMessage[]> {
  const { limit } = page;
  checkLimit(limit);
  const after = [...(page.afterByChat ?? new Map<number, number>())];
  const rows = await q.query<MessageRow>(
    `${PENDING_FOR_DEVICE}
     SELECT * FROM waiting m ORDER BY m.id LIMIT $4`,
    [accountId, after.map(([chatId]) => chatId), after.map(([, id]) => id), limit, page.device ?? 1],
  );
  return rows.map(toMessage);
}

/**
 * How many messages wait for the device beyond the page `afterByChat` describes (the same
 * rule as pendingFor), at most `cap`: for a client's progress bar, asked once per sync.
 */
export async function pendingCount(
  q: Queryable,
  accountId: number,
  afterByChat: ReadonlyMap<number, number>,
  cap: number,
  device = 1,
): Promise<number> {
  const after = [...afterByChat];
  const rows = await q.query<{ n: Int8 }>(
    `${PENDING_FOR_DEVICE}
     SELECT count(*) AS n FROM (SELECT 1 FROM waiting LIMIT $4) AS w`,
    [accountId, after.map(([chatId]) => chatId), after.map(([, id]) => id), cap, device],
  );
  return num(rows[0]!.n);
}

/**
 * A page of a chat's history as device `device` of `accountId` may see it: ids above
 * `afterId`, oldest first, at most `limit`, without messages from before the account joined
 * (or, undirected, before the device's mailbox opened) or directed to someone else; the
 * account's own one-envelope messages included, and of a send_copies only this device's copy
 * (its sending device has none). [] when the account is not a member (the caller checks
 * membership first to tell that apart). Throws UsageError for a bad limit.
 */
export async function chatHistory(
  q: Queryable,
  chatId: number,
  accountId: number,
  afterId: number,
  limit: number,
  device = 1,
): Promise<StoredMessage[]> {
  checkLimit(limit);
  const rows = await q.query<MessageRow>(
    `SELECT m.id, m.chat_id, m.sender_id, m.sender_device, m.recipient_id, COALESCE(m.envelope, c.envelope) AS envelope,
            m.created_at
       FROM chat_members cm
       JOIN messages m ON m.chat_id = cm.chat_id
       LEFT JOIN message_copies c
              ON m.envelope IS NULL AND c.account_id = $2 AND c.chat_id = $1 AND c.device_id = $5 AND c.message_id = m.id
      WHERE cm.chat_id = $1 AND cm.account_id = $2
        AND m.id > GREATEST(cm.member_since_message, $3)
        AND ((m.envelope IS NOT NULL AND m.id > ${deviceSince("$2", "$5")}
              AND (m.recipient_id IS NULL OR (m.recipient_id = $2 AND $5 = 1) OR m.sender_id = $2))
             OR c.message_id IS NOT NULL)
      ORDER BY m.id
      LIMIT $4`,
    [chatId, accountId, afterId, limit, device],
  );
  return rows.map(toMessage);
}

/**
 * The stored messages with these ids, by id, each with its copies when it is a send_copies;
 * ids that do not exist (or were deleted) are left out. For fan-out of messages another relay
 * announced by id over NOTIFY: the caller decides who may see each one (devices,
 * member_since_message) as for its own sends.
 */
export async function byIds(q: Queryable, ids: readonly number[]): Promise<CommittedMessage[]> {
  if (ids.length === 0) return [];
  const wanted = [...new Set(ids)];
  const rows = await q.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ANY($1::bigint[]) ORDER BY m.id`,
    [wanted],
  );
  const copied = rows.filter((r) => r.envelope === null).map((r) => num(r.id));
  const copies = new Map<number, StoredCopy[]>();
  if (copied.length > 0) {
    const copyRows = await q.query<{ message_id: Int8; account_id: Int8; device_id: number; envelope: Uint8Array }>(
      `SELECT c.message_id, c.account_id, c.device_id, c.envelope FROM message_copies c
        WHERE c.message_id = ANY($1::bigint[]) ORDER BY c.message_id, c.account_id, c.device_id`,
      [copied],
    );
    for (const c of copyRows) {
      const id = num(c.message_id);
      let list = copies.get(id);
      if (!list) copies.set(id, (list = []));
      list.push({ accountId: num(c.account_id), deviceId: c.device_id, envelope: c.envelope });
    }
  }
  return rows.map((r) => ({
    ...toMessage(r),
    envelope: r.envelope ?? undefined,
    copies: r.envelope === null ? (copies.get(num(r.id)) ?? []) : undefined,
  }));
}
