/**
 * The `signed_prekeys` and `one_time_prekeys` tables: uploads, the stock count, and handing
 * out a bundle (SECURITY.md §4.2; docs/ARCHITECTURE.md §4.2).
 */
import type { Int8, Queryable } from "./db.js";
import { num, one } from "./sql-values.js";
import type { OneTimePrekey, PrekeyBundle, SignedPrekey } from "./types.js";

/**
 * Stores a signed prekey and makes it the current one (uploading an id again replaces that
 * key and makes it current). Throws the database error for an unknown account or bad sizes.
 */
export async function putSigned(q: Queryable, accountId: number, prekey: SignedPrekey, now: Date): Promise<void> {
  await q.query(
    `INSERT INTO signed_prekeys (account_id, key_id, public_key, signature, created_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (account_id, key_id) DO UPDATE
       SET public_key = EXCLUDED.public_key, signature = EXCLUDED.signature,
           created_at = EXCLUDED.created_at, upload_seq = DEFAULT`,
    [accountId, prekey.keyId, prekey.publicKey, prekey.signature, now],
  );
}

/**
 * Adds one-time prekeys; a key id the account already has is ignored (the stored key wins),
 * as is a repeated id within `keys`. Returns how many were added.
 */
export async function addOneTime(q: Queryable, accountId: number, keys: readonly OneTimePrekey[]): Promise<number> {
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

/** How many one-time prekeys the account has left (the client refills when low). */
export async function oneTimeCount(q: Queryable, accountId: number): Promise<number> {
  const rows = await q.query<{ n: Int8 }>("SELECT count(*) AS n FROM one_time_prekeys WHERE account_id = $1", [
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
export async function takeBundle(q: Queryable, accountId: number): Promise<PrekeyBundle | undefined> {
  const rows = await q.query<{
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
