/**
 * The `accounts` table: creating an account with an invite, look-ups, the operator's
 * listing and disabling (docs/ARCHITECTURE.md §4.2). Deletion and activity are in
 * account-admin.ts.
 */
import type { Db, Int8, Queryable } from "./db.js";
import * as devices from "./devices.js";
import * as invites from "./invites.js";
import * as prekeys from "./prekeys.js";
import { Refusal, num, one } from "./sql-values.js";
import type { Account, CreateAccountResult, NewAccount } from "./types.js";

interface AccountRow {
  id: Int8;
  username: string;
  credential_hash: Uint8Array;
  identity: Uint8Array;
  is_admin: boolean;
  disabled: boolean;
  created_at: Date;
}

const ACCOUNT_COLUMNS = "id, username, credential_hash, identity, is_admin, disabled, created_at";

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

/**
 * Creates an account with an invite, atomically: the invite must exist, be unexpired at
 * `now` and have uses left (one use is consumed); the username must be free, compared
 * case-insensitively; then the account (admin when the invite grants it), its device 1 (the
 * account key, SECURITY.md §17.1) and that device's signed and one-time prekeys are stored. If any step fails nothing changes (the invite keeps
 * its use). An invalid invite is reported before a taken username, so people without a
 * valid invite cannot probe which usernames exist.
 *
 * Throws the database error when an input breaks a column constraint (hash not 32 bytes,
 * identity not 128 bytes, key id outside u32): the caller validates inputs first.
 */
export async function createWithInvite(db: Db, input: NewAccount): Promise<CreateAccountResult> {
  try {
    return await db.transaction(async (tx) => {
      const grantsAdmin = await invites.consume(tx, input.inviteCodeHash, input.now);
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

      // Device 1 is the account key (SECURITY.md §17.1): its row and prekeys are the join's.
      await devices.createFirst(tx, account.id, input.identity, input.credentialHash, input.now);
      await prekeys.putSigned(tx, account.id, 1, input.signedPrekey, input.now);
      await prekeys.addOneTime(tx, account.id, 1, input.oneTimePrekeys);
      return { ok: true, account } as const;
    });
  } catch (err) {
    if (err instanceof Refusal) return err.result as CreateAccountResult;
    throw err;
  }
}

/** The account with this username, compared case-insensitively; undefined when none. */
export async function byUsername(q: Queryable, username: string): Promise<Account | undefined> {
  const rows = await q.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE username = lower($1)`, [
    username,
  ]);
  return rows[0] === undefined ? undefined : toAccount(rows[0]);
}

/** The account with this id; undefined when none. */
export async function byId(q: Queryable, id: number): Promise<Account | undefined> {
  const rows = await q.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]);
  return rows[0] === undefined ? undefined : toAccount(rows[0]);
}

/** Every account, ordered by id (operator listing). */
export async function list(q: Queryable): Promise<Account[]> {
  const rows = await q.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY id`);
  return rows.map(toAccount);
}

/** Disables or re-enables an account by username; false when no such account. */
export async function setDisabled(q: Queryable, username: string, disabled: boolean): Promise<boolean> {
  const rows = await q.query<{ id: Int8 }>(
    "UPDATE accounts SET disabled = $2 WHERE username = lower($1) RETURNING id",
    [username, disabled],
  );
  return rows.length > 0;
}

/** How many accounts exist (disabled ones included). */
export async function count(q: Queryable): Promise<number> {
  const rows = await q.query<{ n: Int8 }>("SELECT count(*) AS n FROM accounts");
  return num(one(rows).n);
}
