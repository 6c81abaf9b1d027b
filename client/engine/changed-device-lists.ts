/**
 * Which accounts' device lists need fetching (SECURITY.md §17.8 "Versions"): one
 * `fetch_device_list_versions` for all of them instead of one `fetch_device_list` each, and only
 * the names whose version on the relay differs from the list the store holds under the account
 * key pinned now. The version is a hint only: what the caller then fetches is still checked by
 * §17.4 (device-list-refresh.ts), so a relay that lies about a version can only make us fetch a
 * list we did not need, or not fetch one that changed, which it could already do by serving the
 * old list. A relay without the request (UNKNOWN_TYPE: older than it, or than §17) gets every
 * name fetched, on that connection from then on; any other refusal, every name that once.
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { decodeIdentityPublic, identityKey } from "../../crypto/identity.js";
import { ProtocolError, RemoteError } from "../../src/errors.js";
import { TimeoutError } from "../../src/transport/errors.js";
import { MAX_LIST_VERSION_NAMES } from "../../src/wire/index.js";
import type { RelayClient } from "../relay-client.js";
import { fetchDeviceListVersions } from "../relay-devices.js";
import type { Account } from "./open-account.js";
import { accountIdentityOf } from "./own-device-list.js";

/** Connections whose relay answered the question UNKNOWN_TYPE: not asked again. */
const lacking = new WeakSet<RelayClient>();

/**
 * The version of `username`'s list the store holds under the account key pinned now (ours for
 * our own account), 0 when it holds none or holds one verified under another key (a changed key
 * the user accepted: §17.4 starts from no list then, so the relay's must be fetched).
 */
export function heldListVersion(acct: Account, username: string): number {
  const { store } = acct;
  const state = store.deviceLists.get(username);
  if (state === undefined) return 0;
  let pinned: Uint8Array | undefined;
  if (username === acct.username) {
    const record = store.account.get();
    pinned = record === undefined ? undefined : identityKey(accountIdentityOf(record));
  } else {
    const contact = store.contacts.get(username);
    pinned = contact === undefined ? undefined : identityKey(decodeIdentityPublic(contact.identity));
  }
  return pinned !== undefined && bytesEqual(state.accountKey, pinned) ? state.list.version : 0;
}

/**
 * Of `usernames` (repeats ignored), those whose list to fetch: the relay's version differs from
 * heldListVersion (a 0 on both sides needs none: the relay would give no list), or every one when
 * the relay cannot answer (see the file comment; a timeout too). In their first order. Throws
 * what RelayClient.request throws when the connection is lost.
 */
export async function listsToFetch(acct: Account, relay: RelayClient, usernames: readonly string[]): Promise<string[]> {
  const names = [...new Set(usernames)];
  if (names.length === 0 || lacking.has(relay)) return names;
  const changed: string[] = [];
  for (let i = 0; i < names.length; i += MAX_LIST_VERSION_NAMES) {
    const chunk = names.slice(i, i + MAX_LIST_VERSION_NAMES);
    let versions: readonly number[] | null;
    try {
      versions = await fetchDeviceListVersions(relay, chunk);
    } catch (e) {
      // Refused, answered with the wrong count, or not answered in time, on a connection still
      // open: per name, as before the question existed (each fetch's failure is then the caller's
      // per-member warning), so the question never fails a send that worked without it.
      if ((e instanceof RemoteError || e instanceof ProtocolError || e instanceof TimeoutError) && !relay.isClosed)
        return names;
      throw e;
    }
    if (versions === null) {
      lacking.add(relay);
      return names;
    }
    chunk.forEach((u, j) => {
      if (versions[j] !== heldListVersion(acct, u)) changed.push(u);
    });
  }
  return changed;
}
