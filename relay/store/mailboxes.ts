/**
 * The `device_mailboxes` table: which devices of an account receive messages, and since when
 * (SECURITY.md §17.7, §17.8; docs/ARCHITECTURE.md §4.2 "Devices and mailboxes"). An account
 * with no rows has no device list yet and receives as device 1; once a list is stored, its
 * rows are exactly the list's device ids, kept so by `setMailboxes` in the transaction that
 * stores the list.
 */
import type { Int8, Queryable } from "./db.js";
import { num } from "./sql-values.js";

/** What `setMailboxes` changed. */
export interface MailboxChange {
  readonly opened: readonly number[];
  readonly removed: readonly number[];
  /** Copies deleted unread with the removed devices' mailboxes. */
  readonly copiesDeleted: number;
}

/**
 * Makes the account's mailboxes the devices of its newly stored list, inside `tx`, the
 * transaction that stores the list (relay/store/devices.ts). A device new to the list gets a
 * mailbox that holds only what is sent from now on: undirected messages above the newest
 * message id (device 1, which has received all along, from 0). A device no longer listed loses
 * its mailbox with its unread copies and its cursors (SECURITY.md §17.7: "a copy already in the
 * removed device's mailbox is deleted unread").
 *
 * Takes the account's mailbox lock (advisory key −account id) exclusively first: a
 * send_copies holds it shared while it checks and stores copies for the account's devices
 * (migrations/0007_device_mailboxes.sql), so no copy for a removed device can commit after the
 * deletion here. Call it after the list's own writes, as the transaction's last lock.
 */
export async function setMailboxes(
  tx: Queryable,
  accountId: number,
  deviceIds: readonly number[],
): Promise<MailboxChange> {
  await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [-accountId]);
  const ids = [...new Set(deviceIds)];
  const removed = await tx.query<{ device_id: number }>(
    `DELETE FROM device_mailboxes WHERE account_id = $1 AND device_id <> ALL ($2::integer[]) RETURNING device_id`,
    [accountId, ids],
  );
  // An account without a list received as device 1: if its first list leaves device 1 out,
  // device 1 is removed as well.
  const hadNone = removed.length === 0 && (await hasMailboxes(tx, accountId)) === false;
  const gone = removed.map((r) => r.device_id);
  if (hadNone && !ids.includes(1)) gone.push(1);
  const opened = await tx.query<{ device_id: number }>(
    `INSERT INTO device_mailboxes (account_id, device_id, since_message)
     SELECT $1, d.id, CASE WHEN d.id = 1 THEN 0 ELSE (SELECT COALESCE(MAX(id), 0) FROM messages) END
       FROM unnest($2::integer[]) AS d(id)
     ON CONFLICT (account_id, device_id) DO NOTHING
     RETURNING device_id`,
    [accountId, ids],
  );
  let copiesDeleted = 0;
  if (gone.length > 0) {
    const copies = await tx.query(
      "DELETE FROM message_copies WHERE account_id = $1 AND device_id = ANY ($2::integer[]) RETURNING 1",
      [accountId, gone],
    );
    copiesDeleted = copies.length;
    await tx.query("DELETE FROM device_cursors WHERE account_id = $1 AND device_id = ANY ($2::integer[])", [
      accountId,
      gone,
    ]);
  }
  return {
    opened: opened.map((r) => r.device_id).filter((d) => !(hadNone && d === 1)),
    removed: gone.sort((a, b) => a - b),
    copiesDeleted,
  };
}

async function hasMailboxes(q: Queryable, accountId: number): Promise<boolean> {
  const rows = await q.query("SELECT 1 FROM device_mailboxes WHERE account_id = $1 LIMIT 1", [accountId]);
  return rows.length > 0;
}

/**
 * Where a device's mailbox starts: the message id above which undirected messages are for it
 * (0 for device 1 and for an account without a list), or undefined when the device is not one
 * of the account's current devices.
 */
export async function mailboxSince(q: Queryable, accountId: number, deviceId: number): Promise<number | undefined> {
  const rows = await q.query<{ since_message: Int8; listed: boolean }>(
    `SELECT b.since_message, true AS listed FROM device_mailboxes b WHERE b.account_id = $1 AND b.device_id = $2
     UNION ALL
     SELECT 0, false WHERE NOT EXISTS (SELECT 1 FROM device_mailboxes b WHERE b.account_id = $1)`,
    [accountId, deviceId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  if (!row.listed && deviceId !== 1) return undefined;
  return num(row.since_message);
}
