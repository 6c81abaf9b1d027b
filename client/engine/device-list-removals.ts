/**
 * What an accepted device list that removed devices changes besides the list (SECURITY.md
 * §17.4 "accepted, devices removed", §17.7): the pairwise sessions with a removed device are
 * deleted, so nothing is ever encrypted to it again (sessions.ts would refuse an unlisted
 * device anyway; deleting the state leaves nothing to fall back on), and so are the sender keys
 * it handed us (its group messages are refused from then on). Inside the caller's transaction,
 * with the list's acceptance, so the two commit together.
 */
import type { DeviceListAccount, DeviceListDecision } from "../../crypto/device-list-acceptance.js";
import { identityKey } from "../../crypto/identity.js";
import type { AccountRecord } from "../store/types.js";
import type { DeviceListEvent, EngineEvent } from "./events.js";
import { devicesRemoved } from "./group/device-removal.js";
import type { Account } from "./open-account.js";
import { accountIdentityOf } from "./own-device-list.js";

/**
 * §17.4 on `encoded` for `account` and, when it is accepted, the removed devices' sessions and
 * sender keys forgotten, in ONE transaction: every path that accepts a list (the relay's answer,
 * a device_list message, our own removal or link) goes through here, so no path can leave a
 * removed device able to decrypt to us, and a crash cannot commit the list without the cleanup.
 */
export function acceptDeviceList(acct: Account, account: DeviceListAccount, encoded: Uint8Array): DeviceListDecision {
  return acct.store.transaction(() => {
    const decision = acct.store.deviceLists.offer(account, encoded);
    forgetRemovedDevices(acct, account.username, decision);
    return decision;
  });
}

/** acceptDeviceList for a list of our own account, under our account key. */
export function acceptOwnDeviceList(acct: Account, record: AccountRecord, encoded: Uint8Array): DeviceListDecision {
  return acceptDeviceList(
    acct,
    { username: record.username, accountKey: identityKey(accountIdentityOf(record)) },
    encoded,
  );
}

/** Forgets the sessions and received sender keys of the devices `decision` removed from `username`'s list. */
export function forgetRemovedDevices(acct: Account, username: string, decision: DeviceListDecision): void {
  if (!decision.accepted) return;
  for (const d of decision.removed) {
    // Our own device's sessions are with other devices: there is none with ourselves to delete.
    if (username === acct.username && d.id === acct.deviceId) continue;
    acct.store.sessions.deleteDevice(username, d.id);
  }
  // Its sender keys and pending group states go too; our next group message rotates ours (§17.5).
  devicesRemoved(
    acct,
    username,
    decision.removed.map((d) => d.id).filter((id) => username !== acct.username || id !== acct.deviceId),
  );
}

/** True when `decision` accepted a list of our own account that no longer holds this device: it was removed (§17.7). */
export function removesThisDevice(acct: Account, username: string, decision: DeviceListDecision | null): boolean {
  return (
    decision !== null &&
    decision.accepted &&
    username === acct.username &&
    decision.removed.some((d) => d.id === acct.deviceId)
  );
}

/**
 * The events of `decision` (deviceListEvents) with this device's own removal said once, in its
 * own words (`this_device_removed`, §17.7), instead of among "a device was removed from your
 * account"; the other devices removed with it are reported as usual.
 */
export function withThisDeviceRemoval(
  acct: Account,
  username: string,
  decision: DeviceListDecision | null,
  events: readonly DeviceListEvent[],
): EngineEvent[] {
  if (!removesThisDevice(acct, username, decision)) return [...events];
  const out: EngineEvent[] = [];
  for (const e of events) {
    if (e.outcome !== "removed") {
      out.push(e);
      continue;
    }
    const keep = e.devices.flatMap((d, i) => (d === acct.deviceId ? [] : [[d, e.names[i] ?? null] as const]));
    if (keep.length > 0) out.push({ ...e, devices: keep.map(([d]) => d), names: keep.map(([, n]) => n) });
  }
  out.push({
    type: "device_list",
    user: username,
    own: true,
    outcome: "this_device_removed",
    devices: [acct.deviceId],
    names: [null],
    version: decision?.accepted ? decision.state.list.version : null,
    acceptedVersion: null,
  });
  return out;
}
