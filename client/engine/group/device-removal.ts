/**
 * A device left an account's list (SECURITY.md §17.4 accepted with devices removed, §17.5
 * "Groups", §17.7): in every group, the sender keys that device handed us (and its pending
 * ones) are deleted, so nothing it sends from now on is read (a group message from it finds no
 * receiver state; a pairwise one is refused by sessions.ts as from an unlisted device). Our own
 * sender key of every group it held is rotated before our next message there: keys.ts sees a
 * holder that is no longer a current device (keyStillGood), exactly as for a departed member
 * (§7.6), so nothing here has to touch our own keys.
 */
import type { Account } from "../open-account.js";
import { pendingSender } from "./records.js";

/**
 * To call once a list of `user` (ours included) was accepted without `devices` (§17.4), inside
 * the transaction that accepted it or right after. Returns how many sender keys were deleted.
 */
export function devicesRemoved(acct: Account, user: string, devices: readonly number[]): number {
  const { store } = acct;
  return store.transaction(() => {
    let n = 0;
    for (const d of devices) n += store.senderKeys.deleteDevice(user, d);
    for (const c of store.chats.list({ includeClosed: true }))
      if (c.kind === "group") for (const d of devices) store.groupStates.deletePending(c.id, pendingSender(user, d));
    return n;
  });
}
