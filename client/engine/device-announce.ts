/**
 * Telling our contacts and our other devices that our device list changed (SECURITY.md §17.7):
 * the `device_list` application message (our accepted list exactly as signed, and the names we
 * know) sent pairwise, with the fan-out header, as a 1:1 message. The wire needs a chat for it;
 * §17.7 says which: one in each open direct chat whose peer has a device list, each going to
 * the peer's devices and to our other devices (so those get it once per chat; the repeats are
 * replays, ignored by §17.4 step 3). A peer without a list (a client before §17) cannot read
 * the message and is left out; with no such chat nothing is sent, and our other devices learn
 * the list from the relay (`device_list_changed`, §17.8). Called after our list changed
 * (`smsg device remove`, `rename`) and to answer a stale sender (§17.5).
 */
import type { DeviceListMessage } from "../protocol/app-message.js";
import type { RelayClient } from "../relay-client.js";
import type { DeviceListEvent } from "./events.js";
import { prepareTargets } from "./fanout-targets.js";
import type { Account } from "./open-account.js";
import { type FailedMessage, type SentMessage, flushOutbox, queueDirectApp } from "./outbox.js";
import { relayServesDevices, syncOwnDeviceList } from "./own-list-online.js";

/** What announceDeviceList did. */
export interface Announcement {
  /** The direct chats it was queued in. */
  readonly chats: readonly number[];
  /** What the flush after it sent and refused (the announcements among everything else queued). */
  readonly sent: readonly SentMessage[];
  readonly failed: readonly FailedMessage[];
  /** What device lists fetched on the way tell the user (§17.4's table). */
  readonly events: readonly DeviceListEvent[];
}

/** Our accepted list and the names we know of its devices, as a `device_list` message (§17.7). */
export function ownDeviceListMessage(acct: Account): DeviceListMessage | undefined {
  const { store } = acct;
  const state = store.deviceLists.get(acct.username);
  if (state === undefined) return undefined;
  const names = store.deviceLists
    .devices(acct.username)
    .flatMap((d) => (d.name === null ? [] : [{ id: d.entry.id, name: d.name }]));
  return { v: 1, k: "device_list", list: state.encoded, names };
}

/**
 * Queues the announcement in every chat the file comment names and flushes the outbox. A relay
 * before §17 gets nothing (no one could tell our devices apart there). Throws what
 * prepareTargets throws for a chat (nothing is queued for it then, nor for the chats after it,
 * but what was queued before stays queued) and what flushOutbox throws.
 */
export async function announceDeviceList(acct: Account, relay: RelayClient): Promise<Announcement> {
  const { store } = acct;
  const events: DeviceListEvent[] = [];
  if (relayServesDevices(relay) === undefined) events.push(...(await syncOwnDeviceList(acct, relay)).events);
  const message = ownDeviceListMessage(acct);
  if (relayServesDevices(relay) === false || message === undefined) return { chats: [], sent: [], failed: [], events };
  const chats: number[] = [];
  for (const chat of store.chats.list({ includeClosed: false })) {
    const peer = chat.peer;
    if (chat.kind !== "direct" || peer === null || store.contacts.get(peer)?.keyChanged) continue;
    const prepared = await prepareTargets(acct, relay, peer);
    events.push(...prepared.events);
    const { targets } = prepared;
    if (targets.mode !== "copies" || targets.peer === null) continue;
    store.transaction(() => queueDirectApp(acct, chat.id, peer, targets, message));
    chats.push(chat.id);
  }
  const flushed = await flushOutbox(acct, relay);
  return { chats, sent: flushed.sent, failed: flushed.failed, events: [...events, ...(flushed.events ?? [])] };
}
