/**
 * Our own device list when going online (SECURITY.md §17.1, §17.4, §17.8): device 1 of a
 * profile made before §17 signs version 1 of it; then the relay is asked which version it holds
 * (changed-device-lists.ts: a few bytes, where the whole list with `seen` is up to 3 KiB, every
 * command) and, only when it is not ours, the relay's copy is fetched and checked under our
 * account key (device-list-refresh.ts), a newer one accepted, and ours published when the relay
 * holds none or an older one. What the relay answered also tells, per connection,
 * whether it serves §17.8 at all: a relay before §17 (UNKNOWN_TYPE) leaves this device
 * one-device, every 1:1 message going as one `send` exactly as before §17.
 */
import { DevicesUnsupportedError, publishDeviceList } from "../relay-devices.js";
import type { RelayClient } from "../relay-client.js";
import { listsToFetch } from "./changed-device-lists.js";
import { refreshDeviceList } from "./device-list-refresh.js";
import type { DeviceListEvent } from "./events.js";
import type { Account } from "./open-account.js";
import { ensureOwnDeviceList } from "./own-device-list.js";

/** Per connection: whether its relay serves the requests of §17.8 (unknown until asked). */
const served = new WeakMap<RelayClient, boolean>();

/** Whether `relay` serves §17.8: true, false (a relay before §17), or undefined (not asked on this connection yet). */
export function relayServesDevices(relay: RelayClient): boolean | undefined {
  return served.get(relay);
}

/** Records the relay's answer to a request of §17.8 (DevicesUnsupportedError: false). */
export function noteRelayDevices(relay: RelayClient, serves: boolean): void {
  served.set(relay, serves);
}

/** What syncOwnDeviceList did. */
export interface OwnListSync {
  /** The relay serves §17.8. */
  readonly serves: boolean;
  /** Ours went to the relay (it held none, or an older one). */
  readonly published: boolean;
  /** What to tell the user (§17.4's table). */
  readonly events: readonly DeviceListEvent[];
}

/**
 * The steps of the file comment. A relay before §17 gives `serves: false` and changes
 * nothing. Throws what refreshDeviceList and publishDeviceList throw otherwise (the caller
 * decides whether going online may go on without it: nothing is sent on a list it could not
 * verify, §17.4).
 */
export async function syncOwnDeviceList(acct: Account, relay: RelayClient): Promise<OwnListSync> {
  const { store } = acct;
  ensureOwnDeviceList(store, acct.now());
  // The relay answered the question and holds the version we hold: it serves §17.8, nothing to do.
  if ((await listsToFetch(acct, relay, [acct.username])).length === 0) {
    noteRelayDevices(relay, true);
    return { serves: true, published: false, events: [] };
  }
  let refreshed;
  try {
    refreshed = await refreshDeviceList(acct, relay, acct.username);
  } catch (e) {
    if (!(e instanceof DevicesUnsupportedError)) throw e;
    noteRelayDevices(relay, false);
    return { serves: false, published: false, events: [] };
  }
  noteRelayDevices(relay, true);
  const { decision } = refreshed;
  // The relay holds none, or an older one than ours (we could not publish it before): ours goes up.
  const behind = decision === null || (!decision.accepted && decision.refusal.reason === "rolled_back");
  if (!behind) return { serves: true, published: false, events: refreshed.events };
  const mine = store.deviceLists.get(acct.username);
  if (mine === undefined) return { serves: true, published: false, events: refreshed.events };
  await publishDeviceList(relay, mine.encoded);
  // Not "the relay served an older list": it was only behind us.
  return { serves: true, published: true, events: refreshed.events.filter((e) => e.outcome !== "rolled_back") };
}
