/**
 * Asking the relay for an account's current device list and checking it (SECURITY.md §17.4,
 * §17.8 `fetch_device_list`): one function every caller uses (going online, a send refused
 * with DEVICE_LIST_STALE, a `device_list_changed` push, `smsg device list`), so the relay's
 * answer is always checked under the pinned account key and reported the same way.
 */
import { identityKey, decodeIdentityPublic } from "../../crypto/identity.js";
import type { DeviceListDecision } from "../../crypto/device-list-acceptance.js";
import { InternalError } from "../../src/errors.js";
import { type FetchedDeviceList, fetchDeviceList } from "../relay-devices.js";
import type { RelayClient } from "../relay-client.js";
import { deviceListEvents } from "./device-list-events.js";
import { acceptDeviceList } from "./device-list-removals.js";
import type { DeviceListEvent } from "./events.js";
import type { Account } from "./open-account.js";
import { accountIdentityOf } from "./own-device-list.js";
import { checkIdentity } from "./sessions.js";

/** What refreshDeviceList found. */
export interface RefreshedDeviceList {
  /** The relay's answer as it came (its `seen` is only for our own account). */
  readonly fetched: FetchedDeviceList;
  /** §17.4 on the relay's list, or null when the relay holds none for the account (device 1 only). */
  readonly decision: DeviceListDecision | null;
  /** What to tell the user (§17.4's table, source "relay"). */
  readonly events: readonly DeviceListEvent[];
}

/**
 * Fetches `username`'s list and offers it to the store under the account key we pinned (our
 * own account key for ourselves; for a contact not pinned yet, pins it first with lookup_user,
 * sessions.ts checkIdentity). A refused list changes nothing; an accepted one forgets the removed
 * devices' sessions and sender keys in the same transaction (device-list-removals.ts). Throws DevicesUnsupportedError (a
 * relay before §17), KeyChangedError, UserUnknownError, or what RelayClient.request throws.
 */
export async function refreshDeviceList(
  acct: Account,
  relay: RelayClient,
  username: string,
): Promise<RefreshedDeviceList> {
  const { store } = acct;
  const own = username === acct.username;
  const fetched = await fetchDeviceList(relay, username);
  if (fetched.list === null) return { fetched, decision: null, events: [] };
  let identity;
  if (own) {
    const record = store.account.get();
    if (record === undefined) throw new InternalError("refreshDeviceList: the profile has no account");
    identity = accountIdentityOf(record);
  } else {
    if (store.contacts.get(username) === undefined) await checkIdentity(acct, relay, username);
    const contact = store.contacts.get(username);
    if (contact === undefined) throw new InternalError(`refreshDeviceList: ${username} was not pinned`);
    identity = decodeIdentityPublic(contact.identity);
  }
  const first = store.deviceLists.get(username) === undefined;
  const decision = acceptDeviceList(acct, { username, accountKey: identityKey(identity) }, fetched.list);
  const events = deviceListEvents(
    username,
    own,
    decision,
    "relay",
    first,
    (id) => store.deviceLists.device(username, id)?.name ?? null,
  );
  return { fetched, decision, events };
}
