/**
 * Several devices of one account for the engine suites (SECURITY.md §17): publishing a
 * profile's own list, adding a device of the account for real (the next list signed by the
 * account, createDeviceProfile, publish_device_list, register_device on the relay), and one
 * 1:1 fan-out send (§17.5) made of what the client has today (sessions.ts per device,
 * fanout.ts, relay-devices.ts send_copies), with knobs to send what an honest client never does.
 */
import { randomBytes } from "node:crypto";
import type { FanoutHeader } from "../../../crypto/device-fanout.js";
import { type IdentityKeyPair, generateIdentity } from "../../../crypto/identity.js";
import { refreshDeviceList } from "../../../client/engine/device-list-refresh.js";
import { createDeviceProfile } from "../../../client/engine/new-device.js";
import { type Account, connectAccount, connectRelay } from "../../../client/engine/open-account.js";
import {
  accountSignerOf,
  ensureOwnDeviceList,
  listAddingDevice,
  offerOwnList,
} from "../../../client/engine/own-device-list.js";
import { encryptForPeer, ensureSession } from "../../../client/engine/sessions.js";
import { type AppMessage, encodeAppMessage } from "../../../client/protocol/app-message.js";
import { fanoutHeader, wrapFanout } from "../../../client/protocol/fanout.js";
import type { RelayClient } from "../../../client/relay-client.js";
import { type CopiesSent, type DeviceCopy, publishDeviceList, sendCopies } from "../../../client/relay-devices.js";
import { systemRng } from "../../../src/system-rng.js";
import type { TestRelay } from "../../relay/harness.js";
import { type EngineUser, deviceUser, emptyRelay, profileDir } from "./helpers.js";

/** emptyRelay, and the per-device delivery tables, which have no foreign keys to cascade from. */
export async function emptyDeviceRelay(tr: TestRelay): Promise<void> {
  await emptyRelay(tr);
  await tr.db.exec("TRUNCATE device_mailboxes, message_copies, device_cursors");
}

/** Runs `fn` with a logged-in connection of `acct`, closed afterwards. */
export async function withRelay<T>(acct: Account, fn: (relay: RelayClient) => Promise<T>): Promise<T> {
  const { relay } = await connectAccount(acct);
  try {
    return await fn(relay);
  } finally {
    relay.close();
  }
}

/** Device 1 of a joined profile signs its first list (§17.1) and publishes it. */
export async function publishOwnList(u: EngineUser): Promise<void> {
  const encoded = ensureOwnDeviceList(u.acct.store);
  if (encoded !== undefined) await withRelay(u.acct, (relay) => publishDeviceList(relay, encoded));
}

/**
 * Adds a device to `owner`'s account: `owner` (a device holding the account seed) signs the
 * next list with a new device identity, accepts and publishes it, and the new device's profile
 * is written and registered with the relay. Returns the new device as an EngineUser.
 */
export async function addDevice(tr: TestRelay, owner: EngineUser, label: string): Promise<EngineUser> {
  await publishOwnList(owner);
  const record = owner.acct.store.account.get()!;
  const signer = accountSignerOf(record);
  const device: IdentityKeyPair = generateIdentity(systemRng);
  const next = listAddingDevice(signer, owner.name, owner.acct.store.deviceLists.get(owner.name)!, device.publicKey);
  const decision = offerOwnList(owner.acct.store, record, next.encoded);
  if (!decision.accepted) throw new Error(`the next list was refused: ${decision.refusal.reason}`);
  await withRelay(owner.acct, (relay) => publishDeviceList(relay, next.encoded));
  const dir = profileDir(`${owner.name}-${label}`);
  const pending = createDeviceProfile({
    dir,
    relayHost: "127.0.0.1",
    relayPort: tr.port,
    relayKey: tr.keyPair.publicKey,
    username: owner.name,
    accountIdentity: signer.publicKey,
    accountSigningSeed: record.accountSigningSeed,
    device,
    deviceId: next.deviceId,
    deviceList: next.encoded,
    rng: systemRng,
  });
  const relay = await connectRelay({
    host: "127.0.0.1",
    port: tr.port,
    relayKey: tr.keyPair.publicKey,
    rng: systemRng,
  });
  try {
    await relay.request<"register_device">(pending.request(0, relay.handshakeHash));
    pending.registered();
  } catch (e) {
    pending.abandon();
    throw e;
  } finally {
    relay.close();
  }
  pending.store.close();
  return deviceUser(owner.name, dir);
}

/** Knobs of fanoutSend for what an honest sender never does. */
export interface FanoutSendOptions {
  /** Replaces fields of the header every copy carries. */
  readonly header?: Partial<FanoutHeader>;
  /** Sends the application message bare, without the header (a client before §17). */
  readonly bare?: boolean;
  /** Devices that get random bytes instead of a copy (the relay still wants one per current device). */
  readonly junkFor?: readonly { readonly to: string; readonly device: number }[];
}

/**
 * One 1:1 message from `sender`'s device to `peer` in `chat`, the way §17.5 says: both accounts'
 * lists fetched and accepted, the header, one pairwise copy for each of the peer's devices and
 * each of our other devices, all in one send_copies. Returns the relay's answer.
 */
export async function fanoutSend(
  sender: Account,
  relay: RelayClient,
  chat: number,
  peer: string,
  app: AppMessage,
  opts: FanoutSendOptions = {},
): Promise<CopiesSent> {
  const me = sender.username;
  await refreshDeviceList(sender, relay, peer);
  const own = sender.store.deviceLists.get(me)!;
  const theirs = sender.store.deviceLists.get(peer);
  const header = {
    ...fanoutHeader({
      myDevice: sender.deviceId,
      own: { version: own.list.version, devices: own.list.devices.map((d) => d.id) },
      recipient: peer,
      peer: theirs ? { version: theirs.list.version, devices: theirs.list.devices.map((d) => d.id) } : null,
    }),
    ...opts.header,
  };
  const encoded = encodeAppMessage(app);
  const plaintext = opts.bare ? encoded : wrapFanout(header, encoded);
  const targets = [
    ...(theirs ? theirs.list.devices.map((d) => ({ to: peer, device: d.id })) : [{ to: peer, device: 1 }]),
    ...own.list.devices.filter((d) => d.id !== sender.deviceId).map((d) => ({ to: me, device: d.id })),
  ];
  const copies: DeviceCopy[] = [];
  for (const t of targets) {
    if (opts.junkFor?.some((j) => j.to === t.to && j.device === t.device)) {
      copies.push({ ...t, envelope: new Uint8Array(randomBytes(200)) });
      continue;
    }
    await ensureSession(sender, relay, t.to, t.device);
    copies.push({ ...t, envelope: encryptForPeer(sender, t.to, plaintext, t.device) });
  }
  return sendCopies(relay, chat, new Uint8Array(randomBytes(16)), copies);
}

/** A text application message. */
export function text(chat: number, seq: number, body: string): AppMessage {
  return { v: 1, k: "text", chat, seq, ts: Date.now(), body };
}
