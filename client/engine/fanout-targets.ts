/**
 * Which devices a 1:1 message goes to (SECURITY.md §17.5, §17.8), and the sessions to reach
 * them: every device of the peer's accepted list and every other device of our own, each on
 * its own pairwise session. Only accepted lists count (§17.4: never encrypt to a device not in
 * them). The mixes of old and new clients and relays (§17.8):
 *
 * - a relay before §17 (it answered UNKNOWN_TYPE on this connection): one bare envelope for the
 *   peer's device 1 with `send`, as before §17 (`mode: "send"`);
 * - a §17 relay: `send_copies`, always (its `send` refuses a direct chat where a member has a
 *   list, and ours is published when we go online); a peer without a list (a client before
 *   §17) gets its one copy for device 1 bare, without the fan-out header, while our own other
 *   devices get theirs with it (`n = 0`);
 * - not known (no connection: a text written offline): `send_copies` as for a §17 relay; a
 *   relay before §17 answers it UNKNOWN_TYPE, storing nothing, and gets one bare `send` instead
 *   (fanout-send.ts).
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { decodeIdentityPublic, identityKey } from "../../crypto/identity.js";
import { RemoteError } from "../../src/errors.js";
import type { RelayClient } from "../relay-client.js";
import type { ClientStore } from "../store/index.js";
import { refreshDeviceList } from "./device-list-refresh.js";
import type { DeviceListEvent } from "./events.js";
import type { Account } from "./open-account.js";
import { relayServesDevices, syncOwnDeviceList } from "./own-list-online.js";
import { ensureOwnDeviceList } from "./own-device-list.js";
import { ensureSession } from "./sessions.js";

/** An accepted list as the fan-out header names it: its version and device ids. */
export interface ListedDevices {
  readonly version: number;
  readonly devices: readonly number[];
}

/** Where one 1:1 message goes. */
export type DirectTargets =
  /** One bare envelope for the peer's device 1, with `send` (a relay before §17, or not known and nothing listed). */
  | { readonly mode: "send" }
  | {
      readonly mode: "copies";
      readonly myDevice: number;
      /** Our own accepted list (our device included). */
      readonly own: ListedDevices;
      /** The peer's accepted list, or null for a peer without one (its device 1 gets a bare copy). */
      readonly peer: ListedDevices | null;
    };

/**
 * Forgets `peer`'s stored list when it was verified under another account key than the one
 * pinned now (the user accepted a changed key): §17.4 starts again from no list then.
 */
function dropListUnderOldKey(store: ClientStore, peer: string): void {
  const state = store.deviceLists.get(peer);
  const contact = store.contacts.get(peer);
  if (state && contact && !bytesEqual(state.accountKey, identityKey(decodeIdentityPublic(contact.identity))))
    store.deviceLists.forget(peer);
}

function listed(store: ClientStore, username: string): ListedDevices | null {
  const state = store.deviceLists.get(username);
  return state ? { version: state.list.version, devices: state.list.devices.map((d) => d.id) } : null;
}

/**
 * The targets by the lists the store holds, without asking the relay. `serves`: whether the
 * relay serves §17.8 (relayServesDevices), undefined when not known.
 */
export function storedTargets(acct: Account, peer: string, serves?: boolean): DirectTargets {
  const { store } = acct;
  if (serves === false) return { mode: "send" };
  dropListUnderOldKey(store, peer);
  ensureOwnDeviceList(store, acct.now());
  const own = listed(store, acct.username);
  const theirs = listed(store, peer);
  if (own === null) return { mode: "send" };
  return { mode: "copies", myDevice: acct.deviceId, own, peer: theirs };
}

/** Every (account, device) the targets reach, the peer's first. */
export function targetDevices(acct: Account, peer: string, t: DirectTargets): { to: string; device: number }[] {
  if (t.mode === "send") return [{ to: peer, device: 1 }];
  const theirs = (t.peer?.devices ?? [1]).map((device) => ({ to: peer, device }));
  const mine = t.own.devices.filter((d) => d !== t.myDevice).map((device) => ({ to: acct.username, device }));
  return [...theirs, ...mine];
}

/** What prepareTargets found. */
export interface PreparedTargets {
  readonly targets: DirectTargets;
  /** What the lists fetched on the way tell the user (§17.4's table). */
  readonly events: readonly DeviceListEvent[];
}

/**
 * Online: the targets of a message to `peer` with a session for each. Learns whether the relay
 * serves §17.8 (our own list, own-list-online.ts) when this connection has not told yet; fetches
 * the peer's list when the store has none (`refresh`: both lists again, after DEVICE_LIST_STALE);
 * starts the sessions that are missing (X3DH with each device's bundle, which must carry the
 * identity the list certifies, sessions.ts). A device the relay no longer knows
 * (DEVICE_UNKNOWN) makes its account's list be fetched again, once. Throws what ensureSession
 * and refreshDeviceList throw (nothing is stored then).
 */
export async function prepareTargets(
  acct: Account,
  relay: RelayClient,
  peer: string,
  opts: { refresh?: boolean } = {},
): Promise<PreparedTargets> {
  const events: DeviceListEvent[] = [];
  let serves = relayServesDevices(relay);
  if (serves === undefined || (opts.refresh && serves)) {
    const own = await syncOwnDeviceList(acct, relay);
    events.push(...own.events);
    serves = own.serves;
  }
  if (!serves) {
    await ensureSession(acct, relay, peer, 1);
    return { targets: { mode: "send" }, events };
  }
  dropListUnderOldKey(acct.store, peer);
  if (opts.refresh || acct.store.deviceLists.get(peer) === undefined)
    events.push(...(await refreshDeviceList(acct, relay, peer)).events);
  for (let tries = 0; ; tries++) {
    const targets = storedTargets(acct, peer, true);
    try {
      for (const d of targetDevices(acct, peer, targets)) await ensureSession(acct, relay, d.to, d.device);
      return { targets, events };
    } catch (e) {
      if (tries > 0 || !(e instanceof RemoteError) || e.code !== "DEVICE_UNKNOWN") throw e;
      events.push(...(await refreshDeviceList(acct, relay, peer)).events);
      events.push(...(await refreshDeviceList(acct, relay, acct.username)).events);
    }
  }
}
