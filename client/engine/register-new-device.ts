/**
 * The second half of `smsg login` (SECURITY.md §18.6), on the connection that passed
 * `passphrase_login`: §17's device registration. First `fetch_device_list` (its own account's,
 * the one thing besides the registration such a connection may read) and the next list signed
 * with the account key from the backup (new-device-list.ts), which the caller stores with the
 * device's keys (new-device.ts); then the two requests, `publish_device_list` and
 * `register_device` for the new device, signed over the handshake hash of the connection it
 * goes out on by the device's own key (§10.4), after which that connection is logged in as the
 * device. `register_device` is allowed before login on any connection (§17.8), so a caller
 * that lost its answer may repeat it on a new one. A relay that does not serve them says "this
 * relay does not support several devices" (§17.8), exit 19.
 */
import type { IdentityKeyPair } from "../../crypto/identity.js";
import type { AccountSigner } from "../../crypto/device-certificate.js";
import type { RelayMessageOf } from "../../src/wire/index.js";
import type { RelayClient } from "../relay-client.js";
import type { PendingDevice } from "./new-device.js";
import { type NewDeviceList, nextDeviceList } from "./new-device-list.js";
import { asPassphraseUnsupported } from "./passphrase-relay-errors.js";

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
    highest: current.highest,
    device: args.device.publicKey,
    nowMs: args.nowMs,
  });
}

/**
 * `publish_device_list` of the list that adds the new device (§18.6's first request). Throws
 * PassphraseUnsupportedError ("several devices"), the relay's RemoteError (nothing was stored),
 * or a ConnectionClosedError / TimeoutError (the relay may or may not have stored it).
 */
export async function publishNewList(relay: Relay, next: NewDeviceList): Promise<void> {
  try {
    await relay.request<"publish_device_list">({ t: "publish_device_list", list: next.list });
  } catch (e) {
    throw asPassphraseUnsupported(e, false, "several devices");
  }
}

/** The relay's answer to a registration, and how many one-time prekeys it published. */
export interface Registered {
  readonly joined: RelayMessageOf<"joined">;
  readonly oneTimePrekeys: number;
}

/**
 * `register_device` for the device `pending` holds (§18.6's second request), as new-device.ts
 * builds it, signed over this connection's handshake hash. Throws PassphraseUnsupportedError
 * ("several devices"), the relay's RemoteError, or what RelayClient.request throws.
 */
export async function registerNewDevice(relay: Relay, pending: Pick<PendingDevice, "request">): Promise<Registered> {
  // The client numbers its own requests: the id of the built message is not sent.
  const { id: _unused, ...request } = pending.request(0, relay.handshakeHash);
  try {
    const joined = await relay.request<"register_device">(request);
    return { joined, oneTimePrekeys: request.one_time_prekeys.length };
  } catch (e) {
    throw asPassphraseUnsupported(e, false, "several devices");
  }
}
