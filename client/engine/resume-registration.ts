/**
 * Finishing a `smsg login` whose registration the relay never confirmed (login.ts): the
 * earlier run wrote the device's profile and the relay may hold the list that names it, but no
 * `register_device` got an answer. Such a profile is a device other than 1 that never
 * published a one-time prekey (registering is what publishes the first batch, new-device.ts).
 * The same `smsg login` on that folder sends `register_device` again, built from the profile
 * (new-device.ts registerDeviceRequest) on a new connection: a repeat with the same credential
 * succeeds (SECURITY.md §17.8). DEVICE_UNKNOWN means the list that would name it was never
 * stored: nothing of the device exists on the relay, so the profile is removed. Any other
 * folder that holds a profile is refused as for `join`.
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { wipe } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { RemoteError, SmsgError } from "../../src/errors.js";
import type { RelayLink } from "../../src/relay-link.js";
import { ProfileExistsError } from "../profile/errors.js";
import { keystoreProtection } from "../profile/keystore.js";
import { removeProfileFiles } from "../profile/open.js";
import type { RelayClient } from "../relay-client.js";
import { registerDeviceRequest } from "./new-device.js";
import { type Account, closeAccount, openLocalAccount } from "./open-account.js";
import { ONE_TIME_PREKEY_BATCH } from "./prekeys.js";
import { registerNewDevice } from "./register-new-device.js";

/** The earlier run's list was never stored: the profile was removed. Code DEVICE_UNKNOWN (exit 13). */
export class UnfinishedLoginGoneError extends SmsgError {
  constructor(username: string, dir: string, options?: { cause?: unknown }) {
    super(
      "DEVICE_UNKNOWN",
      `the relay never stored the device list of the earlier smsg login as ${username}, so that device does not ` +
        `exist: its profile in ${dir} was removed; run smsg login again`,
      options,
    );
  }
}

/** What resumeRegistration needs (login.ts passes its own, checked, input). */
export interface ResumeOptions {
  readonly dir: string;
  readonly link: RelayLink;
  readonly username: string;
  readonly profilePassphrase?: string | undefined;
  readonly rng: Rng;
  readonly now: () => number;
  readonly dial: () => Promise<Pick<RelayClient, "request" | "handshakeHash" | "close">>;
}

/** True when `acct` is a device profile of this account and relay whose registration never got an answer. */
function unconfirmedDevice(acct: Account, opts: ResumeOptions): boolean {
  return (
    acct.deviceId !== 1 &&
    acct.username === opts.username &&
    acct.relayHost === opts.link.host &&
    acct.relayPort === opts.link.port &&
    bytesEqual(acct.relayKey, opts.link.relayKey) &&
    acct.store.prekeys.countOneTime(true) === 0 &&
    acct.store.prekeys.countOneTime(false) > 0
  );
}

/**
 * Registers the unconfirmed device of `opts.dir`, or throws ProfileExistsError when the folder
 * holds anything else (a profile that needs a passphrase none was given for counts as
 * anything else). Throws UnfinishedLoginGoneError (profile removed), what openLocalAccount
 * throws (a wrong profile passphrase), the relay's RemoteError, or what `dial` and
 * RelayClient.request throw (the profile stays, for the next try).
 */
export async function resumeRegistration(opts: ResumeOptions): Promise<{
  readonly username: string;
  readonly deviceId: number;
  readonly isAdmin: boolean;
  readonly oneTimePrekeys: number;
  readonly contacts: number;
  readonly chats: number;
}> {
  const { dir } = opts;
  if (keystoreProtection(dir) !== "none" && opts.profilePassphrase === undefined) throw new ProfileExistsError(dir);
  let acct: Account;
  try {
    acct = openLocalAccount({ dir, passphrase: opts.profilePassphrase, rng: opts.rng, now: opts.now });
  } catch (e) {
    if (e instanceof SmsgError && e.code === "NOT_JOINED") throw new ProfileExistsError(dir);
    throw e;
  }
  let gone = false;
  try {
    if (!unconfirmedDevice(acct, opts)) throw new ProfileExistsError(dir);
    const { store } = acct;
    const unpublished = store.prekeys.unpublishedOneTime(ONE_TIME_PREKEY_BATCH);
    const ids = unpublished.map((k) => k.id);
    wipe(...unpublished.map((k) => k.privateKey));
    const relay = await opts.dial();
    try {
      const r = await registerNewDevice(relay, { request: (id, h) => registerDeviceRequest(store, id, h) });
      store.prekeys.markPublished(ids);
      return {
        username: acct.username,
        deviceId: acct.deviceId,
        isAdmin: r.joined.is_admin,
        oneTimePrekeys: r.oneTimePrekeys,
        contacts: store.contacts.list().length,
        chats: store.chats.list().length,
      };
    } catch (e) {
      if (e instanceof RemoteError && e.code === "DEVICE_UNKNOWN") {
        gone = true;
        throw new UnfinishedLoginGoneError(acct.username, dir, { cause: e });
      }
      throw e;
    } finally {
      relay.close();
    }
  } finally {
    closeAccount(acct);
    if (gone) removeProfileFiles(dir, false);
  }
}
