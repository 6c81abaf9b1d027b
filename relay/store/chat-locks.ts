/**
 * The per-chat advisory lock (docs/ARCHITECTURE.md §4.2): message ids commit in id order
 * within a chat because every statement that allocates a message id in a chat, or reads a
 * chat's newest id to decide membership, runs under it.
 */
import type { Queryable } from "./db.js";

/**
 * Takes the per-chat advisory locks (transaction-scoped) in ascending id order, so two
 * transactions locking overlapping sets cannot deadlock.
 */
export async function lockChats(tx: Queryable, chatIds: readonly number[]): Promise<void> {
  const sorted = [...new Set(chatIds)].sort((a, b) => a - b);
  if (sorted.length === 0) return;
  // unnest() yields the array in order and the projection runs row by row, so locks are taken in that order.
  await tx.query("SELECT pg_advisory_xact_lock(u.id) FROM unnest($1::bigint[]) AS u(id)", [sorted]);
}

/** The largest message id in chat $1 (0 when it has none); use under the chat's lock. */
export const CHAT_MAX_ID = "(SELECT COALESCE(MAX(id), 0) FROM messages WHERE chat_id = $1)";
