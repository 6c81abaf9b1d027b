/**
 * What the `messages` table's foreign keys guaranteed until migration 0004, checked
 * explicitly (docs/ARCHITECTURE.md §4.2): every message's chat, sender and recipient exist.
 * The relay's own writes keep it by construction (a send is stored only for a member of an
 * existing chat, accounts and chats are never deleted); rows that come from outside, a
 * restored backup or a moved PGlite database, are checked with this before they commit.
 */
import type { Int8, Queryable } from "./db.js";
import { num, one } from "./sql-values.js";

/** How many messages name a chat, sender or recipient that does not exist (0 when sound). */
export async function orphanMessageCount(q: Queryable): Promise<number> {
  const rows = await q.query<{ n: Int8 }>(
    `SELECT count(*) AS n FROM messages m
      WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = m.chat_id)
         OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = m.sender_id)
         OR (m.recipient_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = m.recipient_id))`,
  );
  return num(one(rows).n);
}
