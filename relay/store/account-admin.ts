/**
 * The operator's statements about accounts (relay/admin-ops.ts): the listing with activity
 * and key stock, promotion, deletion, and the last-seen time the relay keeps. Plain SQL
 * against the `Db`, like the rest of the store (relay/store/relay-store.ts lists the files).
 */
import { lockChats } from "./chat-locks.js";
import type { Db, Int8, Tx } from "./db.js";

export interface AccountActivity {
  readonly id: number;
  readonly username: string;
  readonly isAdmin: boolean;
  readonly disabled: boolean;
  readonly deleted: boolean;
  readonly createdAt: Date;
  readonly lastSeenAt: Date | null;
  readonly hasSignedPrekey: boolean;
  readonly oneTimePrekeys: number;
}

const num = (v: Int8): number => Number(v);

/** Every account, by id, with its activity and how many prekeys it has left. */
export async function listAccountActivity(db: Db): Promise<AccountActivity[]> {
  const rows = await db.query<{
    id: Int8;
    username: string;
    is_admin: boolean;
    disabled: boolean;
    deleted: boolean;
    created_at: Date;
    last_seen_at: Date | null;
    spk: boolean;
    opks: Int8;
  }>(
    `SELECT a.id, a.username, a.is_admin, a.disabled, a.deleted_at IS NOT NULL AS deleted, a.created_at, a.last_seen_at,
            EXISTS (SELECT 1 FROM signed_prekeys s WHERE s.account_id = a.id) AS spk,
            (SELECT count(*) FROM one_time_prekeys o WHERE o.account_id = a.id) AS opks
       FROM accounts a ORDER BY a.id`,
  );
  return rows.map((r) => ({
    id: num(r.id),
    username: r.username,
    isAdmin: r.is_admin,
    disabled: r.disabled,
    deleted: r.deleted,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    hasSignedPrekey: r.spk,
    oneTimePrekeys: num(r.opks),
  }));
}

/** Records that the account was active now (a login, or a connection closing). */
export async function touchLastSeen(db: Db, accountId: number, now: Date): Promise<void> {
  await db.query(
    "UPDATE accounts SET last_seen_at = $2 WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)",
    [accountId, now],
  );
}

/** True when the account was deleted by the operator. */
export async function isDeleted(db: Db, accountId: number): Promise<boolean> {
  const rows = await db.query<{ d: boolean }>("SELECT deleted_at IS NOT NULL AS d FROM accounts WHERE id = $1", [
    accountId,
  ]);
  return rows[0]?.d === true;
}

/** Makes the account a relay admin (or not); false when there is no such account. */
export async function setRelayAdmin(db: Db, accountId: number, admin: boolean): Promise<boolean> {
  const rows = await db.query("UPDATE accounts SET is_admin = $2 WHERE id = $1 RETURNING id", [accountId, admin]);
  return rows.length > 0;
}

export interface DeletedAccount {
  /** Group chats the account was in: their other members should be told it left. */
  readonly groups: { chatId: number; members: number[] }[];
  /** Direct chats with the account, now closed. */
  readonly directChats: number[];
  readonly messagesRemoved: number;
  readonly prekeysRemoved: number;
}

interface ChatOfAccount {
  chat_id: Int8;
  kind: string;
  members: Int8[];
}

/**
 * The account's chats (by id, with their other members), each chat's lock taken: a send by
 * the account checks its membership and a direct chat's closing under that lock
 * (docs/ARCHITECTURE.md §4.2), so one racing the deletion is stored before it or refused.
 * The chats are read again after locking until no new one appeared (one joined in between).
 * The first locks are taken in ascending id order, as the send path does; a chat joined in
 * between may be locked out of that order, and a deadlock with a send is then reported by
 * PostgreSQL, which aborts one of the two, not left hanging.
 */
async function lockChatsOf(tx: Tx, accountId: number): Promise<ChatOfAccount[]> {
  const locked = new Set<number>();
  for (;;) {
    const chats = await tx.query<ChatOfAccount>(
      `SELECT c.id AS chat_id, c.kind,
              ARRAY(SELECT o.account_id FROM chat_members o WHERE o.chat_id = c.id AND o.account_id <> $1 ORDER BY o.account_id) AS members
         FROM chats c JOIN chat_members cm ON cm.chat_id = c.id AND cm.account_id = $1 ORDER BY c.id`,
      [accountId],
    );
    const missing = chats.map((c) => num(c.chat_id)).filter((id) => !locked.has(id));
    if (missing.length === 0) return chats;
    await lockChats(tx, missing);
    for (const id of missing) locked.add(id);
  }
}

/**
 * Deletes an account in one transaction: its prekeys, its memberships (a group left without
 * an admin gets its longest-standing member as admin, as when the last admin leaves), the
 * messages queued for it (directed to it, or in its chats and needed by no remaining member),
 * and its credentials (the account's and every device's). Its direct chats are closed. The row stays, disabled and marked deleted,
 * so its username stays taken; messages it sent to others stay queued for them.
 */
export async function deleteAccount(db: Db, accountId: number, now: Date): Promise<DeletedAccount> {
  return db.transaction(async (tx) => {
    const chats = await lockChatsOf(tx, accountId);
    const chatIds = chats.map((c) => num(c.chat_id));
    const opk = await tx.query("DELETE FROM one_time_prekeys WHERE account_id = $1 RETURNING 1", [accountId]);
    const spk = await tx.query("DELETE FROM signed_prekeys WHERE account_id = $1 RETURNING 1", [accountId]);
    const directed = await tx.query("DELETE FROM messages WHERE recipient_id = $1 RETURNING 1", [accountId]);
    await tx.query("DELETE FROM chat_members WHERE account_id = $1", [accountId]);
    // A group with members but no admin left: the longest-standing member becomes admin.
    await tx.query(
      `UPDATE chat_members cm SET role = 'admin'
         FROM (SELECT DISTINCT ON (m.chat_id) m.chat_id, m.account_id FROM chat_members m
                WHERE m.chat_id = ANY ($1::bigint[])
                  AND NOT EXISTS (SELECT 1 FROM chat_members a WHERE a.chat_id = m.chat_id AND a.role = 'admin')
                ORDER BY m.chat_id, m.joined_at, m.account_id) heir
        WHERE cm.chat_id = heir.chat_id AND cm.account_id = heir.account_id`,
      [chatIds],
    );
    await tx.query("UPDATE chats SET closed = true WHERE kind = 'direct' AND id = ANY ($1::bigint[])", [chatIds]);
    // In its chats, what no remaining member still waits for was queued only for it.
    const orphaned = await tx.query(
      `DELETE FROM messages m
        WHERE m.chat_id = ANY ($1::bigint[])
          AND NOT EXISTS (
            SELECT 1 FROM chat_members cm
             WHERE cm.chat_id = m.chat_id AND cm.account_id <> m.sender_id
               AND (m.recipient_id IS NULL OR cm.account_id = m.recipient_id)
               AND cm.member_since_message < m.id AND cm.cursor < m.id)
        RETURNING 1`,
      [chatIds],
    );
    await tx.query(
      `UPDATE accounts SET disabled = true, is_admin = false, deleted_at = $2,
              credential_hash = decode(repeat('00', 32), 'hex')
        WHERE id = $1`,
      [accountId, now],
    );
    // Every device's credential too: logins check the device's (SECURITY.md §17.8).
    await tx.query("UPDATE devices SET credential_hash = decode(repeat('00', 32), 'hex') WHERE account_id = $1", [
      accountId,
    ]);
    return {
      groups: chats
        .filter((c) => c.kind === "group")
        .map((c) => ({ chatId: num(c.chat_id), members: c.members.map(num) })),
      directChats: chats.filter((c) => c.kind === "direct").map((c) => num(c.chat_id)),
      messagesRemoved: directed.length + orphaned.length,
      prekeysRemoved: opk.length + spk.length,
    };
  });
}
