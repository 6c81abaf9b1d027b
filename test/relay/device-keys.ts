/**
 * Devices for the relay's device tests (SECURITY.md §17.8): a device's keys, a device list
 * signed by an account (built with crypto/device-certificate.ts and crypto/device-list.ts), and
 * the requests a device sends (register_device, login as a device), on RawClient connections.
 */
import { randomBytes } from "node:crypto";
import { loginSignature } from "../../client/relay-client.js";
import { utf8 } from "../../crypto/bytes.js";
import { type AccountSigner, certifyDevice } from "../../crypto/device-certificate.js";
import { signDeviceList } from "../../crypto/device-list.js";
import { type IdentityKeyPair, type IdentityPublic, encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import {
  type OneTimePrekey,
  type SignedPrekey,
  generateOneTimePrekeys,
  generateSignedPrekey,
} from "../../crypto/prekeys.js";
import { seededRng } from "../../crypto/rng.js";
import type { RelayMessage } from "../../src/wire/index.js";
import type { RawClient } from "./raw-client.js";

/** A device's own keys and credential (device 1's are the account's, from its join). */
export interface DeviceKeys {
  readonly identity: IdentityKeyPair;
  readonly spk: SignedPrekey;
  readonly opks: readonly OneTimePrekey[];
  readonly credential: Uint8Array;
}

/** Fresh keys for a device, from a seeded generator (the seed is unique per call). */
export function deviceKeys(name: string, opks = 5, firstOpk = 1): DeviceKeys {
  const rng = seededRng(utf8(`device test ${name} ${randomBytes(8).toString("hex")}`));
  const identity = generateIdentity(rng);
  return {
    identity,
    spk: generateSignedPrekey(rng, identity, 1),
    opks: generateOneTimePrekeys(rng, firstOpk, opks),
    credential: rng(32),
  };
}

/** The list `version` of `username`, signed by `account`, with these devices (id → identity), each certified by `certifier` (default: the account). */
export function signedList(
  account: AccountSigner,
  username: string,
  version: number,
  devices: readonly { id: number; identity: IdentityPublic }[],
  opts: { certifier?: AccountSigner } = {},
): Uint8Array {
  const certifier = opts.certifier ?? account;
  return signDeviceList(account, {
    username,
    version,
    issuedMs: 1_700_000_000_000 + version,
    devices: devices.map((d) => certifyDevice(certifier, username, d.id, d.identity)),
  });
}

/** Sends register_device for `device` on `c` (before login); `signer` replaces the device key in the login signature. */
export function registerDevice(
  c: RawClient,
  username: string,
  id: number,
  device: DeviceKeys,
  opts: { signer?: IdentityKeyPair; identity?: IdentityPublic } = {},
): Promise<RelayMessage> {
  return c.request<"register_device">({
    t: "register_device",
    username,
    device: id,
    credential: device.credential,
    identity: encodeIdentityPublic(opts.identity ?? device.identity.publicKey),
    signed_prekey: { key_id: device.spk.id, public_key: device.spk.keyPair.publicKey, signature: device.spk.signature },
    one_time_prekeys: device.opks.map((k) => ({ key_id: k.id, public_key: k.keyPair.publicKey })),
    signature: loginSignature(opts.signer ?? device.identity, c.handshakeHash),
  });
}

/** Sends a login as device `id` (absent: no `device` field) signed by `signer` on `c`. */
export function loginDevice(
  c: RawClient,
  username: string,
  id: number | undefined,
  credential: Uint8Array,
  signer: IdentityKeyPair,
): Promise<RelayMessage> {
  return c.request<"login">({
    t: "login",
    username,
    credential,
    signature: loginSignature(signer, c.handshakeHash),
    ...(id !== undefined ? { device: id } : {}),
  });
}
