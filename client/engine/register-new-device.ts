/**
 * The second half of `smsg login` (SECURITY.md §18.6), on the connection that passed
 * `passphrase_login`: §17's device registration. First `fetch_device_list` and the next list
 * signed with the account key from the backup (new-device-list.ts), which the caller stores
 * with the device's keys; then the two requests, `publish_device_list` and `register_device`
 * for the new device, signed over this connection's handshake hash by the device's own key
 * (§10.4), after which the connection is logged in as that device. A relay that does not serve
 * them says "this relay does not support several devices" (§17.8), exit 19.
 */
import { encodeIdentityPublic } from "../../crypto/identity.js";
import type { IdentityKeyPair } from "../../crypto/identity.js";
import type { AccountSigner } from "../../crypto/device-certificate.js";
import type { OneTimePrekey, SignedPrekey } from "../../crypto/prekeys.js";
import type { RelayMessageOf } from "../../src/wire/index.js";
import { loginSignature } from "../relay-client.js";
import type { RelayClient } from "../relay-client.js";
import { type NewDeviceList, nextDeviceList } from "./new-device-list.js";
import { asPassphraseUnsupported } from "./passphrase-relay-errors.js";

/** The new device's keys, as its profile stores them. */
export interface NewDeviceKeys {
  readonly identity: IdentityKeyPair;
  /** The device's own login credential (32 random bytes; the relay stores its hash). */
  readonly credential: Uint8Array;
  readonly signedPrekey: SignedPrekey;
  readonly oneTimePrekeys: readonly OneTimePrekey[];
}

type Relay = Pick<RelayClient, "request" | "handshakeHash">;

/**
 * The relay's current list of `username` and the next one with `device` added. Throws what
 * nextDeviceList throws (a list the account did not sign, a full account),
 * PassphraseUnsupportedError ("several devices"), or the relay's RemoteError.
 */
export async function nextListFromRelay(
  relay: Relay,
  args: {
    readonly username: string;
    readonly account: AccountSigner;
    readonly device: IdentityKeyPair;
    readonly nowMs: number;
  },
): Promise<NewDeviceList> {
  let current;
  try {
    current = await relay.request<"fetch_device_list">({ t: "fetch_device_list", username: args.username });
  } catch (e) {
    throw asPassphraseUnsupported(e, false, "several devices");
  }
  return nextDeviceList({
    account: args.account,
    username: args.username,
    current: current.list,
    device: args.device.publicKey,
    nowMs: args.nowMs,
  });
}

/**
 * Publishes `next` and registers `device` under its id (§18.6's two requests). Throws
 * PassphraseUnsupportedError ("several devices") or the relay's RemoteError.
 */
export async function publishAndRegister(
  relay: Relay,
  args: { readonly username: string; readonly next: NewDeviceList; readonly device: NewDeviceKeys },
): Promise<RelayMessageOf<"joined">> {
  const { device } = args;
  const spk = device.signedPrekey;
  try {
    await relay.request<"publish_device_list">({ t: "publish_device_list", list: args.next.list });
    return await relay.request<"register_device">({
      t: "register_device",
      username: args.username,
      device: args.next.deviceId,
      credential: device.credential,
      identity: encodeIdentityPublic(device.identity.publicKey),
      signed_prekey: { key_id: spk.id, public_key: spk.keyPair.publicKey, signature: spk.signature },
      one_time_prekeys: device.oneTimePrekeys.map((k) => ({ key_id: k.id, public_key: k.keyPair.publicKey })),
      signature: loginSignature(device.identity, relay.handshakeHash),
    });
  } catch (e) {
    throw asPassphraseUnsupported(e, false, "several devices");
  }
}
