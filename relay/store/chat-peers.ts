/**
 * Who shares a chat with an account: the audience of a change to its device list
 * (`device_list_changed`, SECURITY.md §17.8), which each relay computes for its own online
 * accounts.
 */
import type { Int8, Queryable } from "./db.js";
import { num } from "./sql-values.js";

/** The accounts among `candidates` that are members of a chat the account is a member of (itself excluded). */
export async function chatPeersAmong(
  q: Queryable,
  accountId: number,
  candidates: readonly number[],
): Promise<number[]> {
  if (candidates.length === 0) return [];
  const rows = await q.query<{ account_id: Int8 }>(
    `SELECT DISTINCT o.account_id FROM chat_members mine
       JOIN chat_members o ON o.chat_id = mine.chat_id
      WHERE mine.account_id = $1 AND o.account_id <> $1 AND o.account_id = ANY ($2::bigint[])
      ORDER BY o.account_id`,
    [accountId, candidates],
  );
  return rows.map((r) => num(r.account_id));
}
