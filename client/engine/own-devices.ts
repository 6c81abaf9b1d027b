/**
 * The account's own devices, as `smsg device list | rename | remove` see and change them
 * (SECURITY.md §17.2, §17.7): the relay's current list checked under our account key
 * (device-list-refresh.ts), each device with its name (stored here, §17.7), when this profile
 * first saw it listed, when the relay last saw it (`seen`, §17.8) and its fingerprint.
 *
 * Removal signs the next list and publishes it BEFORE offering it to the store: a refused
 * publish leaves both unchanged, and a publish whose answer was lost leaves the relay ahead
 * of the store, which the next refresh repairs (the relay's list has a higher version and
 * drops only ids, so §17.4 accepts it). The other order could leave the store with a list the
 * relay never took, which every later refresh would report as rolled back.
 */
import { deviceFingerprint } from "../../crypto/device-certificate.js";
import { wipe } from "../../crypto/primitives.js";
import { InternalError, RemoteError } from "../../src/errors.js";
import { ConnectionClosedError, TimeoutError } from "../../src/transport/errors.js";
import { checkDeviceName } from "../protocol/device-name.js";
import { publishDeviceList } from "../relay-devices.js";
import type { RelayClient } from "../relay-client.js";
import type { AccountRecord } from "../store/types.js";
import { DeviceListRefusedError, DeviceListUnconfirmedError, DeviceNotListedError } from "./device-errors.js";
import { refreshDeviceList } from "./device-list-refresh.js";
import type { DeviceListEvent } from "./events.js";
import { acceptOwnDeviceList } from "./device-list-removals.js";
import type { Account } from "./open-account.js";
import { accountSignerOf, ensureOwnDeviceList, listRemovingDevice } from "./own-device-list.js";

/** One device of our account, as `smsg device list` shows it. */
export interface OwnDevice {
  readonly id: number;
  /** Its name (§17.7), or null while none is known. */
  readonly name: string | null;
  /** True for the device this profile is. */
  readonly current: boolean;
  /** When this profile first accepted a list holding it (ms). */
  readonly addedAt: number;
  /** When the relay last saw it log in or close a connection (ms), or null when it has not. */
  readonly lastSeen: number | null;
  /** BLAKE2b-160 of its identity key, five groups of 8 hex digits (§17.2). */
  readonly fingerprint: string;
}

/** What refreshOwnDevices found. */
export interface OwnDevices {
  readonly devices: readonly OwnDevice[];
  /** What the refresh has to tell (a device added or removed elsewhere, a list refused: §17.4's table). */
  readonly events: readonly DeviceListEvent[];
}

/** The account row, for signing; the caller wipes it with wipeRecord. */
function accountRecord(acct: Account): AccountRecord {
  const record = acct.store.account.get();
  if (record === undefined) throw new InternalError("own-devices: the profile has no account");
  return record;
}

function wipeRecord(r: AccountRecord): void {
  wipe(r.signingSeed, r.dhPrivate, r.accountSigningSeed, r.backupKey ?? undefined);
}

/** `publish_device_list` of a list our account signed; the relay's refusal as one sentence (DeviceListRefusedError). */
export async function publishOwnList(relay: RelayClient, list: Uint8Array): Promise<void> {
  try {
    await publishDeviceList(relay, list);
  } catch (e) {
    if (e instanceof RemoteError) throw new DeviceListRefusedError(e);
    throw e;
  }
}

/**
 * Fetches our list from the relay and runs §17.4 on it, then returns every device of the
 * accepted list. A relay that holds no list for us (an account made before §17, which the
 * relay counts as `[1]`) gets the first list of §17.1 from device 1: signed once, stored as
 * accepted, and published. Throws DevicesUnsupportedError (a relay before §17),
 * DeviceListRefusedError, or what RelayClient.request throws.
 */
export async function refreshOwnDevices(acct: Account, relay: RelayClient): Promise<OwnDevices> {
  const { store, username } = acct;
  const refreshed = await refreshDeviceList(acct, relay, username);
  if (refreshed.fetched.list === null && acct.deviceId === 1) {
    const first = ensureOwnDeviceList(store, acct.now()) ?? store.deviceLists.get(username)?.encoded;
    if (first === undefined) throw new InternalError("own-devices: device 1 has no list after signing one");
    await publishOwnList(relay, first);
  }
  const seen = new Map(refreshed.fetched.seen.map((s) => [s.device, s.at]));
  const devices = store.deviceLists.devices(username).map((d) => ({
    id: d.entry.id,
    name: d.name,
    current: d.entry.id === acct.deviceId,
    addedAt: d.addedAt,
    lastSeen: seen.get(d.entry.id) ?? null,
    fingerprint: deviceFingerprint(d.entry.identity),
  }));
  return { devices, events: refreshed.events };
}

/**
 * Names device `id` of our account in this profile's store (§17.7: a name never reaches the
 * relay in the clear; it is announced to the account's other devices and its contacts inside
 * the encryption, by the caller, after this returns). Throws UsageError for a name that is not
 * a label of 1..64 bytes, DeviceNotListedError for an id the accepted list does not hold.
 */
export function renameOwnDevice(acct: Account, id: number, name: string): void {
  const checked = checkDeviceName(name);
  if (acct.store.deviceLists.device(acct.username, id) === undefined) throw new DeviceNotListedError(id);
  acct.store.deviceLists.setName(acct.username, id, checked);
}

/** What removeOwnDevice did. */
export interface RemovedDevice {
  /** The version of the list that no longer holds the device. */
  readonly version: number;
  /** The device removed was this one: the relay has closed our connection, and this profile can no longer log in. */
  readonly self: boolean;
}

/**
 * Removes device `id` from our account (§17.7): takes the relay's current list (so the new
 * version is above it), signs it without `id` (version + 1), publishes it, then offers it to
 * the store (see the file comment for why in this order). A device may remove itself: the
 * relay answers `ok`, then closes the connection. Throws, with nothing changed:
 * DeviceNotListedError, LastDeviceError, DeviceListRefusedError (the relay refused the list),
 * DevicesUnsupportedError; or what RelayClient.request throws (the relay may then hold the
 * new list: the next refresh accepts it).
 */
export async function removeOwnDevice(acct: Account, relay: RelayClient, id: number): Promise<RemovedDevice> {
  const { store, username } = acct;
  await refreshOwnDevices(acct, relay);
  const state = store.deviceLists.get(username);
  if (state === undefined) throw new DeviceNotListedError(id);
  const record = accountRecord(acct);
  try {
    const signer = accountSignerOf(record);
    let list: Uint8Array;
    try {
      list = listRemovingDevice(signer, username, state.list, id, acct.now());
    } finally {
      wipe(signer.signing.privateKey);
    }
    try {
      await publishOwnList(relay, list);
    } catch (e) {
      if (e instanceof ConnectionClosedError || e instanceof TimeoutError)
        throw new DeviceListUnconfirmedError(`the removal of device ${id}`, e);
      throw e;
    }
    const decision = acceptOwnDeviceList(acct, record, list);
    if (!decision.accepted)
      throw new InternalError(`own-devices: the list the relay took was refused here (${decision.refusal.reason})`);
    return { version: decision.state.list.version, self: id === acct.deviceId };
  } finally {
    wipeRecord(record);
  }
}
