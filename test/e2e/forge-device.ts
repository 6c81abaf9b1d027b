/**
 * A device a malicious relay operator adds to an account behind its back (SECURITY.md §17.9: the
 * relay cannot add a device undetected): in a stopped relay's database, a list one version above
 * the stored one that keeps the account's devices and adds one under a key of the operator's,
 * signed by that key (the operator does not hold the account key), the device's row and its mailbox.
 */
import { certifyDevice } from "../../crypto/device-certificate.js";
import { decodeDeviceList, signDeviceList } from "../../crypto/device-list.js";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { createLogger } from "../../relay/logger.js";
import { openDatabase } from "../../relay/open-database.js";
import { systemRng } from "../../src/system-rng.js";

/** Adds a forged device to `username`'s list in the relay of `dataDir`, which must not be running. Returns its id. */
export async function injectDeviceInRelay(dataDir: string, username: string): Promise<number> {
  const relayDb = await openDatabase(
    { dataDir, databaseUrl: undefined, dbUser: process.env["SMSG_RELAY_DB_USER"], allowUnsafeDurability: false },
    createLogger("silent"),
    "operate",
  );
  try {
    const { db } = relayDb;
    const rows = await db.query<{ id: number; list: Uint8Array; highest: number }>(
      `SELECT a.id, l.list, (SELECT max(device_id) FROM devices d WHERE d.account_id = a.id) AS highest
         FROM accounts a JOIN device_lists l ON l.account_id = a.id WHERE a.username = $1`,
      [username],
    );
    const row = rows[0]!;
    const current = decodeDeviceList(new Uint8Array(row.list));
    const operator = generateIdentity(systemRng);
    const injected = generateIdentity(systemRng);
    const id = Number(row.highest) + 1;
    const list = signDeviceList(operator, {
      username,
      version: current.version + 1,
      issuedMs: Date.now(),
      devices: [...current.devices, certifyDevice(operator, username, id, injected.publicKey)],
    });
    await db.transaction(async (tx) => {
      await tx.query("UPDATE device_lists SET version = $1, list = $2, updated_at = now() WHERE account_id = $3", [
        current.version + 1,
        list,
        row.id,
      ]);
      await tx.query("INSERT INTO devices (account_id, device_id, identity, created_at) VALUES ($1, $2, $3, now())", [
        row.id,
        id,
        encodeIdentityPublic(injected.publicKey),
      ]);
      // Its mailbox, as a stored list opens one (§17.8): the relay now wants a copy for it.
      await tx.query(
        "INSERT INTO device_mailboxes (account_id, device_id, since_message) SELECT $1, $2, coalesce(max(id), 0) FROM messages",
        [row.id, id],
      );
    });
    return id;
  } finally {
    await relayDb.close();
  }
}
