/**
 * Encrypting and sending one 1:1 message to devices (SECURITY.md §17.5, §17.7, §17.8).
 *
 * One application message is wrapped once with the fan-out header (client/protocol/fanout.ts)
 * and encrypted on each device's pairwise session, inside the caller's transaction that also
 * stores the message and its outbox entry (§6.4: the advanced sessions are stored before
 * anything leaves). The outbox keeps the application message (sealed), so that when the relay
 * answers DEVICE_LIST_STALE (nothing was stored) both lists are fetched again (§17.4) and the
 * SAME message (chat, seq, ts, body) is encrypted again to the current devices and sent under
 * the SAME idem: the relay stores it once, each device shows it once (§14.7, recipients keep
 * one row per relay message id). A crash between the commit and the relay's answer leaves the
 * stored copies, which the next flush sends again unchanged, with the same idem.
 *
 * An entry's encryption is replaced only when the relay's answer proves it stored nothing
 * under that idem: DEVICE_LIST_STALE (copies encrypted again, same idem), or UNKNOWN_TYPE to
 * `send_copies` (a relay before §17: one bare envelope with `send`, under the idem derived from
 * it, §14.9, as every `send`).
 */
import { RemoteError, SmsgError, UsageError } from "../../src/errors.js";
import { DEFAULT_MAX_FRAME_BYTES, derivedIdem, encodeMessage } from "../../src/wire/index.js";
import { fanoutHeader, wrapFanout } from "../protocol/fanout.js";
import { DevicesUnsupportedError, sendCopies } from "../relay-devices.js";
import type { RelayClient } from "../relay-client.js";
import type { DirectEncryption, OutboxCopy, OutboxRecord } from "../store/index.js";
import type { DeviceListEvent } from "./events.js";
import { type DirectTargets, prepareTargets } from "./fanout-targets.js";
import type { Account } from "./open-account.js";
import { noteRelayDevices } from "./own-list-online.js";
import { encryptForPeer } from "./sessions.js";

/** How many times one message is encrypted again after DEVICE_LIST_STALE before it fails. */
export const MAX_STALE_RETRIES = 3;

/** The relay kept answering DEVICE_LIST_STALE: the lists changed faster than we could follow. Code DEVICE_LIST_STALE. */
export class DeviceListsUnsettledError extends SmsgError {
  constructor(tries: number, events: readonly DeviceListEvent[] = []) {
    // The relay wanting copies for devices whose list we refused is no race: it is the relay
    // (or someone with its database) adding a device the account never signed (§17.4, §17.9).
    const refused = [...new Set(events.filter((e) => e.outcome === "refused").map((e) => e.user))];
    super(
      "DEVICE_LIST_STALE",
      refused.length > 0
        ? `nothing was delivered: the relay wants copies for devices the account did not sign ` +
            refused.map((u) => `(a device list for ${u} that ${u}'s account did not sign was refused)`).join(" ") +
            `; messages go only to verified devices, so ask ${refused.join(", ")} to check smsg device list`
        : `the relay refused the message ${tries} times because the device lists changed meanwhile; nothing was delivered (send it again)`,
    );
  }
}

/** Bytes of the largest `id` a request may carry, so the size check below holds for any id. */
const LARGEST_ID = 0xffff_ffff;

/**
 * Throws UsageError when the copies do not fit one frame (§17.8: "the message is too long to
 * send to N devices"), so the caller's transaction, and with it every ratchet step, rolls back.
 */
function checkCopiesFit(chatId: number, copies: readonly OutboxCopy[]): void {
  const frame = encodeMessage({
    t: "send_copies",
    id: LARGEST_ID,
    chat: chatId,
    idem: new Uint8Array(16),
    copies: [...copies],
  });
  if (frame.length > DEFAULT_MAX_FRAME_BYTES)
    throw new UsageError(`the message is too long to send to ${copies.length} devices`);
}

/**
 * Encrypts the application message `app` for `targets`, inside the caller's transaction (every
 * session step is stored with it). `send`: one bare envelope for the peer's device 1. `copies`:
 * the header around `app` for every listed device of the peer and every other device of ours;
 * a peer without a list gets its device 1 copy bare (§17.5: the header is for §17 devices).
 * Throws what encryptForPeer throws (KeyChangedError, UnlistedDeviceError, no session) and
 * UsageError when the copies do not fit one frame.
 */
export function encryptDirect(
  acct: Account,
  peer: string,
  chatId: number,
  targets: DirectTargets,
  app: Uint8Array,
): DirectEncryption {
  if (targets.mode === "send") return { envelope: encryptForPeer(acct, peer, app, 1) };
  const header = fanoutHeader({ myDevice: targets.myDevice, own: targets.own, recipient: peer, peer: targets.peer });
  const wrapped = wrapFanout(header, app);
  const copies: OutboxCopy[] = [];
  if (targets.peer === null) copies.push({ to: peer, device: 1, envelope: encryptForPeer(acct, peer, app, 1) });
  for (const device of header.recipientDevices)
    copies.push({ to: peer, device, envelope: encryptForPeer(acct, peer, wrapped, device) });
  for (const device of header.ownDevices)
    copies.push({ to: acct.username, device, envelope: encryptForPeer(acct, acct.username, wrapped, device) });
  checkCopiesFit(chatId, copies);
  return { copies };
}

/** The idem of a new entry: derived from its (first) envelope, as every `send`'s (§14.9). */
export function idemOf(encrypted: DirectEncryption): Uint8Array {
  return derivedIdem(encrypted.envelope ?? encrypted.copies[0]!.envelope);
}

/** The relay's `sent` for one entry. */
export interface EntrySent {
  readonly msg: number;
  readonly ts: number;
  readonly duplicate: boolean;
  /** The entry's idem when it went out (a changed one after a relay before §17 refused the copies). */
  readonly idem: Uint8Array;
}

/**
 * Sends one queued 1:1 message (an entry with an application message), following the file
 * comment. Returns the relay's `sent`, or null when the entry left the outbox meanwhile (another
 * process sent it). Appends what refreshed lists tell the user to `events`. Throws
 * DeviceListsUnsettledError after MAX_STALE_RETRIES, the relay's RemoteError, what prepareTargets
 * and encryptDirect throw (the entry then stays as it was), or a connection error.
 */
export async function sendDirectEntry(
  acct: Account,
  relay: RelayClient,
  entry: OutboxRecord,
  events: DeviceListEvent[],
): Promise<EntrySent | null> {
  let o: OutboxRecord | undefined = entry;
  for (let stale = 0; ;) {
    try {
      if (o.envelope !== null) {
        const r = await relay.request<"send">({ t: "send", chat: o.chatId, idem: o.idem, envelope: o.envelope });
        return { msg: r.msg, ts: r.ts, duplicate: r.duplicate, idem: o.idem };
      }
      const r = await sendCopies(relay, o.chatId, o.idem, o.copies);
      noteRelayDevices(relay, true);
      return { ...r, idem: o.idem };
    } catch (e) {
      if (e instanceof DevicesUnsupportedError) {
        // A relay before §17 stored nothing: one bare envelope with `send` instead.
        noteRelayDevices(relay, false);
        o = await encryptAgain(acct, relay, o, false, events);
      } else if (e instanceof RemoteError && e.code === "DEVICE_LIST_STALE") {
        noteRelayDevices(relay, true);
        if (++stale > MAX_STALE_RETRIES) throw new DeviceListsUnsettledError(stale, events);
        o = await encryptAgain(acct, relay, o, true, events);
      } else throw e;
      if (o === undefined) return null;
    }
  }
}

/**
 * Encrypts a queued 1:1 message again to the targets as they are now (`refresh`: both lists
 * fetched again first) and replaces its encryption, in one transaction. Returns the updated
 * entry, or undefined when it is no longer queued.
 */
async function encryptAgain(
  acct: Account,
  relay: RelayClient,
  o: OutboxRecord,
  refresh: boolean,
  events: DeviceListEvent[],
): Promise<OutboxRecord | undefined> {
  const { store } = acct;
  const peer = store.chats.get(o.chatId)?.peer ?? null;
  const app = o.app;
  if (peer === null || app === null) throw new UsageError(`outbox entry of chat ${o.chatId} is not a 1:1 message`);
  const prepared = await prepareTargets(acct, relay, peer, { refresh });
  events.push(...prepared.events);
  return store.transaction(() => {
    if (store.outbox.get(o.idem) === undefined) return undefined;
    const encrypted = encryptDirect(acct, peer, o.chatId, prepared.targets, app);
    // Copies keep the idem (only the relay's `sent` for it counts); a bare `send` takes the one
    // derived from its envelope (§14.9): the relay before §17 never saw the old one.
    const idem = encrypted.envelope !== undefined ? derivedIdem(encrypted.envelope) : o.idem;
    store.outbox.reencrypt(o.idem, encrypted, idem);
    return store.outbox.get(idem);
  });
}
