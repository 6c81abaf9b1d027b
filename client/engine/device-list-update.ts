/**
 * Following an account's device list while receiving (SECURITY.md §17.4, §17.7, §17.8): when
 * the relay pushes `device_list_changed`, or a message arrives from a device the accepted list
 * does not hold, the receiver fetches the list (device-list-refresh.ts: §17.4 under the pinned
 * key), forgets what belonged to devices it removed (device-list-removals.ts), notices when our
 * own account no longer lists this device, and journals what the user is told (so a running
 * `smsg listen` reports it whichever process fetched it, client/store/event-journal.ts).
 */
import { CodecError, CryptoVerificationError, LimitError } from "../../crypto/errors.js";
import { RemoteError } from "../../src/errors.js";
import type { RelayClient } from "../relay-client.js";
import { DevicesUnsupportedError } from "../relay-devices.js";
import { refreshDeviceList } from "./device-list-refresh.js";
import { withThisDeviceRemoval } from "./device-list-removals.js";
import { KeyChangedError, UserUnknownError } from "./errors.js";
import type { EngineEvent } from "./events.js";
import type { Account } from "./open-account.js";

/** Relay error codes that say "not now" rather than anything about the list: the caller tries again later. */
const TRANSIENT = new Set(["UNAVAILABLE", "SHUTTING_DOWN", "TIMEOUT", "RATE_LIMITED", "TOO_MANY_CONNECTIONS"]);

/**
 * True for a failure of followDeviceList that is an answer about the account (no such user, a
 * relay before §17, a pending key change, an identity that does not verify, a refusal by the
 * relay), after which asking again would change nothing; false for a connection or local
 * failure, after which it should be tried again.
 */
export function isListAnswer(e: unknown): boolean {
  if (e instanceof KeyChangedError || e instanceof UserUnknownError || e instanceof DevicesUnsupportedError)
    return true;
  if (e instanceof CryptoVerificationError || e instanceof CodecError || e instanceof LimitError) return true;
  return e instanceof RemoteError && !TRANSIENT.has(e.code);
}

/**
 * Fetches and accepts `username`'s current list (see the file comment) and returns the events,
 * already journaled. For our own account, a list that removed this device adds the event
 * `this_device_removed` (said once: the next fetch of the same list is a replay, which says
 * nothing). Throws what refreshDeviceList throws, having changed nothing then.
 */
export async function followDeviceList(acct: Account, relay: RelayClient, username: string): Promise<EngineEvent[]> {
  const { store } = acct;
  const r = await refreshDeviceList(acct, relay, username);
  const events = withThisDeviceRemoval(acct, username, r.decision, r.events);
  store.transaction(() => {
    for (const e of events) store.journal.append(JSON.stringify(e));
  });
  return events;
}

/** True when we hold `username`'s list at `version` or newer, so a push announcing `version` needs no fetch. */
export function holdsListVersion(acct: Account, username: string, version: number): boolean {
  const state = acct.store.deviceLists.get(username);
  return state !== undefined && state.list.version >= version;
}
