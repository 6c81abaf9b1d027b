/**
 * The `signed_prekeys` and `one_time_prekeys` tables: uploads, the stock count, and handing
 * out a bundle (SECURITY.md §4.2; docs/ARCHITECTURE.md §4.2). Prekeys belong to a device of
 * the account (§17.1, §17.8; migrations/0006_devices.sql): every statement names one.
 */
import type { Int8, Queryable } from "./db.js";
import { num, one } from "./sql-values.js";
import type { OneTimePrekey, PrekeyBundle, SignedPrekey } from "./types.js";

/**
 * Stores a signed prekey of a device and makes it the device's current one (uploading an id
 * again replaces that key and makes it current). Throws the database error for bad sizes, and
 * at commit for a device the account does not have.
 */
export async function putSigned(
  q: Queryable,
  accountId: number,
  deviceId: number,
  prekey: SignedPrekey,
  now: Date,
): Promise<void> {
  await q.query(
    `INSERT INTO signed_prekeys (account_id, device_id, key_id, public_key, signature, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (account_id, device_id, key_id) DO UPDATE
       SET public_key = EXCLUDED.public_key, signature = EXCLUDED.signature,
           created_at = EXCLUDED.created_at, upload_seq = DEFAULT`,
    [accountId, deviceId, prekey.keyId, prekey.publicKey, prekey.signature, now],
  );
}

/**
 * Adds one-time prekeys of a device; a key id the device already has is ignored (the stored
 * key wins), as is a repeated id within `keys`. Returns how many were added.
 */
export async function addOneTime(
  q: Queryable,
  accountId: number,
  deviceId: number,
  keys: readonly OneTimePrekey[],
): Promise<number> {
  if (keys.length === 0) return 0;
  const rows = await q.query<{ n: Int8 }>(
    `WITH added AS (
       INSERT INTO one_time_prekeys (account_id, device_id, key_id, public_key)
       SELECT $1, $2, u.key_id, u.public_key FROM unnest($3::bigint[], $4::bytea[]) AS u(key_id, public_key)
       ON CONFLICT (account_id, device_id, key_id) DO NOTHING
       RETURNING 1)
     SELECT count(*) AS n FROM added`,
    [accountId, deviceId, keys.map((k) => k.keyId), keys.map((k) => k.publicKey)],
  );
  return num(one(rows).n);
}

/** How many one-time prekeys the device has left (its client refills when low). */
export async function oneTimeCount(q: Queryable, accountId: number, deviceId: number): Promise<number> {
  const rows = await q.query<{ n: Int8 }>(
    "SELECT count(*) AS n FROM one_time_prekeys WHERE account_id = $1 AND device_id = $2",
    [accountId, deviceId],
  );
  return num(one(rows).n);
}

/** Deletes every prekey of these devices (removed from the account's list, §17.7). */
export async function deleteOfDevices(q: Queryable, accountId: number, deviceIds: readonly number[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await q.query("DELETE FROM one_time_prekeys WHERE account_id = $1 AND device_id = ANY ($2::bigint[])", [
    accountId,
    deviceIds,
  ]);
  await q.query("DELETE FROM signed_prekeys WHERE account_id = $1 AND device_id = ANY ($2::bigint[])", [
    accountId,
    deviceIds,
  ]);
}

/**
 * Returns the prekey bundle of one device of the account: the device's identity, its current
 * signed prekey and one of its one-time prekeys, which is deleted in the same statement. Each
 * one-time prekey is handed out exactly once even under concurrent calls (the row is locked
 * with SKIP LOCKED, so concurrent callers take different keys instead of waiting and then
 * finding nothing). `oneTimePrekey` is undefined when none are left. Returns undefined,
 * consuming nothing, when the account does not exist or is disabled, the device is not a
 * current device of it (never listed, or removed), or the device has no signed prekey (listed
 * but not registered yet).
 */
export async function takeBundle(q: Queryable, accountId: number, deviceId: number): Promise<PrekeyBundle | undefined> {
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
        WHERE (account_id, device_id, key_id) = (
          SELECT o.account_id, o.device_id, o.key_id FROM one_time_prekeys o
           WHERE o.account_id = $1 AND o.device_id = $2
             AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = $1 AND NOT a.disabled)
             AND EXISTS (SELECT 1 FROM devices d WHERE d.account_id = $1 AND d.device_id = $2 AND d.removed_at IS NULL)
             AND EXISTS (SELECT 1 FROM signed_prekeys s WHERE s.account_id = $1 AND s.device_id = $2)
           ORDER BY o.key_id
           LIMIT 1
           FOR UPDATE SKIP LOCKED)
        RETURNING key_id, public_key)
     SELECT d.identity, s.key_id AS spk_id, s.public_key AS spk_public, s.signature AS spk_signature,
            opk.key_id AS opk_id, opk.public_key AS opk_public
       FROM accounts a
       JOIN devices d ON d.account_id = a.id AND d.device_id = $2 AND d.removed_at IS NULL
       JOIN LATERAL (SELECT key_id, public_key, signature FROM signed_prekeys
                      WHERE account_id = a.id AND device_id = $2 ORDER BY upload_seq DESC LIMIT 1) s ON true
       LEFT JOIN opk ON true
      WHERE a.id = $1 AND NOT a.disabled`,
    [accountId, deviceId],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  return {
    accountId,
    deviceId,
    identity: r.identity,
    signedPrekey: { keyId: num(r.spk_id), publicKey: r.spk_public, signature: r.spk_signature },
    oneTimePrekey:
      r.opk_id === null || r.opk_public === null ? undefined : { keyId: num(r.opk_id), publicKey: r.opk_public },
  };
}
