/**
 * The `chats` table: direct chats (one per pair of accounts) and groups, with their first
 * members, and closing (docs/ARCHITECTURE.md §4.2).
 */
import { UsageError } from "../../src/errors.js";
import { lockChats } from "./chat-locks.js";
import type { Db, Int8, Queryable } from "./db.js";
import * as members from "./members.js";
import { type MemberRow, toMember } from "./members.js";
import { num, numOrNull, one } from "./sql-values.js";
import type { Chat, ChatKind, ChatWithMembers, Member } from "./types.js";

interface ChatRow {
  id: Int8;
  kind: ChatKind;
  closed: boolean;
  created_by: Int8 | null;
  created_at: Date;
}

const CHAT_COLUMNS = "id, kind, closed, created_by, created_at";

function toChat(r: ChatRow): Chat {
  return { id: num(r.id), kind: r.kind, closed: r.closed, createdBy: numOrNull(r.created_by), createdAt: r.created_at };
}

/**
 * Returns the direct chat between two accounts, creating it (both members, both admins)
 * when there is none. An existing chat is returned as it is, closed or not and with its
 * current members; reopening or re-adding a member is the caller's decision.
 * Throws UsageError when `a === b`, or the database error for an unknown account.
 */
export async function openDirect(db: Db, a: number, b: number): Promise<{ chat: ChatWithMembers; created: boolean }> {
  if (a === b) throw new UsageError("a direct chat needs two different accounts");
  const directKey = `${Math.min(a, b)}:${Math.max(a, b)}`;
  return db.transaction(async (tx) => {
    const inserted = await tx.query<ChatRow>(
      `INSERT INTO chats (kind, direct_key, created_by) VALUES ('direct', $1, $2)
       ON CONFLICT (direct_key) DO NOTHING RETURNING ${CHAT_COLUMNS}`,
      [directKey, a],
    );
    let chatRow = inserted[0];
    const created = chatRow !== undefined;
    if (chatRow === undefined) {
      chatRow = one(await tx.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats WHERE direct_key = $1`, [directKey]));
    } else {
      await tx.query(
        `INSERT INTO chat_members (chat_id, account_id, role) SELECT $1, u.id, 'admin' FROM unnest($2::bigint[]) AS u(id)`,
        [chatRow.id, [a, b]],
      );
    }
    const list = await members.list(tx, num(chatRow.id));
    return { chat: { ...toChat(chatRow), members: list }, created };
  });
}

/**
 * Creates a group chat: `creatorId` as admin, every other id in `memberIds` as member
 * (duplicates and the creator in `memberIds` are ignored). Throws the database error when an
 * account id does not exist.
 */
export async function createGroup(db: Db, creatorId: number, memberIds: readonly number[]): Promise<ChatWithMembers> {
  const others = [...new Set(memberIds)].filter((id) => id !== creatorId);
  return db.transaction(async (tx) => {
    const chatRow = one(
      await tx.query<ChatRow>(`INSERT INTO chats (kind, created_by) VALUES ('group', $1) RETURNING ${CHAT_COLUMNS}`, [
        creatorId,
      ]),
    );
    await tx.query(
      `INSERT INTO chat_members (chat_id, account_id, role)
       SELECT $1, u.id, CASE WHEN u.id = $2 THEN 'admin' ELSE 'member' END FROM unnest($3::bigint[]) AS u(id)`,
      [chatRow.id, creatorId, [creatorId, ...others]],
    );
    return { ...toChat(chatRow), members: await members.list(tx, num(chatRow.id)) };
  });
}

/** Every chat the account belongs to, by chat id, each with its members (by account id). */
export async function of(q: Queryable, accountId: number): Promise<ChatWithMembers[]> {
  const rows = await q.query<ChatRow & MemberRow>(
    `SELECT c.id, c.kind, c.closed, c.created_by, c.created_at,
            m.account_id, a.username, m.role, m.joined_at, m.member_since_message
       FROM chat_members me
       JOIN chats c ON c.id = me.chat_id
       JOIN chat_members m ON m.chat_id = c.id
       JOIN accounts a ON a.id = m.account_id
      WHERE me.account_id = $1
      ORDER BY c.id, m.account_id`,
    [accountId],
  );
  const chats: { chat: Chat; members: Member[] }[] = [];
  for (const r of rows) {
    let last = chats[chats.length - 1];
    if (last === undefined || last.chat.id !== num(r.id)) {
      last = { chat: toChat(r), members: [] };
      chats.push(last);
    }
    last.members.push(toMember(r));
  }
  return chats.map(({ chat, members: list }) => ({ ...chat, members: list }));
}

/**
 * Closes or reopens a chat (a closed chat refuses sends); false when no such chat. Under the
 * chat's lock, like a send's closed check (docs/ARCHITECTURE.md §4.2): a send racing the
 * close is stored before it or refused.
 */
export async function setClosed(db: Db, chatId: number, closed: boolean): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockChats(tx, [chatId]);
    const rows = await tx.query<{ id: Int8 }>("UPDATE chats SET closed = $2 WHERE id = $1 RETURNING id", [
      chatId,
      closed,
    ]);
    return rows.length > 0;
  });
}

/** The chat (without members); undefined when none. */
export async function byId(q: Queryable, chatId: number): Promise<Chat | undefined> {
  const rows = await q.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats WHERE id = $1`, [chatId]);
  return rows[0] === undefined ? undefined : toChat(rows[0]);
}
