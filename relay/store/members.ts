/**
 * The `chat_members` table: who is in a chat, with which role, since which message
 * (docs/ARCHITECTURE.md §4.2). The delivery cursor of a member is in cursors.ts.
 */
import { CHAT_MAX_ID, lockChats } from "./chat-locks.js";
import type { Db, Int8, Queryable } from "./db.js";
import { num } from "./sql-values.js";
import type { Member, Role } from "./types.js";

/** A member row joined with its account's username. */
export interface MemberRow {
  account_id: Int8;
  username: string;
  role: Role;
  joined_at: Date;
  member_since_message: Int8;
}

export function toMember(r: MemberRow): Member {
  return {
    accountId: num(r.account_id),
    username: r.username,
    role: r.role,
    joinedAt: r.joined_at,
    sinceMessage: num(r.member_since_message),
  };
}

/** The chat's members, by account id; [] for an unknown chat. */
export async function list(q: Queryable, chatId: number): Promise<Member[]> {
  const rows = await q.query<MemberRow>(
    `SELECT m.account_id, a.username, m.role, m.joined_at, m.member_since_message
       FROM chat_members m JOIN accounts a ON a.id = m.account_id
      WHERE m.chat_id = $1
      ORDER BY m.account_id`,
    [chatId],
  );
  return rows.map(toMember);
}

/**
 * Adds a member. The new member receives only messages sent after this call: their
 * member_since_message is the chat's newest message id, read under the chat's lock so no
 * send in flight can slip in between. Returns false (changing nothing) when the account is
 * already a member. Throws the database error for an unknown chat or account.
 */
export async function add(db: Db, chatId: number, accountId: number, role: Role): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockChats(tx, [chatId]);
    const rows = await tx.query<{ account_id: Int8 }>(
      `INSERT INTO chat_members (chat_id, account_id, role, member_since_message)
       VALUES ($1, $2, $3, ${CHAT_MAX_ID})
       ON CONFLICT (chat_id, account_id) DO NOTHING RETURNING account_id`,
      [chatId, accountId, role],
    );
    return rows.length > 0;
  });
}

/**
 * Removes a member (their undelivered messages and copies in this chat are no longer for them); false
 * when not a member. Under the chat's lock, like a send's membership check
 * (docs/ARCHITECTURE.md §4.2): a send racing the removal is stored before it or refused.
 */
export async function remove(db: Db, chatId: number, accountId: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockChats(tx, [chatId]);
    const rows = await tx.query<{ account_id: Int8 }>(
      "DELETE FROM chat_members WHERE chat_id = $1 AND account_id = $2 RETURNING account_id",
      [chatId, accountId],
    );
    // Its devices' copies and cursors in the chat go with the membership (device 1's cursor
    // was the row itself).
    await tx.query("DELETE FROM message_copies WHERE account_id = $2 AND chat_id = $1", [chatId, accountId]);
    await tx.query("DELETE FROM device_cursors WHERE chat_id = $1 AND account_id = $2", [chatId, accountId]);
    return rows.length > 0;
  });
}

/** Changes a member's role; false when not a member. Under the chat's lock, as every membership change. */
export async function setRole(db: Db, chatId: number, accountId: number, role: Role): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockChats(tx, [chatId]);
    const rows = await tx.query<{ account_id: Int8 }>(
      "UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND account_id = $2 RETURNING account_id",
      [chatId, accountId, role],
    );
    return rows.length > 0;
  });
}

/** The account's role in the chat; undefined when it is not a member (or the chat does not exist). */
export async function role(q: Queryable, chatId: number, accountId: number): Promise<Role | undefined> {
  const rows = await q.query<{ role: Role }>("SELECT role FROM chat_members WHERE chat_id = $1 AND account_id = $2", [
    chatId,
    accountId,
  ]);
  return rows[0]?.role;
}
