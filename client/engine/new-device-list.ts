/**
 * The device list a new machine signs for itself after a passphrase log-in (SECURITY.md §18.6:
 * "a list that verifies under the account key, has a higher version than the stored one and
 * keeps every device of the stored list, adding exactly one new device"). The relay's current
 * list is checked under the account key first (§17.4 step 4; a new device has no accepted list,
 * so the first list verified under the account key is trusted, as §17.4 says for first contact).
 * An account without a list (a profile from before §17, §17.1) gets version 1 with device 1 as
 * the account key and the new device as 2.
 */
import type { AccountSigner } from "../../crypto/device-certificate.js";
import { MAX_DEVICES, decodeDeviceList, verifyDeviceList } from "../../crypto/device-list.js";
import { CryptoVerificationError, LimitError } from "../../src/errors.js";
import { type IdentityPublic, identityKey } from "../../crypto/identity.js";
import { listAddingDevice } from "./own-device-list.js";

/** The list the new device publishes, and the id it takes in it. */
export interface NewDeviceList {
  readonly deviceId: number;
  /** The signed list, body || signature (§17.3). */
  readonly list: Uint8Array;
}

/**
 * Signs the account's list with `device` added (own-device-list.ts listAddingDevice: the next
 * id, version + 1). A new device knows no `highest` of its own (§17.1): the next id is above
 * the ids the relay's list holds and the highest id the relay says the account ever listed
 * (`device_list.highest`, §17.8; unsigned: too high only skips ids, too low is refused by the
 * relay, which never lets an id come back). Throws CryptoVerificationError when the relay's current list
 * does not verify under the account key or names another account, LimitError when the account
 * already has MAX_DEVICES devices, CodecError when it does not decode.
 */
export function nextDeviceList(args: {
  readonly account: AccountSigner;
  readonly username: string;
  /** The relay's current list (`device_list.list`), or undefined for an account without one. */
  readonly current: Uint8Array | undefined;
  /** The relay's `device_list.highest`, when it said. */
  readonly highest?: number | undefined;
  readonly device: IdentityPublic;
  readonly nowMs: number;
}): NewDeviceList {
  const { account, username } = args;
  let current = null;
  if (args.current !== undefined) {
    const list = decodeDeviceList(args.current);
    if (list.username !== username || !verifyDeviceList(identityKey(account.publicKey), args.current, list).ok)
      throw new CryptoVerificationError(
        `the relay's device list of ${username} is not signed by the account: refused, nothing was stored`,
      );
    if (list.devices.length >= MAX_DEVICES)
      throw new LimitError(
        `the account ${username} already has ${MAX_DEVICES} devices: remove one (smsg device remove) first`,
      );
    current = { list, highestDeviceId: Math.max(args.highest ?? 1, ...list.devices.map((d) => d.id)) };
  }
  const r = listAddingDevice(account, username, current, args.device, args.nowMs);
  return { deviceId: r.deviceId, list: r.encoded };
}
