/**
 * `smsg device add LINK` on a new machine N (SECURITY.md §17.6): runs N's side of the link
 * exchange with the existing device E through the relay, then — only once its own user said
 * the code on both screens is the same — opens the grant, checks it (acceptLinkGrant: the
 * account key the link names, its seed, a list it signed holding this device), writes the
 * profile with the account-state snapshot in one transaction (new-device.ts), and registers
 * the device with the relay (`register_device`, §17.8).
 *
 * N's steps: message 1 (its commitment to LN) → message 2 (E's key) → message 3 (LN) and
 * message 4 (its device identity and name) → the code, shown with its fingerprint, and the
 * user's answer (while E's user answers on E, so the grant may arrive meanwhile; it is opened
 * only after a yes) → message 5. Any failure or a no ends the link with nothing stored.
 *
 * The registration goes out on a connection of its own: the link's connection has not logged
 * in, and once E ends the link the relay's login timeout applies to it again (§17.8).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { deviceFingerprint } from "../../crypto/device-certificate.js";
import {
  LINK_MESSAGE,
  acceptLinkGrant,
  deriveLinkKeys,
  encodeDeviceHello,
  linkCommitment,
  linkMailboxKey,
} from "../../crypto/device-link.js";
import { type IdentityKeyPair, generateIdentity } from "../../crypto/identity.js";
import { wipe, x25519KeyPair } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { RemoteError, UsageError } from "../../src/errors.js";
import { type DeviceLink, parseDeviceLink } from "../../src/device-link-url.js";
import { ProfileExistsError } from "../profile/errors.js";
import type { KeystoreOptions } from "../profile/keystore.js";
import { KEYSTORE_FILE } from "../profile/paths.js";
import { checkDeviceName } from "../protocol/device-name.js";
import { LinkChannel, LinkEndedError } from "./link-channel.js";
import { createDeviceProfile } from "./new-device.js";
import { connectRelay } from "./open-account.js";

/** How addThisDevice talks to its user. */
export interface LinkNewUi {
  /** The exchange reached the code: show it with this device's fingerprint and ask whether E shows the same code. */
  confirm(code: string, fingerprint: string): Promise<boolean>;
}

/** Options of addThisDevice. */
export interface AddDeviceOptions {
  /** The new profile's folder (it must not hold a profile). */
  readonly dir: string;
  /** The link `smsg device link` printed. */
  readonly link: string;
  /** This device's name, sent to E inside the exchange (§17.7: never to the relay in the clear). */
  readonly name?: string | undefined;
  /** Protects the new profile (§16.1) when given. */
  readonly profilePassphrase?: string | undefined;
  readonly rng: Rng;
  readonly now?: () => number;
  readonly keystore?: KeystoreOptions;
}

/** What addThisDevice did. */
export interface AddedDevice {
  readonly username: string;
  readonly deviceId: number;
  readonly fingerprint: string;
  readonly relayHost: string;
  readonly relayPort: number;
}

/** The user answered no: the link is closed, nothing was stored. Code USAGE. */
export class AddDeclinedError extends UsageError {
  constructor() {
    super("not added: the codes were not confirmed to match; nothing was stored");
  }
}

/**
 * Runs N's side (see the file comment). Throws, with nothing stored: UsageError (a link that
 * does not parse, a bad name), ProfileExistsError, RelayUnreachableError / RelayKeyMismatchError,
 * LinkEndedError (unknown, used or expired link; a wrong message; E ended it), AddDeclinedError,
 * CryptoVerificationError or CodecError (a grant that fails acceptLinkGrant, or its snapshot), or
 * the relay's refusal of register_device.
 */
export async function addThisDevice(opts: AddDeviceOptions, ui: LinkNewUi): Promise<AddedDevice> {
  const link = parseDeviceLink(opts.link);
  const name = opts.name === undefined ? "" : checkDeviceName(opts.name);
  if (existsSync(join(opts.dir, KEYSTORE_FILE))) throw new ProfileExistsError(opts.dir);
  const device = generateIdentity(opts.rng);
  const target = {
    host: link.host,
    port: link.port,
    relayKey: link.relayKey,
    rng: opts.rng,
    keyFrom: "device link",
  } as const;
  const relay = await connectRelay(target);
  let grantBody: Uint8Array;
  const channel = new LinkChannel(relay, link.linkId, opts.rng, (opts.now ?? Date.now)());
  try {
    grantBody = await exchange(channel, link, device, name, opts.rng, ui);
  } finally {
    await channel.close();
    relay.close();
  }
  const accepted = acceptLinkGrant(
    grantBody,
    { username: link.username, accountHash: link.accountHash },
    device.publicKey,
  );
  wipe(grantBody);
  const { grant } = accepted;
  const pending = createDeviceProfile({
    dir: opts.dir,
    relayHost: link.host,
    relayPort: link.port,
    relayKey: link.relayKey,
    username: link.username,
    accountIdentity: grant.account,
    accountSigningSeed: grant.accountSigningSeed,
    device,
    deviceId: grant.deviceId,
    deviceList: grant.deviceList,
    accountState: grant.state,
    profilePassphrase: opts.profilePassphrase,
    rng: opts.rng,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.keystore ? { keystore: opts.keystore } : {}),
  });
  wipe(grant.accountSigningSeed);
  try {
    if (name !== "") pending.store.deviceLists.setName(link.username, grant.deviceId, name);
    const reg = await connectRelay(target);
    try {
      await reg.request<"register_device">(pending.request(0, reg.handshakeHash));
    } finally {
      reg.close();
    }
    pending.registered();
  } catch (e) {
    pending.abandon();
    throw e;
  }
  pending.store.close();
  return {
    username: link.username,
    deviceId: grant.deviceId,
    fingerprint: deviceFingerprint(device.publicKey),
    relayHost: link.host,
    relayPort: link.port,
  };
}

/** Messages 1–4, the user's answer, then message 5 (still sealed under K_link: opened here, checked by the caller). */
async function exchange(
  channel: LinkChannel,
  link: DeviceLink,
  device: IdentityKeyPair,
  name: string,
  rng: Rng,
  ui: LinkNewUi,
): Promise<Uint8Array> {
  const ln = x25519KeyPair(rng);
  const mailbox = linkMailboxKey(link.linkSecret, link.linkId);
  try {
    try {
      await channel.post(mailbox, LINK_MESSAGE.commit, linkCommitment(link.linkId, ln.publicKey));
    } catch (e) {
      if (e instanceof LinkEndedError || (e instanceof RemoteError && e.code === "LINK_UNKNOWN"))
        throw new LinkEndedError("the relay does not know this link (already used, expired, or mistyped)", {
          cause: e,
        });
      throw e;
    }
    const le = await channel.next(mailbox, LINK_MESSAGE.existingKey);
    let keys;
    try {
      keys = deriveLinkKeys({
        linkId: link.linkId,
        linkSecret: link.linkSecret,
        ownPrivate: ln.privateKey,
        existingPublic: le,
        newPublic: ln.publicKey,
        peerPublic: le,
      });
    } catch (e) {
      throw new LinkEndedError("the existing device's key is not a usable key", { cause: e });
    }
    await channel.post(mailbox, LINK_MESSAGE.newKey, ln.publicKey);
    await channel.post(keys.key, LINK_MESSAGE.deviceHello, encodeDeviceHello({ device: device.publicKey, name }));
    // The grant may arrive while the user reads the code: it waits in the channel, unopened.
    if (!(await ui.confirm(keys.code, deviceFingerprint(device.publicKey)))) throw new AddDeclinedError();
    return await channel.next(keys.key, LINK_MESSAGE.grant);
  } finally {
    wipe(ln.privateKey, mailbox);
  }
}
