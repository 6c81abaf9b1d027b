/**
 * `smsg device link` on an existing device E (SECURITY.md §17.6): opens a one-time link on the
 * relay, runs E's side of the exchange with the new device N, and — only once the user said
 * the code on both screens is the same — adds N to the account and sends it the grant.
 *
 * Order of E's steps, each of which ends the link with nothing added when it fails:
 * message 1 (N's commitment) → message 2 (E's link key) → message 3 (N's link key, checked
 * against the commitment) → the code → message 4 (N's device identity and name) → the user's
 * answer → the account-state snapshot built (so a state that does not fit refuses before
 * anything is published, §17.6.1) → the next list (listAddingDevice, version + 1, on the
 * relay's newest list) published, then accepted by the store (as removal does, own-devices.ts)
 * → message 5, the grant.
 */
import { deviceFingerprint } from "../../crypto/device-certificate.js";
import {
  LINK_ID_BYTES,
  LINK_MESSAGE,
  LINK_SECRET_BYTES,
  checkLinkCommitment,
  decodeDeviceHello,
  deriveLinkKeys,
  encodeLinkGrant,
  linkAccountHash,
  linkMailboxKey,
} from "../../crypto/device-link.js";
import { MAX_DEVICES } from "../../crypto/device-list.js";
import type { IdentityPublic } from "../../crypto/identity.js";
import { wipe, x25519KeyPair } from "../../crypto/primitives.js";
import { InternalError, LimitError, UsageError } from "../../src/errors.js";
import { formatDeviceLink } from "../../src/device-link-url.js";
import { checkDeviceName } from "../protocol/device-name.js";
import type { RelayClient } from "../relay-client.js";
import { type AccountStateOmissions, buildAccountState } from "./account-state-snapshot.js";
import { LinkChannel, LinkEndedError } from "./link-channel.js";
import { acceptOwnDeviceList } from "./device-list-removals.js";
import type { Account } from "./open-account.js";
import { accountSignerOf, listAddingDevice } from "./own-device-list.js";
import { publishOwnList, refreshOwnDevices } from "./own-devices.js";
import { DeviceAddedUngrantedError } from "./device-errors.js";

/** What E shows its user about the device asking to join, before the user answers. */
export interface JoiningDevice {
  /** The code N shows too; six digits. */
  readonly code: string;
  /** The name N gave itself (message 4), or null when it gave none that is a valid label. */
  readonly name: string | null;
  /** N's device fingerprint (§17.2), which N shows too. */
  readonly fingerprint: string;
}

/** How linkNewDevice talks to its user. */
export interface LinkExistingUi {
  /** The link is open: show it (the user carries it to the new machine). */
  onLink(link: string, expiresAt: number): void;
  /** The new device answered: show the code and ask whether N shows the same one. */
  confirm(device: JoiningDevice): Promise<boolean>;
  /** The grant's snapshot left something out (§17.6.1 "Building"): say what. */
  onOmitted?(omitted: AccountStateOmissions): void;
}

/** What linkNewDevice did. */
export interface LinkedDevice {
  readonly deviceId: number;
  readonly name: string | null;
  readonly fingerprint: string;
  /** The version of the account's list that holds it. */
  readonly version: number;
}

/** The user answered no: the link is closed, nothing was added. Code USAGE. */
export class LinkDeclinedError extends UsageError {
  constructor() {
    super("not linked: the codes were not confirmed to match; nothing was added");
  }
}

/**
 * Runs E's side (see the file comment) on `relay`, a logged-in connection of `acct`. Throws,
 * with nothing added: LimitError (the account has 16 devices), LinkEndedError (the link died:
 * expired, a wrong message, the connection closed), LinkDeclinedError, what own-devices.ts
 * publishing throws (DeviceListRefusedError, DevicesUnsupportedError), AccountStateDoesNotFitError.
 */
export async function linkNewDevice(acct: Account, relay: RelayClient, ui: LinkExistingUi): Promise<LinkedDevice> {
  const { username, rng } = acct;
  if ((await refreshOwnDevices(acct, relay)).devices.length >= MAX_DEVICES) throw tooManyDevices();

  const linkId = rng(LINK_ID_BYTES);
  const linkSecret = rng(LINK_SECRET_BYTES);
  const le = x25519KeyPair(rng);
  const mailbox = linkMailboxKey(linkSecret, linkId);
  await relay.request<"link_open">({ t: "link_open", link: linkId });
  const channel = new LinkChannel(relay, linkId, rng, acct.now());
  try {
    ui.onLink(
      formatDeviceLink({
        host: acct.relayHost,
        port: acct.relayPort,
        relayKey: acct.relayKey,
        username,
        linkId,
        linkSecret,
        accountHash: linkAccountHash(acct.accountIdentity),
      }),
      channel.expiresAt,
    );
    const commitment = await channel.next(mailbox, LINK_MESSAGE.commit);
    await channel.post(mailbox, LINK_MESSAGE.existingKey, le.publicKey);
    const ln = await channel.next(mailbox, LINK_MESSAGE.newKey);
    const keys = dead("the new device's key does not match the key it committed to", () => {
      checkLinkCommitment(linkId, commitment, ln);
      return deriveLinkKeys({
        linkId,
        linkSecret,
        ownPrivate: le.privateKey,
        existingPublic: le.publicKey,
        newPublic: ln,
        peerPublic: ln,
      });
    });
    wipe(le.privateKey);
    const helloBody = await channel.next(keys.key, LINK_MESSAGE.deviceHello);
    const hello = dead("the new device's identity does not verify", () => decodeDeviceHello(helloBody));
    const joining = { code: keys.code, name: labelOrNull(hello.name), fingerprint: deviceFingerprint(hello.device) };
    if (!(await ui.confirm(joining))) throw new LinkDeclinedError();
    const added = await addAndGrant(
      acct,
      relay,
      hello.device,
      joining.name,
      (grant) => channel.post(keys.key, LINK_MESSAGE.grant, grant),
      ui,
    );
    return { ...added, fingerprint: joining.fingerprint };
  } finally {
    await channel.close();
    wipe(linkSecret, mailbox, le.privateKey);
  }
}

/** The account already has MAX_DEVICES devices (§17.3). Code LIMIT. */
function tooManyDevices(): LimitError {
  return new LimitError(`your account already has ${MAX_DEVICES} devices: remove one (smsg device remove) first`);
}

/** `f()`, or the link ended with `why` when it throws (a failed check kills the link, §17.6). */
function dead<T>(why: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new LinkEndedError(why, { cause: e });
  }
}

/** A name N gave itself, if it is one a device may have (§17.7); else none. */
function labelOrNull(name: string): string | null {
  try {
    return checkDeviceName(name);
  } catch {
    return null;
  }
}

/**
 * The confirmed half: snapshot, next list published and stored, the new device's name kept,
 * then the grant handed to `send`.
 */
async function addAndGrant(
  acct: Account,
  relay: RelayClient,
  device: IdentityPublic,
  name: string | null,
  send: (grant: Uint8Array) => Promise<void>,
  ui: LinkExistingUi,
): Promise<Omit<LinkedDevice, "fingerprint">> {
  const { store, username } = acct;
  const built = buildAccountState(store);
  if (built.omitted.departedChats.length > 0 || built.omitted.closedGroupStates.length > 0)
    ui.onOmitted?.(built.omitted);
  // The relay's newest list, so the new version is above it (the user may have taken a while).
  await refreshOwnDevices(acct, relay);
  const current = store.deviceLists.get(username);
  if (current === undefined) throw new InternalError("device link: no own list after a refresh");
  if (current.list.devices.length >= MAX_DEVICES) throw tooManyDevices();
  const record = store.account.get();
  if (record === undefined) throw new InternalError("device link: the profile has no account");
  try {
    const signer = accountSignerOf(record);
    const next = listAddingDevice(signer, username, current, device, acct.now());
    wipe(signer.signing.privateKey);
    await publishOwnList(relay, next.encoded);
    const decision = acceptOwnDeviceList(acct, record, next.encoded);
    if (!decision.accepted)
      throw new InternalError(`device link: the list the relay took was refused here (${decision.refusal.reason})`);
    if (name !== null) store.deviceLists.setName(username, next.deviceId, name);
    const grant = encodeLinkGrant({
      account: acct.accountIdentity,
      accountSigningSeed: record.accountSigningSeed,
      deviceId: next.deviceId,
      deviceList: next.encoded,
      state: built.bytes,
    });
    try {
      await send(grant);
    } catch (e) {
      throw new DeviceAddedUngrantedError(next.deviceId, e);
    } finally {
      wipe(grant);
    }
    return { deviceId: next.deviceId, name, version: decision.state.list.version };
  } finally {
    wipe(record.signingSeed, record.dhPrivate, record.accountSigningSeed, record.backupKey ?? undefined);
  }
}
