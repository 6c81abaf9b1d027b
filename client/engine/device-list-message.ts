/**
 * The `device_list` application message as a receiver takes it (SECURITY.md §17.7): a device
 * of an account sends, pairwise, the account's signed list and its devices' names. The list
 * runs §17.4 with source "encrypted" under the account key we pinned (our own account key for
 * our own account); names are then taken, when the list is the one we then hold, for its ids.
 * One function for every chat kind (a direct chat's inbox, a group's pairwise frames), inside
 * the caller's store transaction.
 */
import { decodeIdentityPublic, identityKey } from "../../crypto/identity.js";
import type { DeviceListMessage } from "../protocol/app-message.js";
import { deviceListEvents } from "./device-list-events.js";
import { acceptDeviceList, withThisDeviceRemoval } from "./device-list-removals.js";
import type { EngineEvent } from "./events.js";
import type { Account } from "./open-account.js";
import { accountIdentityOf } from "./own-device-list.js";

/**
 * Takes `app`, which `from`'s device sent us on an authenticated pairwise session, and appends
 * what the user is told to `events`. A list for another account than `from` is refused by
 * §17.4 itself (step 2, *wrong account*), and so is one `from`'s pinned key did not sign; a
 * message that came on a session with a key that is not the pinned one (`keyChanged`) is not
 * taken at all, as a display name is not (§15.2.4). Devices the accepted list removed lose
 * their sessions (device-list-removals.ts). Returns whether the list was accepted.
 */
export function takeDeviceList(
  acct: Account,
  from: string,
  app: DeviceListMessage,
  keyChanged: boolean,
  events: EngineEvent[],
): boolean {
  const { store } = acct;
  if (keyChanged) return false;
  const own = from === acct.username;
  let accountKey: Uint8Array;
  if (own) {
    const record = store.account.get();
    if (record === undefined) return false;
    accountKey = identityKey(accountIdentityOf(record));
  } else {
    const contact = store.contacts.get(from);
    if (contact === undefined || contact.keyChanged) return false;
    accountKey = identityKey(decodeIdentityPublic(contact.identity));
  }
  const first = store.deviceLists.get(from) === undefined;
  const decision = acceptDeviceList(acct, { username: from, accountKey }, app.list);
  // Names come with the list they name: only when it is the list we now hold (accepted, or the
  // one we hold already), and only for its devices; a refused list (another account's, one the
  // account did not sign, an older one) brings none (SECURITY.md §17.7).
  if (decision.accepted || decision.refusal.reason === "replayed") {
    const held = new Set((store.deviceLists.get(from)?.list.devices ?? []).map((d) => d.id));
    for (const n of app.names) if (held.has(n.id)) store.deviceLists.setName(from, n.id, n.name);
  }
  const told = deviceListEvents(
    from,
    own,
    decision,
    "encrypted",
    first,
    (id) => store.deviceLists.device(from, id)?.name ?? null,
  );
  events.push(...withThisDeviceRemoval(acct, from, decision, told));
  return decision.accepted;
}
