/**
 * More devices of an engine suite's account, for real (SECURITY.md §17.6's end state without the
 * link): the existing device signs the list that adds the new one and publishes it, the new
 * profile is written by createDeviceProfile and registered with `register_device`; and what the
 * relay stored for a message, per device.
 */
import { generateIdentity } from "../../../crypto/identity.js";
import { createDeviceProfile } from "../../../client/engine/new-device.js";
import { type Account, closeAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { accountSignerOf, listAddingDevice, offerOwnList } from "../../../client/engine/own-device-list.js";
import { RelayClient } from "../../../client/relay-client.js";
import { publishDeviceList } from "../../../client/relay-devices.js";
import { systemRng } from "../../../src/system-rng.js";
import type { TestRelay } from "../../relay/harness.js";
import { profileDir } from "./helpers.js";

/** A device profile the test opened (close it at the end). */
export interface TestDevice {
  readonly dir: string;
  readonly acct: Account;
  readonly deviceId: number;
  close(): void;
}

/**
 * Adds a device to `acct`'s account: the next list (signed by `acct`, accepted by it and
 * published over `relay`, a logged-in connection of `acct`), then the new profile, registered.
 */
export async function addDevice(tr: TestRelay, acct: Account, relay: RelayClient): Promise<TestDevice> {
  const record = acct.store.account.get()!;
  const identity = generateIdentity(systemRng);
  const next = listAddingDevice(
    accountSignerOf(record),
    acct.username,
    acct.store.deviceLists.get(acct.username) ?? null,
    identity.publicKey,
  );
  const decision = offerOwnList(acct.store, record, next.encoded);
  if (!decision.accepted) throw new Error(`own list refused: ${decision.refusal.reason}`);
  await publishDeviceList(relay, next.encoded);
  const dir = profileDir(`${acct.username}${next.deviceId}`);
  const pending = createDeviceProfile({
    dir,
    relayHost: "127.0.0.1",
    relayPort: tr.port,
    relayKey: tr.keyPair.publicKey,
    username: acct.username,
    accountIdentity: acct.accountIdentity,
    accountSigningSeed: record.accountSigningSeed,
    device: identity,
    deviceId: next.deviceId,
    deviceList: next.encoded,
    rng: systemRng,
  });
  const raw = await RelayClient.connect({
    host: "127.0.0.1",
    port: tr.port,
    relayKey: tr.keyPair.publicKey,
    rng: systemRng,
  });
  try {
    const { id: _id, ...request } = pending.request(0, raw.handshakeHash);
    await raw.request<"register_device">(request);
    pending.registered();
  } finally {
    raw.close();
    pending.store.close();
  }
  const opened = openLocalAccount({ dir });
  return { dir, acct: opened, deviceId: next.deviceId, close: () => closeAccount(opened) };
}

/** One stored copy of a relay message: the account, its device, the envelope. */
export interface StoredCopy {
  readonly to: string;
  readonly device: number;
  readonly envelope: Uint8Array;
}

/** The per-device copies the relay stored for message `msg`, by account then device. */
export async function storedCopies(tr: TestRelay, msg: number): Promise<StoredCopy[]> {
  const rows = await tr.db.query<{ username: string; device_id: number; envelope: Uint8Array }>(
    `SELECT a.username, c.device_id, c.envelope FROM message_copies c JOIN accounts a ON a.id = c.account_id
      WHERE c.message_id = $1 ORDER BY a.username, c.device_id`,
    [msg],
  );
  return rows.map((r) => ({ to: r.username, device: Number(r.device_id), envelope: new Uint8Array(r.envelope) }));
}
