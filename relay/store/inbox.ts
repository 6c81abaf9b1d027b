/**
 * Reading the `messages` table for recipients: what waits for an account (sync), a chat's
 * history, and messages by id for fan-out (docs/ARCHITECTURE.md §3.7, §3.9).
 */
import type { Int8, Queryable } from "./db.js";
import { checkLimit, num, numOrNull } from "./sql-values.js";
import type { StoredMessage } from "./types.js";

interface MessageRow {
  id: Int8;
  chat_id: Int8;
  sender_id: Int8;
  recipient_id: Int8 | null;
  envelope: Uint8Array;
  created_at: Date;
}

const MESSAGE_COLUMNS = "m.id, m.chat_id, m.sender_id, m.recipient_id, m.envelope, m.created_at";

function toMessage(r: MessageRow): StoredMessage {
  return {
    id: num(r.id),
    chatId: num(r.chat_id),
    senderId: num(r.sender_id),
    recipientId: numOrNull(r.recipient_id),
    envelope: r.envelope,
    createdAt: r.created_at,
  };
}

/**
 * FROM/WHERE of the messages waiting for account $1 (pendingFor, pendingCount): in its chats,
 * above its cursor, its member_since_message and the page given as chat ids $2 / after ids $3;
 * not its own; undirected or directed to it.
 */
const PENDING_FOR_ACCOUNT = `
         FROM chat_members cm
         LEFT JOIN unnest($2::bigint[], $3::bigint[]) AS a(chat_id, after_id) ON a.chat_id = cm.chat_id
         JOIN messages m ON m.chat_id = cm.chat_id
        WHERE cm.account_id = $1
          AND m.id > GREATEST(cm.cursor, cm.member_since_message, COALESCE(a.after_id, 0))
          AND m.sender_id <> $1
          AND (m.recipient_id IS NULL OR m.recipient_id = $1)`;

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
 * The messages waiting for `accountId`, oldest first, at most `limit`: in every chat the
 * account belongs to, those with an id above both its cursor and its member_since_message,
 * not sent by the account itself, and either undirected or directed to it.
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
  page: { limit: number; afterByChat?: ReadonlyMap<number, number> },
): Promise<StoredMessage[]> {
  const { limit } = page;
  checkLimit(limit);
  const after = [...(page.afterByChat ?? new Map<number, number>())];
  const rows = await q.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} ${PENDING_FOR_ACCOUNT}
      ORDER BY m.id
      LIMIT $4`,
    [accountId, after.map(([chatId]) => chatId), after.map(([, id]) => id), limit],
  );
  return rows.map(toMessage);
}

/**
 * How many messages wait for `accountId` beyond the page `afterByChat` describes (the same
 * rule as pendingFor), at most `cap`: for a client's progress bar, asked once per sync.
 */
export async function pendingCount(
  q: Queryable,
  accountId: number,
  afterByChat: ReadonlyMap<number, number>,
  cap: number,
): Promise<number> {
  const after = [...afterByChat];
  const rows = await q.query<{ n: Int8 }>(
    `SELECT count(*) AS n FROM (SELECT 1 ${PENDING_FOR_ACCOUNT} LIMIT $4) AS waiting`,
    [accountId, after.map(([chatId]) => chatId), after.map(([, id]) => id), cap],
  );
  return num(rows[0]!.n);
}

/**
 * A page of a chat's history as `accountId` may see it: ids above `afterId`, oldest first,
 * at most `limit`, without messages from before the account joined or directed to someone
 * else; the account's own messages included. [] when the account is not a member (the
 * caller checks membership first to tell that apart). Throws UsageError for a bad limit.
 */
export async function chatHistory(
  q: Queryable,
  chatId: number,
  accountId: number,
  afterId: number,
  limit: number,
): Promise<StoredMessage[]> {
  checkLimit(limit);
  const rows = await q.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS}
       FROM chat_members cm
       JOIN messages m ON m.chat_id = cm.chat_id
      WHERE cm.chat_id = $1 AND cm.account_id = $2
        AND m.id > GREATEST(cm.member_since_message, $3)
        AND (m.recipient_id IS NULL OR m.recipient_id = $2 OR m.sender_id = $2)
      ORDER BY m.id
      LIMIT $4`,
    [chatId, accountId, afterId, limit],
  );
  return rows.map(toMessage);
}

/**
 * The stored messages with these ids, by id; ids that do not exist (or were deleted) are
 * left out. For fan-out of messages another relay announced by id over NOTIFY: the caller
 * decides who may see each one (recipients, member_since_message) as for its own sends.
 */
export async function byIds(q: Queryable, ids: readonly number[]): Promise<StoredMessage[]> {
  if (ids.length === 0) return [];
  const rows = await q.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ANY($1::bigint[]) ORDER BY m.id`,
    [[...new Set(ids)]],
  );
  return rows.map(toMessage);
}
