/**
 * RelayStore: every SQL statement the relay runs (docs/ARCHITECTURE.md, Relay storage; §3.7
 * delivery, §3.8 group commit). Handlers call typed methods; no SQL lives anywhere else in the relay. The same
 * statements run on PostgreSQL and PGlite through the `Db` interface.
 *
 * Conventions:
 * - Time is an argument (`now`, `cutoff`) wherever it changes behaviour, never read from a
 *   clock here, so tests control it.
 * - Expected refusals (an invalid invite, a taken username, a send to a closed chat) are typed
 *   results. Thrown errors mean a broken contract (`UsageError`) or a database failure (the
 *   driver's error, with its SQLSTATE in `code`).
 * - Ordering guarantee: message ids come from one global sequence and, within a chat, commit
 *   in id order: inserting into a chat holds a transaction-scoped advisory lock on the chat id
 *   until commit. So a reader that has seen message N of a chat has seen every earlier
 *   message of that chat, and a cursor can never skip one that commits later.
 */
import { InternalError, UsageError } from "../../src/errors.js";
import type { Db, Int8, Queryable } from "./db.js";
import type {
  Account,
  Chat,
  ChatKind,
  ChatWithMembers,
  CreateAccountResult,
  InsertFailure,
  InsertResult,
  Invite,
  Member,
  NewAccount,
  NewInvite,
  NewMessage,
  OneTimePrekey,
  PrekeyBundle,
  Role,
  SignedPrekey,
  StoredMessage,
} from "./types.js";

// ---------------------------------------------------------------------------------------------
// Rows as the drivers return them, and their mapping to the public types.

interface AccountRow {
  id: Int8;
  username: string;
  credential_hash: Uint8Array;
  identity: Uint8Array;
  is_admin: boolean;
  disabled: boolean;
  created_at: Date;
}

interface InviteRow {
  id: Int8;
  code_hash: Uint8Array;
  uses_left: number;
  expires_at: Date | null;
  grants_admin: boolean;
  created_by: Int8 | null;
  created_at: Date;
}

interface ChatRow {
  id: Int8;
  kind: ChatKind;
  closed: boolean;
  created_by: Int8 | null;
  created_at: Date;
}

interface MemberRow {
  account_id: Int8;
  username: string;
  role: Role;
  joined_at: Date;
  member_since_message: Int8;
}

interface MessageRow {
  id: Int8;
  chat_id: Int8;
  sender_id: Int8;
  recipient_id: Int8 | null;
  envelope: Uint8Array;
  created_at: Date;
}

/** An int8 from a row as a number; throws InternalError beyond 2^53 (never reached by bigserial in practice). */
function num(value: Int8): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InternalError(`database id ${String(value)} exceeds 2^53`);
  return n;
}

function numOrNull(value: Int8 | null): number | null {
  return value === null ? null : num(value);
}

const ACCOUNT_COLUMNS = "id, username, credential_hash, identity, is_admin, disabled, created_at";
const CHAT_COLUMNS = "id, kind, closed, created_by, created_at";
const MESSAGE_COLUMNS = "m.id, m.chat_id, m.sender_id, m.recipient_id, m.envelope, m.created_at";

function toAccount(r: AccountRow): Account {
  return {
    id: num(r.id),
    username: r.username,
    credentialHash: r.credential_hash,
    identity: r.identity,
    isAdmin: r.is_admin,
    disabled: r.disabled,
    createdAt: r.created_at,
  };
}

function toInvite(r: InviteRow): Invite {
  return {
    id: num(r.id),
    codeHash: r.code_hash,
    usesLeft: r.uses_left,
    expiresAt: r.expires_at,
    grantsAdmin: r.grants_admin,
    createdBy: numOrNull(r.created_by),
    createdAt: r.created_at,
  };
}

function toChat(r: ChatRow): Chat {
  return { id: num(r.id), kind: r.kind, closed: r.closed, createdBy: numOrNull(r.created_by), createdAt: r.created_at };
}

function toMember(r: MemberRow): Member {
  return {
    accountId: num(r.account_id),
    username: r.username,
    role: r.role,
    joinedAt: r.joined_at,
    sinceMessage: num(r.member_since_message),
  };
}

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

// ---------------------------------------------------------------------------------------------
// Small helpers.

/** Thrown inside a transaction to roll it back and turn into a typed result outside. */
class Refusal<R> {
  constructor(readonly result: R) {}
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`limit must be a positive integer, got ${limit}`);
}

/**
 * Takes the per-chat advisory locks (transaction-scoped) in ascending id order, so two
 * transactions locking overlapping sets cannot deadlock. Every statement that allocates a
 * message id in a chat, or reads a chat's newest id to decide membership, runs under it.
 */
async function lockChats(tx: Queryable, chatIds: readonly number[]): Promise<void> {
  const sorted = [...new Set(chatIds)].sort((a, b) => a - b);
  if (sorted.length === 0) return;
  // unnest() yields the array in order and the projection runs row by row, so locks are taken in that order.
  await tx.query("SELECT pg_advisory_xact_lock(u.id) FROM unnest($1::bigint[]) AS u(id)", [sorted]);
}

/**
 * Batches up to this size are stored by one call of smsg_insert_messages (one round trip);
 * larger ones by a transaction (insertInTransaction). Measured on PostgreSQL 15 (2 cores), with the
 * four-statement transaction of before 2026-11-25:
 * the function saves ~1.3 ms per batch of 1 (0.7 vs 2.0 ms) but costs more per row, so from
 * ~32 sends on the transaction is faster (64: 3.3 vs 5 ms; 256: 8 vs 13 ms). Small batches
 * are what an unloaded relay commits (latency); large ones what a saturated one commits.
 */
export const SINGLE_STATEMENT_MAX_BATCH = 16;

/** The refusals smsg_insert_messages reports, by name. */
const INSERT_FAILURES: ReadonlySet<InsertFailure> = new Set<InsertFailure>([
  "chat_unknown",
  "not_member",
  "chat_closed",
  "recipient_not_member",
  "idem_conflict",
]);

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

/** The largest message id in a chat (0 when it has none); call under the chat's lock. */
const CHAT_MAX_ID = "(SELECT COALESCE(MAX(id), 0) FROM messages WHERE chat_id = $1)";

/**
 * The `afterByChat` for the page after `page` of RelayStore.pendingFor: `previous` updated
 * with the highest id `page` holds in each chat.
 */
export function nextPageAfter(
  page: readonly StoredMessage[],
  previous: ReadonlyMap<number, number> = new Map(),
): Map<number, number> {
  const next = new Map(previous);
  for (const m of page) if ((next.get(m.chatId) ?? 0) < m.id) next.set(m.chatId, m.id);
  return next;
}

// ---------------------------------------------------------------------------------------------

/**
 * The relay's storage. Stateless apart from the `Db` it wraps; safe to share between all
 * connections of a relay, and between relays sharing one PostgreSQL.
 */
export class RelayStore {
  /** Largest batch insertMessages stores with the one-statement function (see there). */
  private readonly singleStatementMaxBatch: number;

  constructor(
    readonly db: Db,
    options: { readonly singleStatementMaxBatch?: number } = {},
  ) {
    this.singleStatementMaxBatch = options.singleStatementMaxBatch ?? SINGLE_STATEMENT_MAX_BATCH;
  }

  // ----- accounts and invites ----------------------------------------------------------------

  /**
   * Creates an account with an invite, atomically: the invite must exist, be unexpired at
   * `now` and have uses left (one use is consumed); the username must be free, compared
   * case-insensitively; then the account (admin when the invite grants it), its signed prekey
   * and its one-time prekeys are stored. If any step fails nothing changes (the invite keeps
   * its use). An invalid invite is reported before a taken username, so people without a
   * valid invite cannot probe which usernames exist.
   *
   * Throws the database error when an input breaks a column constraint (hash not 32 bytes,
   * identity not 128 bytes, key id outside u32): the caller validates inputs first.
   */
  async createAccountWithInvite(input: NewAccount): Promise<CreateAccountResult> {
    try {
      return await this.db.transaction(async (tx) => {
        const invite = await tx.query<{ grants_admin: boolean }>(
          `UPDATE invites SET uses_left = uses_left - 1
            WHERE code_hash = $1 AND uses_left > 0 AND (expires_at IS NULL OR expires_at > $2)
            RETURNING grants_admin`,
          [input.inviteCodeHash, input.now],
        );
        const grantsAdmin = invite[0]?.grants_admin;
        if (grantsAdmin === undefined) throw new Refusal<CreateAccountResult>({ ok: false, reason: "invite_invalid" });

        const inserted = await tx.query<AccountRow>(
          `INSERT INTO accounts (username, credential_hash, identity, is_admin, created_at)
           VALUES (lower($1), $2, $3, $4, $5)
           ON CONFLICT (username) DO NOTHING
           RETURNING ${ACCOUNT_COLUMNS}`,
          [input.username, input.credentialHash, input.identity, grantsAdmin, input.now],
        );
        const row = inserted[0];
        if (row === undefined) throw new Refusal<CreateAccountResult>({ ok: false, reason: "username_taken" });
        const account = toAccount(row);

        await putSignedPrekeyIn(tx, account.id, input.signedPrekey, input.now);
        await addOneTimePrekeysIn(tx, account.id, input.oneTimePrekeys);
        return { ok: true, account } as const;
      });
    } catch (err) {
      if (err instanceof Refusal) return err.result as CreateAccountResult;
      throw err;
    }
  }

  /**
   * Stores an invite (by the hash of its code). Throws when `uses` is not a positive integer,
   * or the database error when the code hash already exists.
   */
  async createInvite(input: NewInvite): Promise<Invite> {
    if (!Number.isSafeInteger(input.uses) || input.uses < 1 || input.uses > 2 ** 31 - 1) {
      throw new UsageError(`an invite needs 1 or more uses, got ${input.uses}`);
    }
    const rows = await this.db.query<InviteRow>(
      `INSERT INTO invites (code_hash, uses_left, expires_at, grants_admin, created_by)
       VALUES ($1, $2, $3, $4, $5)
       RETURNING id, code_hash, uses_left, expires_at, grants_admin, created_by, created_at`,
      [input.codeHash, input.uses, input.expiresAt, input.grantsAdmin, input.createdBy],
    );
    return toInvite(one(rows));
  }

  /** The account with this username, compared case-insensitively; undefined when none. */
  async accountByUsername(username: string): Promise<Account | undefined> {
    const rows = await this.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE username = lower($1)`, [
      username,
    ]);
    return rows[0] === undefined ? undefined : toAccount(rows[0]);
  }

  /** The account with this id; undefined when none. */
  async accountById(id: number): Promise<Account | undefined> {
    const rows = await this.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : toAccount(rows[0]);
  }

  /** Every account, ordered by id (operator listing). */
  async listAccounts(): Promise<Account[]> {
    const rows = await this.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY id`);
    return rows.map(toAccount);
  }

  /** Disables or re-enables an account by username; false when no such account. */
  async setDisabled(username: string, disabled: boolean): Promise<boolean> {
    const rows = await this.db.query<{ id: Int8 }>(
      "UPDATE accounts SET disabled = $2 WHERE username = lower($1) RETURNING id",
      [username, disabled],
    );
    return rows.length > 0;
  }

  /** How many accounts exist (disabled ones included). */
  async countAccounts(): Promise<number> {
    const rows = await this.db.query<{ n: Int8 }>("SELECT count(*) AS n FROM accounts");
    return num(one(rows).n);
  }

  // ----- prekeys ------------------------------------------------------------------------------

  /**
   * Stores a signed prekey and makes it the current one (uploading an id again replaces that
   * key and makes it current). Throws the database error for an unknown account or bad sizes.
   */
  async putSignedPrekey(accountId: number, prekey: SignedPrekey, now: Date): Promise<void> {
    await putSignedPrekeyIn(this.db, accountId, prekey, now);
  }

  /**
   * Adds one-time prekeys; a key id the account already has is ignored (the stored key wins),
   * as is a repeated id within `keys`. Returns how many were added.
   */
  async addOneTimePrekeys(accountId: number, keys: readonly OneTimePrekey[]): Promise<number> {
    return addOneTimePrekeysIn(this.db, accountId, keys);
  }

  /** How many one-time prekeys the account has left (the client refills when low). */
  async oneTimePrekeyCount(accountId: number): Promise<number> {
    const rows = await this.db.query<{ n: Int8 }>("SELECT count(*) AS n FROM one_time_prekeys WHERE account_id = $1", [
      accountId,
    ]);
    return num(one(rows).n);
  }

  /**
   * Returns the account's prekey bundle: identity, current signed prekey and one one-time
   * prekey, which is deleted in the same statement. Each one-time prekey is handed out exactly
   * once even under concurrent calls (the row is locked with SKIP LOCKED, so concurrent
   * callers take different keys instead of waiting and then finding nothing). `oneTimePrekey`
   * is undefined when none are left. Returns undefined, consuming nothing, when the account
   * does not exist, is disabled, or has no signed prekey.
   */
  async takeBundle(accountId: number): Promise<PrekeyBundle | undefined> {
    const rows = await this.db.query<{
      identity: Uint8Array;
      spk_id: Int8;
      spk_public: Uint8Array;
      spk_signature: Uint8Array;
      opk_id: Int8 | null;
      opk_public: Uint8Array | null;
    }>(
      `WITH opk AS (
         DELETE FROM one_time_prekeys
          WHERE (account_id, key_id) = (
            SELECT o.account_id, o.key_id FROM one_time_prekeys o
             WHERE o.account_id = $1
               AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = $1 AND NOT a.disabled)
               AND EXISTS (SELECT 1 FROM signed_prekeys s WHERE s.account_id = $1)
             ORDER BY o.key_id
             LIMIT 1
             FOR UPDATE SKIP LOCKED)
          RETURNING key_id, public_key)
       SELECT a.identity, s.key_id AS spk_id, s.public_key AS spk_public, s.signature AS spk_signature,
              opk.key_id AS opk_id, opk.public_key AS opk_public
         FROM accounts a
         JOIN LATERAL (SELECT key_id, public_key, signature FROM signed_prekeys
                        WHERE account_id = a.id ORDER BY upload_seq DESC LIMIT 1) s ON true
         LEFT JOIN opk ON true
        WHERE a.id = $1 AND NOT a.disabled`,
      [accountId],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      accountId,
      identity: r.identity,
      signedPrekey: { keyId: num(r.spk_id), publicKey: r.spk_public, signature: r.spk_signature },
      oneTimePrekey:
        r.opk_id === null || r.opk_public === null ? undefined : { keyId: num(r.opk_id), publicKey: r.opk_public },
    };
  }

  // ----- chats --------------------------------------------------------------------------------

  /**
   * Returns the direct chat between two accounts, creating it (both members, both admins)
   * when there is none. An existing chat is returned as it is, closed or not and with its
   * current members; reopening or re-adding a member is the caller's decision.
   * Throws UsageError when `a === b`, or the database error for an unknown account.
   */
  async openDirectChat(a: number, b: number): Promise<{ chat: ChatWithMembers; created: boolean }> {
    if (a === b) throw new UsageError("a direct chat needs two different accounts");
    const directKey = `${Math.min(a, b)}:${Math.max(a, b)}`;
    return this.db.transaction(async (tx) => {
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
      const members = await membersIn(tx, num(chatRow.id));
      return { chat: { ...toChat(chatRow), members }, created };
    });
  }

  /**
   * Creates a group chat: `creatorId` as admin, every other id in `memberIds` as member
   * (duplicates and the creator in `memberIds` are ignored). Throws the database error when an
   * account id does not exist.
   */
  async createGroupChat(creatorId: number, memberIds: readonly number[]): Promise<ChatWithMembers> {
    const others = [...new Set(memberIds)].filter((id) => id !== creatorId);
    return this.db.transaction(async (tx) => {
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
      return { ...toChat(chatRow), members: await membersIn(tx, num(chatRow.id)) };
    });
  }

  /**
   * Adds a member. The new member receives only messages sent after this call: their
   * member_since_message is the chat's newest message id, read under the chat's lock so no
   * send in flight can slip in between. Returns false (changing nothing) when the account is
   * already a member. Throws the database error for an unknown chat or account.
   */
  async addMember(chatId: number, accountId: number, role: Role): Promise<boolean> {
    return this.db.transaction(async (tx) => {
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

  /** Removes a member (their undelivered messages in this chat are no longer for them); false when not a member. */
  async removeMember(chatId: number, accountId: number): Promise<boolean> {
    const rows = await this.db.query<{ account_id: Int8 }>(
      "DELETE FROM chat_members WHERE chat_id = $1 AND account_id = $2 RETURNING account_id",
      [chatId, accountId],
    );
    return rows.length > 0;
  }

  /** Changes a member's role; false when not a member. */
  async setRole(chatId: number, accountId: number, role: Role): Promise<boolean> {
    const rows = await this.db.query<{ account_id: Int8 }>(
      "UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND account_id = $2 RETURNING account_id",
      [chatId, accountId, role],
    );
    return rows.length > 0;
  }

  /** Every chat the account belongs to, by chat id, each with its members (by account id). */
  async chatsOf(accountId: number): Promise<ChatWithMembers[]> {
    const rows = await this.db.query<ChatRow & MemberRow>(
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
    return chats.map(({ chat, members }) => ({ ...chat, members }));
  }

  /** The chat's members, by account id; [] for an unknown chat. */
  async members(chatId: number): Promise<Member[]> {
    return membersIn(this.db, chatId);
  }

  /** The account's role in the chat; undefined when it is not a member (or the chat does not exist). */
  async memberRole(chatId: number, accountId: number): Promise<Role | undefined> {
    const rows = await this.db.query<{ role: Role }>(
      "SELECT role FROM chat_members WHERE chat_id = $1 AND account_id = $2",
      [chatId, accountId],
    );
    return rows[0]?.role;
  }

  /** Closes or reopens a chat (a closed chat refuses sends); false when no such chat. */
  async setClosed(chatId: number, closed: boolean): Promise<boolean> {
    const rows = await this.db.query<{ id: Int8 }>("UPDATE chats SET closed = $2 WHERE id = $1 RETURNING id", [
      chatId,
      closed,
    ]);
    return rows.length > 0;
  }

  /** The chat (without members); undefined when none. */
  async chat(chatId: number): Promise<Chat | undefined> {
    const rows = await this.db.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats WHERE id = $1`, [chatId]);
    return rows[0] === undefined ? undefined : toChat(rows[0]);
  }

  // ----- messages -----------------------------------------------------------------------------

  /**
   * Stores a batch of sends in ONE transaction (group commit: the relay acks each send only
   * after this resolves) and returns one result per item, in order. The work per batch is the
   * same whatever its size: lock the chats, check chats and memberships and earlier sends with
   * the same (sender, idem), and one multi-row INSERT over unnest() arrays. A
   * small batch (up to SINGLE_STATEMENT_MAX_BATCH) does it in ONE statement in autocommit, a
   * call of the PL/pgSQL function smsg_insert_messages (migrations/0002_…sql): one round
   * trip, its own transaction, the chat locks held until it commits. A larger batch runs the
   * statements inside BEGIN … COMMIT (see insertInTransaction), which costs less per row.
   *
   * Idempotency: a (sender, idem) already stored for the same chat returns the ORIGINAL id and
   * created_at with `duplicate: true` and stores nothing, even if the chat was closed or the
   * sender removed since; the same pair twice within `batch` is stored once and reported as a
   * duplicate the second time. The pair already used for a different chat is `idem_conflict`.
   * Ids are per sender: another sender may use the same idem.
   *
   * A new send is refused (typed, nothing stored for it) when the chat does not exist
   * (`chat_unknown`), is closed (`chat_closed`), the sender is not a member (`not_member`) or a
   * directed envelope's recipient is not a member (`recipient_not_member`). Other items of the
   * batch are unaffected. `now` becomes every new message's created_at.
   *
   * Throws (and stores nothing from the whole batch) on a database error, e.g. an idem that
   * is not 16 bytes: the caller validates inputs first. A batch may also fail with a deadlock
   * (SQLSTATE 40P01) in one pathological case: two relays at once storing batches in which the
   * same sender reuses idems across different chats in opposite orders. Retrying a failed
   * batch is always safe: it is idempotent.
   */
  async insertMessages(batch: readonly NewMessage[], now: Date): Promise<InsertResult[]> {
    if (batch.length === 0) return [];
    return batch.length <= this.singleStatementMaxBatch
      ? this.insertInOneStatement(batch, now)
      : this.insertInTransaction(batch, now);
  }

  /** insertMessages for a small batch: one call of smsg_insert_messages, in autocommit. */
  private async insertInOneStatement(batch: readonly NewMessage[], now: Date): Promise<InsertResult[]> {
    // The first occurrence of each (sender, idem) in the batch, by position; repeats follow it.
    const keyOf = (senderId: number, idem: Uint8Array): string => `${senderId}:${hex(idem)}`;
    const firstIndex = new Map<string, number>();
    const firsts: NewMessage[] = [];
    const firstAt: number[] = [];
    const firstOf: number[] = batch.map((m, i) => {
      const key = keyOf(m.senderId, m.idem);
      let f = firstIndex.get(key);
      if (f === undefined) {
        f = firsts.length;
        firstIndex.set(key, f);
        firsts.push(m);
        firstAt.push(i);
      }
      return f;
    });
    const lock = [...new Set(batch.map((m) => m.chatId))].sort((a, b) => a - b);
    // One statement, so one round trip and its own transaction (migrations/0002_…sql).
    const rows = await this.db.query<{
      r_ord: number;
      r_outcome: string;
      r_id: Int8 | null;
      r_created_at: Date | null;
    }>(
      `SELECT r_ord, r_outcome, r_id, r_created_at
         FROM smsg_insert_messages($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[], $6::bytea[], $7)`,
      [
        lock,
        firsts.map((m) => m.chatId),
        firsts.map((m) => m.senderId),
        firsts.map((m) => m.recipientId),
        firsts.map((m) => m.idem),
        firsts.map((m) => m.envelope),
        now,
      ],
    );
    const outcome: InsertResult[] = new Array<InsertResult>(firsts.length);
    for (const r of rows) {
      let result: InsertResult;
      if (r.r_outcome === "new" || r.r_outcome === "duplicate") {
        if (r.r_id === null || r.r_created_at === null)
          throw new InternalError("a stored send came back without its id");
        result = { ok: true, id: num(r.r_id), createdAt: r.r_created_at, duplicate: r.r_outcome === "duplicate" };
      } else if (INSERT_FAILURES.has(r.r_outcome as InsertFailure)) {
        result = { ok: false, reason: r.r_outcome as InsertFailure };
      } else {
        throw new InternalError(`unexpected send outcome ${r.r_outcome}`);
      }
      outcome[r.r_ord - 1] = result;
    }

    return batch.map((m, i): InsertResult => {
      const f = firstOf[i]!;
      const first = firsts[f]!;
      const result = outcome[f];
      if (result === undefined) throw new InternalError("no outcome for a send in the batch");
      if (firstAt[f] === i) return result;
      // A repeat within the batch: the same send again, or the idem reused for another chat.
      if (first.chatId !== m.chatId) return { ok: false, reason: "idem_conflict" };
      return result.ok ? { ...result, duplicate: true } : result;
    });
  }

  /**
   * insertMessages for a large batch: BEGIN, three statements, COMMIT (the same semantics).
   * Lock the chats, read chat state and memberships, INSERT … ON CONFLICT DO NOTHING the sends
   * that pass; only if some send was refused or not inserted (its (sender, idem) is already
   * stored: a retry, or a concurrent transaction committed it first) a fourth statement reads
   * the stored ones, and a stored send wins over a refusal, as if it had been looked up first.
   * The common case, all new and all allowed, saves that lookup's round trip and index probes.
   * (A send whose (sender, idem) is already stored may use up a message id: ids have gaps.)
   */
  private async insertInTransaction(batch: readonly NewMessage[], now: Date): Promise<InsertResult[]> {
    return this.db.transaction(async (tx) => {
      await lockChats(
        tx,
        batch.map((m) => m.chatId),
      );

      // The first occurrence of each (sender, idem) in the batch, by position.
      const keyOf = (senderId: number, idem: Uint8Array): string => `${senderId}:${hex(idem)}`;
      const firstIndex = new Map<string, number>();
      batch.forEach((m, i) => {
        const key = keyOf(m.senderId, m.idem);
        if (!firstIndex.has(key)) firstIndex.set(key, i);
      });
      const firstByKey = new Map([...firstIndex].map(([key, i]) => [key, batch[i] as NewMessage]));

      // Chat state and memberships for every (chat, sender) and (chat, recipient) pair.
      const pairs = new Map<string, [number, number]>();
      for (const m of batch) {
        pairs.set(`${m.chatId}:${m.senderId}`, [m.chatId, m.senderId]);
        if (m.recipientId !== null) pairs.set(`${m.chatId}:${m.recipientId}`, [m.chatId, m.recipientId]);
      }
      const pairList = [...pairs.values()];
      const stateRows = await tx.query<{ chat_id: Int8; account_id: Int8; closed: boolean | null; is_member: boolean }>(
        `SELECT u.chat_id, u.account_id, c.closed, (cm.account_id IS NOT NULL) AS is_member
           FROM unnest($1::bigint[], $2::bigint[]) AS u(chat_id, account_id)
           LEFT JOIN chats c ON c.id = u.chat_id
           LEFT JOIN chat_members cm ON cm.chat_id = u.chat_id AND cm.account_id = u.account_id`,
        [pairList.map((p) => p[0]), pairList.map((p) => p[1])],
      );
      const closedByChat = new Map<number, boolean | null>();
      const isMember = new Set<string>();
      for (const r of stateRows) {
        closedByChat.set(num(r.chat_id), r.closed);
        if (r.is_member) isMember.add(`${num(r.chat_id)}:${num(r.account_id)}`);
      }

      // Decide the first occurrence of each (sender, idem); repeats in the batch follow it.
      const outcome = new Map<string, InsertResult>();
      const refused = new Map<string, InsertFailure>();
      const toInsert: NewMessage[] = [];
      for (const [key, m] of firstByKey) {
        const closed = closedByChat.get(m.chatId);
        let refusal: InsertFailure | undefined;
        // A non-member learns only that the chat is unknown to it, not whether it is closed.
        if (closed === undefined || closed === null) refusal = "chat_unknown";
        else if (!isMember.has(`${m.chatId}:${m.senderId}`)) refusal = "not_member";
        else if (closed) refusal = "chat_closed";
        else if (m.recipientId !== null && !isMember.has(`${m.chatId}:${m.recipientId}`))
          refusal = "recipient_not_member";
        if (refusal !== undefined) refused.set(key, refusal);
        else toInsert.push(m);
      }

      if (toInsert.length > 0) {
        const rows = await tx.query<{ id: Int8; sender_id: Int8; idem: Uint8Array; created_at: Date }>(
          `INSERT INTO messages (chat_id, sender_id, recipient_id, idem, envelope, created_at)
           SELECT u.chat_id, u.sender_id, u.recipient_id, u.idem, u.envelope, $6
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bytea[], $5::bytea[])
                  WITH ORDINALITY AS u(chat_id, sender_id, recipient_id, idem, envelope, ord)
            ORDER BY u.ord
           ON CONFLICT (sender_id, idem) DO NOTHING
           RETURNING id, sender_id, idem, created_at`,
          [
            toInsert.map((m) => m.chatId),
            toInsert.map((m) => m.senderId),
            toInsert.map((m) => m.recipientId),
            toInsert.map((m) => m.idem),
            toInsert.map((m) => m.envelope),
            now,
          ],
        );
        for (const r of rows) {
          outcome.set(keyOf(num(r.sender_id), r.idem), {
            ok: true,
            id: num(r.id),
            createdAt: r.created_at,
            duplicate: false,
          });
        }
      }

      // Not stored by this INSERT: refused, or the (sender, idem) is already stored (an earlier
      // send, or a concurrent transaction sending to another chat, so not serialised by our
      // chat locks, committed it first; visible now). A stored send is the answer: a duplicate
      // for the same chat, idem_conflict for another, even if the chat was closed or the sender
      // removed since. Otherwise the refusal stands.
      const unresolved: [string, NewMessage][] = [];
      for (const entry of firstByKey) if (!outcome.has(entry[0])) unresolved.push(entry);
      if (unresolved.length > 0) {
        const stored = await findByIdem(
          tx,
          unresolved.map((e) => e[1]),
        );
        for (const [key, m] of unresolved) {
          const w = stored.get(key);
          if (w !== undefined) {
            outcome.set(
              key,
              w.chatId === m.chatId
                ? { ok: true, id: w.id, createdAt: w.createdAt, duplicate: true }
                : { ok: false, reason: "idem_conflict" },
            );
            continue;
          }
          const refusal = refused.get(key);
          if (refusal === undefined)
            throw new InternalError("a send conflicted on its idempotency id but no earlier send was found");
          outcome.set(key, { ok: false, reason: refusal });
        }
      }

      return batch.map((m, i): InsertResult => {
        const key = keyOf(m.senderId, m.idem);
        const first = firstByKey.get(key);
        const result = outcome.get(key);
        if (first === undefined || result === undefined) throw new InternalError("no outcome for a send in the batch");
        if (firstIndex.get(key) === i) return result;
        // A repeat within the batch: the same send again, or the idem reused for another chat.
        if (first.chatId !== m.chatId) return { ok: false, reason: "idem_conflict" };
        return result.ok ? { ...result, duplicate: true } : result;
      });
    });
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
  async pendingFor(
    accountId: number,
    page: { limit: number; afterByChat?: ReadonlyMap<number, number> },
  ): Promise<StoredMessage[]> {
    const { limit } = page;
    checkLimit(limit);
    const after = [...(page.afterByChat ?? new Map<number, number>())];
    const rows = await this.db.query<MessageRow>(
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
  async pendingCount(accountId: number, afterByChat: ReadonlyMap<number, number>, cap: number): Promise<number> {
    const after = [...afterByChat];
    const rows = await this.db.query<{ n: Int8 }>(
      `SELECT count(*) AS n FROM (SELECT 1 ${PENDING_FOR_ACCOUNT} LIMIT $4) AS waiting`,
      [accountId, after.map(([chatId]) => chatId), after.map(([, id]) => id), cap],
    );
    return num(rows[0]!.n);
  }

  /**
   * Records that `accountId` has everything in `chatId` up to message `upTo`. The cursor never
   * moves backwards, nor beyond the chat's newest message (a client cannot skip messages that
   * do not exist yet). Returns the cursor now stored, or undefined when the account is not a
   * member of the chat.
   */
  async ackCursor(accountId: number, chatId: number, upTo: number): Promise<number | undefined> {
    const rows = await this.db.query<{ cursor: Int8 }>(
      `UPDATE chat_members SET cursor = GREATEST(cursor, LEAST($3::bigint, ${CHAT_MAX_ID}))
        WHERE chat_id = $1 AND account_id = $2
        RETURNING cursor`,
      [chatId, accountId, upTo],
    );
    return rows[0] === undefined ? undefined : num(rows[0].cursor);
  }

  /**
   * A page of a chat's history as `accountId` may see it: ids above `afterId`, oldest first,
   * at most `limit`, without messages from before the account joined or directed to someone
   * else; the account's own messages included. [] when the account is not a member (the
   * caller checks membership first to tell that apart). Throws UsageError for a bad limit.
   */
  async fetchChatMessages(chatId: number, accountId: number, afterId: number, limit: number): Promise<StoredMessage[]> {
    checkLimit(limit);
    const rows = await this.db.query<MessageRow>(
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
  async messagesByIds(ids: readonly number[]): Promise<StoredMessage[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ANY($1::bigint[]) ORDER BY m.id`,
      [[...new Set(ids)]],
    );
    return rows.map(toMessage);
  }

  // ----- retention ----------------------------------------------------------------------------

  /**
   * Deletes messages every recipient has acknowledged, and returns how many. Recipients are
   * the chat's current members other than the sender who joined before the message (or, for a
   * directed message, that one member); a message none of them still waits for is delivered.
   * With `createdBefore`, only messages created before it go (a retention setting that keeps
   * acked ciphertext for a while; it is also how long a retried send is still recognised as a
   * duplicate, since the idempotency record is the message row). Deletes at most `limit`
   * (default 10 000) per call, oldest first: call again while it returns `limit`.
   */
  async deleteDelivered(options: { createdBefore?: Date; limit?: number } = {}): Promise<number> {
    const limit = options.limit ?? 10_000;
    checkLimit(limit);
    const rows = await this.db.query<{ n: Int8 }>(
      `WITH doomed AS (
         SELECT m.id FROM messages m
          WHERE ($1::timestamptz IS NULL OR m.created_at < $1::timestamptz)
            AND NOT EXISTS (
              SELECT 1 FROM chat_members cm
               WHERE cm.chat_id = m.chat_id
                 AND cm.account_id <> m.sender_id
                 AND (m.recipient_id IS NULL OR cm.account_id = m.recipient_id)
                 AND cm.member_since_message < m.id
                 AND cm.cursor < m.id)
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
   * and returns how many. At most `limit` (default 10 000) per call, oldest first.
   */
  async expireOlderThan(cutoff: Date, limit = 10_000): Promise<number> {
    checkLimit(limit);
    const rows = await this.db.query<{ n: Int8 }>(
      `WITH doomed AS (SELECT id FROM messages WHERE created_at < $1 ORDER BY created_at LIMIT $2),
            deleted AS (DELETE FROM messages WHERE id IN (SELECT id FROM doomed) RETURNING 1)
       SELECT count(*) AS n FROM deleted`,
      [cutoff, limit],
    );
    return num(one(rows).n);
  }
}

// ---------------------------------------------------------------------------------------------
// Statements shared by several methods (they take the Queryable: the Db or a transaction).

/** The single row a statement must return; a missing one is a bug (InternalError). */
function one<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new InternalError("a statement that always returns a row returned none");
  return row;
}

async function putSignedPrekeyIn(q: Queryable, accountId: number, prekey: SignedPrekey, now: Date): Promise<void> {
  await q.query(
    `INSERT INTO signed_prekeys (account_id, key_id, public_key, signature, created_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (account_id, key_id) DO UPDATE
       SET public_key = EXCLUDED.public_key, signature = EXCLUDED.signature,
           created_at = EXCLUDED.created_at, upload_seq = DEFAULT`,
    [accountId, prekey.keyId, prekey.publicKey, prekey.signature, now],
  );
}

async function addOneTimePrekeysIn(q: Queryable, accountId: number, keys: readonly OneTimePrekey[]): Promise<number> {
  if (keys.length === 0) return 0;
  const rows = await q.query<{ n: Int8 }>(
    `WITH added AS (
       INSERT INTO one_time_prekeys (account_id, key_id, public_key)
       SELECT $1, u.key_id, u.public_key FROM unnest($2::bigint[], $3::bytea[]) AS u(key_id, public_key)
       ON CONFLICT (account_id, key_id) DO NOTHING
       RETURNING 1)
     SELECT count(*) AS n FROM added`,
    [accountId, keys.map((k) => k.keyId), keys.map((k) => k.publicKey)],
  );
  return num(one(rows).n);
}

async function membersIn(q: Queryable, chatId: number): Promise<Member[]> {
  const rows = await q.query<MemberRow>(
    `SELECT m.account_id, a.username, m.role, m.joined_at, m.member_since_message
       FROM chat_members m JOIN accounts a ON a.id = m.account_id
      WHERE m.chat_id = $1
      ORDER BY m.account_id`,
    [chatId],
  );
  return rows.map(toMember);
}

interface StoredIdem {
  readonly id: number;
  readonly chatId: number;
  readonly createdAt: Date;
}

/** Stored messages with the same (sender, idem) as any of `items`, keyed "sender:hex(idem)". */
async function findByIdem(q: Queryable, items: readonly NewMessage[]): Promise<Map<string, StoredIdem>> {
  const found = new Map<string, StoredIdem>();
  if (items.length === 0) return found;
  const rows = await q.query<{ id: Int8; chat_id: Int8; sender_id: Int8; idem: Uint8Array; created_at: Date }>(
    `SELECT m.id, m.chat_id, m.sender_id, m.idem, m.created_at
       FROM unnest($1::bigint[], $2::bytea[]) AS u(sender_id, idem)
       JOIN messages m ON m.sender_id = u.sender_id AND m.idem = u.idem`,
    [items.map((m) => m.senderId), items.map((m) => m.idem)],
  );
  for (const r of rows) {
    found.set(`${num(r.sender_id)}:${hex(r.idem)}`, { id: num(r.id), chatId: num(r.chat_id), createdAt: r.created_at });
  }
  return found;
}
