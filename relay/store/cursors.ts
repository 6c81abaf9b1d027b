/**
 * Each member's delivery cursor in `chat_members.cursor`: the highest message id it acked in
 * the chat (docs/ARCHITECTURE.md §3.7, ack after commit).
 */
import { CHAT_MAX_ID } from "./chat-locks.js";
import type { Int8, Queryable } from "./db.js";
import { num } from "./sql-values.js";

/**
 * Records that `accountId` has everything in `chatId` up to message `upTo`. The cursor never
 * moves backwards, nor beyond the chat's newest message (a client cannot skip messages that
 * do not exist yet). Returns the cursor now stored, or undefined when the account is not a
 * member of the chat.
 */
export async function ack(q: Queryable, accountId: number, chatId: number, upTo: number): Promise<number | undefined> {
  const rows = await q.query<{ cursor: Int8 }>(
    `UPDATE chat_members SET cursor = GREATEST(cursor, LEAST($3::bigint, ${CHAT_MAX_ID}))
      WHERE chat_id = $1 AND account_id = $2
      RETURNING cursor`,
    [chatId, accountId, upTo],
  );
  return rows[0] === undefined ? undefined : num(rows[0].cursor);
}
