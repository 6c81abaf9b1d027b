/**
 * A second device of an account, made for real without a link exchange (SECURITY.md §17.1,
 * §17.8): what `device link` does on the existing device (the list with the new device added,
 * signed by the account, published and accepted) and what `device add` does on the new one
 * (createDeviceProfile, register_device over its own connection), in one call.
 */
import { createDeviceProfile } from "../../../client/engine/new-device.js";
import { type Account, connectRelay, openLocalAccount } from "../../../client/engine/open-account.js";
import { accountSignerOf, listAddingDevice, offerOwnList } from "../../../client/engine/own-device-list.js";
import type { RelayClient } from "../../../client/relay-client.js";
import { publishDeviceList } from "../../../client/relay-devices.js";
import { generateIdentity } from "../../../crypto/identity.js";
import { systemRng } from "../../../src/system-rng.js";

/**
 * Adds a device to `existing`'s account over `relay` (a logged-in connection of `existing`,
 * whose store holds the account's current list) and writes its profile in `dir`. Returns the
 * new device's account, open (the caller closes it).
 */
export async function addDeviceFor(existing: Account, relay: RelayClient, dir: string): Promise<Account> {
  const { store, username } = existing;
  const record = store.account.get()!;
  const device = generateIdentity(systemRng);
  const current = store.deviceLists.get(username);
  if (current === undefined) throw new Error("addDeviceFor: the existing device holds no list of its account");
  const next = listAddingDevice(accountSignerOf(record), username, current, device.publicKey);
  await publishDeviceList(relay, next.encoded);
  const offered = offerOwnList(store, record, next.encoded);
  if (!offered.accepted) throw new Error(`addDeviceFor: the new list was refused (${offered.refusal.reason})`);
  const pending = createDeviceProfile({
    dir,
    relayHost: existing.relayHost,
    relayPort: existing.relayPort,
    relayKey: existing.relayKey,
    username,
    accountIdentity: existing.accountIdentity,
    accountSigningSeed: record.accountSigningSeed,
    device,
    deviceId: next.deviceId,
    deviceList: next.encoded,
    rng: systemRng,
  });
  const c = await connectRelay({
    host: existing.relayHost,
    port: existing.relayPort,
    relayKey: existing.relayKey,
    rng: systemRng,
  });
  try {
    await c.request<"register_device">(pending.request(0, c.handshakeHash));
    pending.registered();
  } catch (e) {
    pending.abandon();
    throw e;
  } finally {
    c.close();
    if (pending.store.isOpen) pending.store.close();
  }
  return openLocalAccount({ dir });
}
