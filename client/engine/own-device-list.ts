/**
 * The account's own device list (SECURITY.md §17.1, §17.3): who signs for the account on
 * this device, the first list of a profile made before §17, and the next list when a device
 * is added or removed (§17.6, §17.7). Pure of the network: publishing a list to the relay (`publish_device_list`,
 * §17.8) is the caller's.
 */
import { type AccountSigner, certifyDevice } from "../../crypto/device-certificate.js";
import type { DeviceListDecision } from "../../crypto/device-list-acceptance.js";
import { type DeviceList, signDeviceList } from "../../crypto/device-list.js";
import { type IdentityPublic, decodeIdentityPublic, identityFromSecrets, identityKey } from "../../crypto/identity.js";
import { ed25519FromSeed } from "../../crypto/primitives.js";
import { UsageError } from "../../src/errors.js";
import { DeviceNotListedError, LastDeviceError } from "./device-errors.js";
import type { ClientStore } from "../store/client-store.js";
import type { AccountRecord } from "../store/types.js";

/** The account IdentityPublic of this profile: its own identity on device 1 (§17.1), the stored one on any other. */
export function accountIdentityOf(acct: AccountRecord): IdentityPublic {
  if (acct.accountIdentity !== null) return decodeIdentityPublic(acct.accountIdentity);
  return identityFromSecrets(acct.signingSeed, acct.dhPrivate).publicKey;
}

/** What signs lists and certificates for the account on this device: the account seed and the account public key. */
export function accountSignerOf(acct: AccountRecord): AccountSigner {
  return { signing: ed25519FromSeed(acct.accountSigningSeed), publicKey: accountIdentityOf(acct) };
}

/** This device's own identity (on device 1, the account key itself). */
export function deviceIdentityOf(acct: AccountRecord): IdentityPublic {
  return identityFromSecrets(acct.signingSeed, acct.dhPrivate).publicKey;
}

/**
 * The first start of §17.1 on device 1: when the store holds no list of its own account, signs
 * `version 1 = [device 1 → the account IdentityPublic]` and stores it as accepted. Returns
 * the encoded list to publish, or undefined when the store already holds one (or this is not
 * device 1: another device always got its list with its grant or login). Publishing it is the
 * caller's (the relay may already hold a list: then the relay's answer wins, §17.8).
 */
export function ensureOwnDeviceList(store: ClientStore, now: number = Date.now()): Uint8Array | undefined {
  const acct = store.account.get();
  if (acct === undefined) throw new UsageError("no account in this profile yet");
  if (acct.deviceId !== 1 || store.deviceLists.get(acct.username) !== undefined) return undefined;
  const signer = accountSignerOf(acct);
  const encoded = signDeviceList(signer, {
    username: acct.username,
    version: 1,
    issuedMs: now,
    devices: [certifyDevice(signer, acct.username, 1, signer.publicKey)],
  });
  const decision = offerOwnList(store, acct, encoded);
  if (!decision.accepted) throw new UsageError(`the first device list was refused: ${decision.refusal.reason}`);
  return encoded;
}

/** Runs §17.4 on a list of our own account, under our account key. */
export function offerOwnList(store: ClientStore, acct: AccountRecord, encoded: Uint8Array): DeviceListDecision {
  return store.deviceLists.offer(
    { username: acct.username, accountKey: identityKey(accountIdentityOf(acct)) },
    encoded,
  );
}

/**
 * The list that adds `device` to `current` (the accepted list, null for an account without
 * one, which counts as device 1 = the account key): version + 1, the id above every id ever
 * listed (`highest`, §17.1), signed by `signer`. Returns the new id and the encoded list.
 */
export function listAddingDevice(
  signer: AccountSigner,
  username: string,
  current: { readonly list: DeviceList; readonly highestDeviceId: number } | null,
  device: IdentityPublic,
  now: number = Date.now(),
): { readonly deviceId: number; readonly encoded: Uint8Array } {
  const devices = current ? [...current.list.devices] : [certifyDevice(signer, username, 1, signer.publicKey)];
  const highest = Math.max(current?.highestDeviceId ?? 1, ...devices.map((d) => d.id));
  const deviceId = highest + 1;
  devices.push(certifyDevice(signer, username, deviceId, device));
  const encoded = signDeviceList(signer, {
    username,
    version: (current?.list.version ?? 0) + 1,
    issuedMs: now,
    devices,
  });
  return { deviceId, encoded };
}

/**
 * The list that leaves device `id` out of `current` (the accepted list): version + 1, the
 * other entries kept exactly as they are (their certificates too: a device is its id and its
 * keys, §17.2), signed by `signer` (§17.7). Any device may be removed, this one and device 1
 * included; ids are never reused, so the removed id stays counted in `highest` (§17.1).
 * Throws DeviceNotListedError when `current` does not hold `id`, LastDeviceError when it is
 * the only device (a list holds 1..16, §17.3).
 */
export function listRemovingDevice(
  signer: AccountSigner,
  username: string,
  current: DeviceList,
  id: number,
  now: number = Date.now(),
): Uint8Array {
  if (!current.devices.some((d) => d.id === id)) throw new DeviceNotListedError(id);
  const devices = current.devices.filter((d) => d.id !== id);
  if (devices.length === 0) throw new LastDeviceError(id);
  return signDeviceList(signer, { username, version: current.version + 1, issuedMs: now, devices });
}
