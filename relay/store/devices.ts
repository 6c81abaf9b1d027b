/**
 * The `device_lists` and `devices` tables (SECURITY.md §17.8; migrations/0006_devices.sql):
 * an account's current signed list, and every device it ever listed with its identity,
 * credential hash and activity. Device 1 is the account key (§17.1): `join` creates its row
 * (accounts.ts), and an account without a list is a one-device account whose only current
 * device is 1. Invariant kept here: a device row has `removed_at` NULL exactly while its id is
 * in the account's current list (or, without a list, is 1).
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { addsExactlyOne, deviceChanges } from "./device-changes.js";
import type { Db, Int8, Queryable, Tx } from "./db.js";
import { setMailboxes } from "./mailboxes.js";
import * as prekeys from "./prekeys.js";
import { Refusal, num } from "./sql-values.js";
import type {
  Device,
  NewDeviceList,
  NewDeviceRegistration,
  RegisterDeviceResult,
  StoreDeviceListResult,
  StoredDeviceList,
} from "./types.js";

interface DeviceRow {
  account_id: Int8;
  device_id: Int8;
  identity: Uint8Array;
  credential_hash: Uint8Array | null;
  created_at: Date;
  last_seen_at: Date | null;
  removed_at: Date | null;
}

const DEVICE_COLUMNS = "account_id, device_id, identity, credential_hash, created_at, last_seen_at, removed_at";

function toDevice(r: DeviceRow): Device {
  return {
    accountId: num(r.account_id),
    deviceId: num(r.device_id),
    identity: r.identity,
    credentialHash: r.credential_hash,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    removedAt: r.removed_at,
  };
}

/**
 * Creates device 1 of every account that has none, from the account's identity and credential
 * hash: the statement of migration 0006, run again after restoring a backup made before it.
 */
export async function backfillFirstDevices(q: Queryable): Promise<void> {
  await q.query(
    `INSERT INTO devices (account_id, device_id, identity, credential_hash, created_at, last_seen_at)
     SELECT a.id, 1, a.identity, a.credential_hash, a.created_at, a.last_seen_at
       FROM accounts a
      WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.account_id = a.id AND d.device_id = 1)`,
  );
}

/** Device 1 of a new account (`join`): the account key, with the credential of the join. */
export async function createFirst(
  q: Queryable,
  accountId: number,
  identity: Uint8Array,
  credentialHash: Uint8Array,
  now: Date,
): Promise<void> {
  await q.query(
    `INSERT INTO devices (account_id, device_id, identity, credential_hash, created_at, last_seen_at)
     VALUES ($1, 1, $2, $3, $4, $4)`,
    [accountId, identity, credentialHash, now],
  );
}

/** The account's current list; undefined for an account without one (a client before §17). */
export async function currentList(q: Queryable, accountId: number): Promise<StoredDeviceList | undefined> {
  const rows = await q.query<{ version: Int8; list: Uint8Array; updated_at: Date }>(
    "SELECT version, list, updated_at FROM device_lists WHERE account_id = $1",
    [accountId],
  );
  const r = rows[0];
  return r === undefined ? undefined : { accountId, version: num(r.version), list: r.list, updatedAt: r.updated_at };
}

/**
 * The version of the current list of each account named (`fetch_device_list_versions`, §17.8),
 * in the order named, in one statement whatever their number: 0 for a name with no list to give,
 * which is an account without one, no account, or a disabled one (as `fetch_device_list` gives
 * no list for them). `usernames` are canonical (lowercase, §14.5), as the wire schema makes them.
 */
export async function versionsByName(q: Queryable, usernames: readonly string[]): Promise<number[]> {
  if (usernames.length === 0) return [];
  const rows = await q.query<{ username: string; version: Int8 }>(
    `SELECT a.username, l.version FROM accounts a JOIN device_lists l ON l.account_id = a.id
      WHERE a.username = ANY ($1::text[]) AND NOT a.disabled`,
    [usernames],
  );
  const byName = new Map(rows.map((r) => [r.username, num(r.version)]));
  return usernames.map((u) => byName.get(u) ?? 0);
}

/** The ids of the account's current devices, ascending ([1] for an account without a list). */
export async function currentIds(q: Queryable, accountId: number): Promise<number[]> {
  return (await currentIdsOf(q, [accountId])).get(accountId) ?? [];
}

/** currentIds of several accounts at once; an account with no device row maps to []. */
export async function currentIdsOf(q: Queryable, accountIds: readonly number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>(accountIds.map((id) => [id, []]));
  if (accountIds.length === 0) return out;
  const rows = await q.query<{ account_id: Int8; device_id: Int8 }>(
    `SELECT account_id, device_id FROM devices
      WHERE account_id = ANY ($1::bigint[]) AND removed_at IS NULL ORDER BY account_id, device_id`,
    [accountIds],
  );
  for (const r of rows) out.get(num(r.account_id))?.push(num(r.device_id));
  return out;
}

/** The device (current or removed); undefined when the account never listed this id. */
export async function byId(q: Queryable, accountId: number, deviceId: number): Promise<Device | undefined> {
  const rows = await q.query<DeviceRow>(
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE account_id = $1 AND device_id = $2`,
    [accountId, deviceId],
  );
  return rows[0] === undefined ? undefined : toDevice(rows[0]);
}

/** Every device the account ever listed, by id (removed ones included). */
export async function of(q: Queryable, accountId: number): Promise<Device[]> {
  const rows = await q.query<DeviceRow>(
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE account_id = $1 ORDER BY device_id`,
    [accountId],
  );
  return rows.map(toDevice);
}

/** Records that the device was active now (a login, or a connection closing). */
export async function touchLastSeen(q: Queryable, accountId: number, deviceId: number, now: Date): Promise<void> {
  await q.query(
    `UPDATE devices SET last_seen_at = $3
      WHERE account_id = $1 AND device_id = $2 AND (last_seen_at IS NULL OR last_seen_at < $3)`,
    [accountId, deviceId, now],
  );
}

/**
 * Everything a removed device leaves behind is deleted here, inside the transaction that
 * stores the list without it (§17.7): its prekeys. Its mailbox (copies and cursors) goes with
 * the setMailboxes call that ends `store`, which also opens the new devices' mailboxes.
 */
export async function dropRemoved(tx: Tx, accountId: number, removed: readonly number[]): Promise<void> {
  await prekeys.deleteOfDevices(tx, accountId, removed);
}

/**
 * Stores a new current list (already decoded and verified under the account key by the caller)
 * in one transaction under the account's row lock, so two publications of one account are
 * decided one after the other: checks it against the stored list and the device rows (the
 * refusals of StoreDeviceListResult, which change nothing), creates rows for new devices (not
 * registered yet), marks the devices it leaves out removed and drops what they leave behind.
 */
export async function store(db: Db, input: NewDeviceList): Promise<StoreDeviceListResult> {
  try {
    return await db.transaction(async (tx) => {
      const refuse = (r: StoreDeviceListResult): never => {
        throw new Refusal(r);
      };
      await tx.query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", [input.accountId]);
      const stored = await currentList(tx, input.accountId);
      if (stored !== undefined && input.version <= stored.version)
        refuse({ ok: false, reason: "stale", version: stored.version });
      const rows = await of(tx, input.accountId);
      const current = rows.filter((d) => d.removedAt === null).map((d) => d.deviceId);
      const next = input.devices.map((d) => d.id);
      if (input.by === "add_one") {
        if (addsExactlyOne(current, next) === undefined) refuse({ ok: false, reason: "not_add_one" });
      } else if (!current.includes(input.by.device)) refuse({ ok: false, reason: "caller_not_listed" });
      if (stored === undefined && !next.includes(1)) refuse({ ok: false, reason: "first_without_device_1" });

      const byId = new Map(rows.map((d) => [d.deviceId, d]));
      const highest = rows.reduce((h, d) => Math.max(h, d.deviceId), 0);
      for (const entry of input.devices) {
        const known = byId.get(entry.id);
        if (known === undefined) {
          if (entry.id <= highest) refuse({ ok: false, reason: "device_returned", device: entry.id });
        } else if (!bytesEqual(known.identity, entry.identity)) {
          refuse({ ok: false, reason: "device_changed", device: entry.id });
        } else if (known.removedAt !== null) {
          refuse({ ok: false, reason: "device_returned", device: entry.id });
        }
      }

      const { added, removed } = deviceChanges(current, next);
      for (const entry of input.devices.filter((d) => added.includes(d.id))) {
        await tx.query("INSERT INTO devices (account_id, device_id, identity, created_at) VALUES ($1, $2, $3, $4)", [
          input.accountId,
          entry.id,
          entry.identity,
          input.now,
        ]);
      }
      if (removed.length > 0) {
        await tx.query("UPDATE devices SET removed_at = $3 WHERE account_id = $1 AND device_id = ANY ($2::bigint[])", [
          input.accountId,
          removed,
          input.now,
        ]);
        await dropRemoved(tx, input.accountId, removed);
      }
      await tx.query(
        `INSERT INTO device_lists (account_id, version, list, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id) DO UPDATE
           SET version = EXCLUDED.version, list = EXCLUDED.list, updated_at = EXCLUDED.updated_at`,
        [input.accountId, input.version, input.list, input.now],
      );
      // Delivery follows the list: mailboxes for the new devices, and the removed ones' copies
      // and cursors deleted (§17.7). Last, as it takes the account's mailbox lock (mailboxes.ts).
      await setMailboxes(tx, input.accountId, next);
      return { ok: true, added, removed } as const;
    });
  } catch (err) {
    if (err instanceof Refusal) return err.result as StoreDeviceListResult;
    throw err;
  }
}

/**
 * Registers a listed device (`register_device`, §17.8), its signatures already checked by the
 * caller: under the device row's lock, the device must be current with exactly `identity`;
 * then its credential hash and prekeys are stored. A device that registered before with
 * another credential is refused; with the same one, the registration succeeds again (the
 * client may retry one whose answer it lost; prekey ids it uploaded before are kept).
 */
export async function register(db: Db, input: NewDeviceRegistration): Promise<RegisterDeviceResult> {
  try {
    return await db.transaction(async (tx) => {
      const rows = await tx.query<DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE account_id = $1 AND device_id = $2 FOR NO KEY UPDATE`,
        [input.accountId, input.deviceId],
      );
      const row = rows[0];
      if (row === undefined || row.removed_at !== null || !bytesEqual(row.identity, input.identity))
        throw new Refusal<RegisterDeviceResult>({ ok: false, reason: "not_listed" });
      if (row.credential_hash !== null && !bytesEqual(row.credential_hash, input.credentialHash))
        throw new Refusal<RegisterDeviceResult>({ ok: false, reason: "registered" });
      await tx.query(
        "UPDATE devices SET credential_hash = $3, last_seen_at = $4 WHERE account_id = $1 AND device_id = $2",
        [input.accountId, input.deviceId, input.credentialHash, input.now],
      );
      await prekeys.putSigned(tx, input.accountId, input.deviceId, input.signedPrekey, input.now);
      await prekeys.addOneTime(tx, input.accountId, input.deviceId, input.oneTimePrekeys);
      return { ok: true } as const;
    });
  } catch (err) {
    if (err instanceof Refusal) return err.result as RegisterDeviceResult;
    throw err;
  }
}
