/**
 * The passphrase tables (SECURITY.md §18.1, §18.5; migrations/0008_passphrase.sql): one
 * record per account that set a passphrase, a failure bucket per username asked about, and the
 * database's decoy secret. Functions take the Db (or a transaction) like account-admin.ts, so
 * RelayStore stays unchanged.
 */
import type { Rng } from "../../crypto/rng.js";
import type { Db, Int8, Queryable } from "./db.js";
import { num, one } from "./sql-values.js";

/** Failed passphrase_logins a username may have in hand, and how often one comes back (§18.5). */
export const PASSPHRASE_BUCKET_SIZE = 10;
export const PASSPHRASE_REFILL_MS = 2 * 3600_000;

/** An account's passphrase record as stored (§18.1). */
export interface PassphraseRecord {
  readonly salt: Uint8Array;
  readonly tCost: number;
  readonly memKiB: number;
  readonly loginPublic: Uint8Array;
  readonly backup: Uint8Array;
}

interface RecordRow {
  salt: Uint8Array;
  t_cost: Int8;
  mem_kib: Int8;
  login_public: Uint8Array;
  backup: Uint8Array;
}

/**
 * The record of the account named `username`; undefined when there is no such account or it
 * has no passphrase. One statement whatever the name, so the relay's work (and its timing) is the
 * same for an unknown name, an account without a passphrase and one with (§18.5).
 */
export async function passphraseRecordByName(q: Queryable, username: string): Promise<PassphraseRecord | undefined> {
  const rows = await q.query<RecordRow>(
    `SELECT r.salt, r.t_cost, r.mem_kib, r.login_public, r.backup
       FROM accounts a JOIN passphrase_records r ON r.account_id = a.id
      WHERE a.username = $1`,
    [username],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  return { salt: r.salt, tCost: num(r.t_cost), memKiB: num(r.mem_kib), loginPublic: r.login_public, backup: r.backup };
}

/**
 * Replaces the account's record (the old backup and verifier go with it) and refills the
 * username's bucket, in one transaction (§18.6).
 */
export async function replacePassphraseRecord(
  db: Db,
  account: { id: number; username: string },
  record: PassphraseRecord,
  now: Date,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO passphrase_records (account_id, salt, t_cost, mem_kib, login_public, backup, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (account_id) DO UPDATE SET salt = EXCLUDED.salt, t_cost = EXCLUDED.t_cost,
         mem_kib = EXCLUDED.mem_kib, login_public = EXCLUDED.login_public, backup = EXCLUDED.backup,
         updated_at = EXCLUDED.updated_at`,
      [account.id, record.salt, record.tCost, record.memKiB, record.loginPublic, record.backup, now],
    );
    await refillPassphraseBucket(tx, account.username);
  });
}

/**
 * Replaces only the backup of the account's record, and only while the stored verifier is
 * `loginPublic` (§18.6 "Update"): one statement, so the check and the write cannot be split by
 * another device's passphrase_set or passphrase_remove. Salt, parameters, verifier and the
 * username's bucket stay. False, changing nothing, when there is no record or its verifier
 * is another.
 */
export async function updatePassphraseBackup(
  q: Queryable,
  accountId: number,
  loginPublic: Uint8Array,
  backup: Uint8Array,
  now: Date,
): Promise<boolean> {
  const rows = await q.query(
    `UPDATE passphrase_records SET backup = $3, updated_at = $4
      WHERE account_id = $1 AND login_public = $2
      RETURNING 1`,
    [accountId, loginPublic, backup, now],
  );
  return rows.length === 1;
}

/** Deletes the account's record; its name then gets decoys (§18.6). */
export async function removePassphraseRecord(q: Queryable, accountId: number): Promise<void> {
  await q.query("DELETE FROM passphrase_records WHERE account_id = $1", [accountId]);
}

/** A full bucket is no row at all. */
export async function refillPassphraseBucket(q: Queryable, username: string): Promise<void> {
  await q.query("DELETE FROM passphrase_failures WHERE username = $1", [username]);
}

/**
 * Takes one attempt from the username's bucket, after adding what refilled since (one per
 * PASSPHRASE_REFILL_MS, up to PASSPHRASE_BUCKET_SIZE). False, changing nothing, when the bucket
 * is empty. Taken before the proof is verified, so concurrent attempts on several relays can
 * never spend more than the bucket holds; a successful login then refills it (§18.5).
 */
export async function takePassphraseAttempt(db: Db, username: string, now: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Locks the name's row (made full if absent), so two relays take attempts one after the other.
    await tx.query(
      `INSERT INTO passphrase_failures (username, tokens, refilled_at) VALUES ($1, $2, $3)
       ON CONFLICT (username) DO NOTHING`,
      [username, PASSPHRASE_BUCKET_SIZE, now],
    );
    const row = one(
      await tx.query<{ tokens: number; refilled_at: Date }>(
        "SELECT tokens, refilled_at FROM passphrase_failures WHERE username = $1 FOR UPDATE",
        [username],
      ),
    );
    const periods = Math.max(0, Math.floor((now.getTime() - row.refilled_at.getTime()) / PASSPHRASE_REFILL_MS));
    let tokens = row.tokens;
    let refilledAt = row.refilled_at.getTime();
    if (tokens >= PASSPHRASE_BUCKET_SIZE || tokens + periods >= PASSPHRASE_BUCKET_SIZE) {
      tokens = PASSPHRASE_BUCKET_SIZE;
      refilledAt = now.getTime();
    } else {
      tokens += periods;
      refilledAt += periods * PASSPHRASE_REFILL_MS; // the part of a period already waited still counts
    }
    if (tokens < 1) return false;
    await tx.query("UPDATE passphrase_failures SET tokens = $2, refilled_at = $3 WHERE username = $1", [
      username,
      tokens - 1,
      new Date(refilledAt),
    ]);
    return true;
  });
}

/**
 * Deletes the buckets that have refilled completely (no failure in the last 10 × 2 hours): they
 * mean what no row means, and unknown names must not pile up rows (called by the relay's sweep).
 */
export async function dropRefilledPassphraseBuckets(q: Queryable, now: Date): Promise<number> {
  const before = new Date(now.getTime() - PASSPHRASE_BUCKET_SIZE * PASSPHRASE_REFILL_MS);
  return (await q.query("DELETE FROM passphrase_failures WHERE refilled_at <= $1 RETURNING 1", [before])).length;
}

/**
 * The database's decoy secret: drawn with `rng` and inserted unless a row exists, then read,
 * in one transaction, so every relay on this database uses the first one drawn (§18.5).
 */
export async function loadDecoySecret(db: Db, rng: Rng): Promise<Uint8Array> {
  return db.transaction(async (tx) => {
    await tx.query("INSERT INTO passphrase_decoy (one, secret) VALUES (true, $1) ON CONFLICT (one) DO NOTHING", [
      rng(32),
    ]);
    return one(await tx.query<{ secret: Uint8Array }>("SELECT secret FROM passphrase_decoy")).secret;
  });
}
