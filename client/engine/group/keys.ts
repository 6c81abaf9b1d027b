/**
 * Our sender key in each group and the keys we hold from others (SECURITY.md §7.4–§7.6).
 *
 * Each device has its own sender key per group (SECURITY.md §17.5 "Groups"). Before each send,
 * the client makes sure every device of every *confirmed* member (in the accepted signed state
 * AND listed by the relay, §15.4.3), and each of our own other devices, holds its current
 * sender key, handing the distribution (at the chain's current iteration) over pairwise
 * (pairwise.ts). Holders are recorded per device, so a device that appears later gets the key
 * before our next message. Whenever a holder is no longer a current device of a confirmed
 * member (the member was removed, left, or is gone at the relay; or the device left its
 * account's list, §17.5), the key is rotated (§7.6) before sending, and the new key goes to the
 * current devices only. A member the relay lists without a signed announcement (unannounced)
 * gets no key; the sender is warned.
 *
 * Receiver states are kept per (group, sender account, sender device).
 *
 * Storage: key holders and pending keys are in store.groupStates (pending ones per device:
 * records.ts pendingSender), the keys in store.senderKeys. The sender-key context's group id is
 * the chat id as ASCII decimal (utf8(String(chat))); its sender id stays the username (§17.5).
 */
import { utf8 } from "../../../crypto/bytes.js";
import { pad } from "../../../crypto/padding.js";
import { wipe } from "../../../crypto/primitives.js";
import {
  type SenderKeyContext,
  type SenderKeyOwnState,
  MAX_SENDER_ITERATION,
  createSenderKey,
  decodeSenderState,
  distributionMessage,
  encodeSenderState,
  parseDistribution,
  rotateSenderKey,
  senderEncrypt,
} from "../../../crypto/sender-keys.js";
import { UsageError } from "../../../src/errors.js";
import {
  type GroupStateMessage,
  type SenderKeyMessage,
  decodeAppMessage,
  encodeAppMessage,
} from "../../protocol/app-message.js";
import { reconcile, senderKeyVerdict } from "../../protocol/group-state.js";
import type { RelayClient } from "../../relay-client.js";
import type { ClientStore } from "../../store/index.js";
import { NotGroupMemberError, UnlistedDeviceError } from "../errors.js";
import type { Account } from "../open-account.js";
import { listedIdentity } from "../sessions.js";
import { type DeviceTarget, reachableDevices, sendToDevices, storedTargets, targetKey } from "./pairwise.js";
import { acceptedState, parsePendingSender, pendingSender, relayMembers } from "./records.js";

/** The sender-key context of a group message (SECURITY.md §7.4): group id = ASCII decimal chat id. */
export function groupContext(chat: number, sender: string): SenderKeyContext {
  return { groupId: utf8(String(chat)), senderId: sender };
}

/**
 * Who holds our current sender key in a chat, per DEVICE (SECURITY.md §17.5: each device of each
 * member, and our own other devices), as pairwise.ts targetKey `user/device`.
 */
interface Holders {
  readonly keyId: number;
  readonly devices: readonly string[];
  /** Devices our `profile` went to with a key (kept across rotations: a name is sent once). */
  readonly profiled: readonly string[];
  /**
   * The accepted state we signed and the devices it went to (membership.ts), so that a device
   * that missed it, or appeared since, gets it with our next hand-over.
   */
  readonly state?: { readonly epoch: number; readonly devices: readonly string[] };
}

/** A record written before §17 named users (`users`, `profiled`): each held it on device 1. */
function asDevice(k: string): string {
  return k.includes("/") ? k : `${k}/1`;
}

function getHolders(store: ClientStore, chat: number): Holders | undefined {
  const json = store.groupStates.getHolders(chat);
  if (json === undefined) return undefined;
  const raw = JSON.parse(json) as Partial<Holders> & { keyId: number; users?: readonly string[] };
  return {
    keyId: raw.keyId,
    devices: (raw.devices ?? raw.users ?? []).map(asDevice),
    profiled: (raw.profiled ?? []).map(asDevice),
    ...(raw.state ? { state: raw.state } : {}),
  };
}

function setHolders(store: ClientStore, chat: number, h: Holders): void {
  store.groupStates.setHolders(chat, JSON.stringify(h));
}

/**
 * Records that the signed state `epoch` of `chat` went to `sent` (added to those it went to
 * before, for the same epoch). Inside a transaction, or its own.
 */
export function recordStateHolders(
  store: ClientStore,
  chat: number,
  epoch: number,
  sent: readonly DeviceTarget[],
): void {
  store.transaction(() => {
    const h = getHolders(store, chat) ?? { keyId: -1, devices: [], profiled: [] };
    const before = h.state?.epoch === epoch ? h.state.devices : [];
    setHolders(store, chat, {
      ...h,
      state: { epoch, devices: [...new Set([...before, ...sent.map(targetKey)])].sort() },
    });
  });
}

function ownState(store: ClientStore, chat: number): SenderKeyOwnState | undefined {
  const r = store.senderKeys.own(chat);
  if (!r) return undefined;
  const s = decodeSenderState(r.state);
  return s.kind === "own" ? s : undefined;
}

function putOwn(acct: Account, chat: number, s: SenderKeyOwnState): void {
  acct.store.senderKeys.put({
    chatId: chat,
    sender: acct.username,
    senderDevice: acct.deviceId,
    keyId: s.keyId,
    state: encodeSenderState(s),
    own: true,
  });
}

/** The devices that may hold our key of `chat` now: every device of every confirmed member, and our own others. */
function currentDevices(acct: Account, confirmed: readonly string[]): Set<string> {
  return new Set(storedTargets(acct, confirmed, true).map(targetKey));
}

/**
 * Makes sure every device of every confirmed member, and each of our other devices, holds our
 * current sender key (see the file comment): creates it if there is none, rotates it when a
 * holder is no longer a current device of a confirmed member or the chain is spent, and hands
 * the distribution over to the devices that lack it. When we signed the accepted state, it
 * goes first to the devices that lack it. Returns warnings (unannounced members, unreachable
 * devices).
 */
export async function distributeOwnKey(acct: Account, relay: RelayClient, chat: number): Promise<string[]> {
  const { store } = acct;
  const me = acct.username;
  const warnings: string[] = [];
  const accepted = acceptedState(store, chat);
  if (!accepted)
    throw new UsageError(`no admin-signed membership of chat ${chat} has been received yet: nothing can be sent in it`);
  if (!accepted.members.includes(me))
    throw new NotGroupMemberError(`you are not a member of chat ${chat} (its signed membership does not list you)`);
  const rec = reconcile(accepted, relayMembers(store, chat));
  for (const u of rec.unannounced)
    warnings.push(`the relay added ${u} without an admin's signed announcement; ${u} cannot read your messages`);
  const confirmed = rec.confirmed.filter((u) => u !== me);
  // Network first (lists of members new to us, sessions); a list read now may remove devices.
  const targets = await reachableDevices(acct, relay, confirmed, true, warnings);
  store.transaction(() => {
    const own = ownState(store, chat);
    const holders = getHolders(store, chat);
    const current = currentDevices(acct, confirmed);
    if (own === undefined || !keyStillGood(own, holders, current)) {
      const next = own === undefined ? createSenderKey(acct.rng) : rotateSenderKey(acct.rng, own);
      if (own !== undefined) store.senderKeys.delete(chat, me, own.keyId, acct.deviceId);
      putOwn(acct, chat, next);
      // A member removed and added again gets our name again with the key.
      setHolders(store, chat, {
        ...(holders ?? {}),
        keyId: next.keyId,
        devices: [],
        profiled: (holders?.profiled ?? []).filter((d) => current.has(d)),
      });
    }
  });
  const has = (set: readonly string[] | undefined) => {
    const s = new Set(set ?? []);
    return (t: DeviceTarget) => s.has(targetKey(t));
  };

  if (accepted.by === me) {
    const h = getHolders(store, chat);
    const got = has(h?.state?.epoch === accepted.epoch ? h.state.devices : []);
    const lacking = targets.filter((t) => !got(t));
    if (lacking.length > 0)
      recordStateHolders(store, chat, accepted.epoch, await sendToDevices(acct, relay, chat, lacking, () => accepted));
  }

  const name = acct.displayName;
  if (name !== null) {
    // Our display name goes to each device of another account once, ahead of the first key it gets from us.
    const profiled = has(getHolders(store, chat)!.profiled);
    const unnamed = targets.filter((t) => t.user !== me && !profiled(t));
    if (unnamed.length > 0) {
      const sent = await sendToDevices(acct, relay, chat, unnamed, () => ({ v: 1, k: "profile", display_name: name }));
      store.transaction(() => {
        const h = getHolders(store, chat)!;
        setHolders(store, chat, { ...h, profiled: [...new Set([...h.profiled, ...sent.map(targetKey)])].sort() });
      });
    }
  }

  const held = has(getHolders(store, chat)!.devices);
  const lacking = targets.filter((t) => !held(t));
  if (lacking.length === 0) return warnings;
  let keyId: number | undefined;
  const sent = await sendToDevices(acct, relay, chat, lacking, () => {
    // Read inside the transaction that encrypts: the distribution at the chain's current iteration.
    const own = ownState(store, chat)!;
    keyId = own.keyId;
    return { v: 1, k: "sender_key", chat, epoch: accepted.epoch, distribution: distributionMessage(own) };
  });
  store.transaction(() => {
    const h = getHolders(store, chat)!;
    // Rotated meanwhile (another process): what went out was a key no longer ours.
    if (h.keyId !== keyId) return;
    setHolders(store, chat, { ...h, devices: [...new Set([...h.devices, ...sent.map(targetKey)])].sort() });
  });
  return warnings;
}

/**
 * True while only current devices of confirmed members (and our own current devices) hold our
 * current key `own`, and its chain is not spent. A device that left its account's list (§17.5),
 * like a member who left, makes it false: the key is rotated.
 */
function keyStillGood(own: SenderKeyOwnState, holders: Holders | undefined, current: ReadonlySet<string>): boolean {
  return (
    own.iteration < MAX_SENDER_ITERATION - 1 &&
    holders !== undefined &&
    holders.keyId === own.keyId &&
    holders.devices.every((d) => current.has(d))
  );
}

/**
 * True when our current sender key of `chat` may still be used as stored: no one holds it who
 * is not a current device of a member confirmed by the accepted state and the relay's list as
 * stored now. Checked inside the transaction that encrypts, because a state or a device list
 * accepted meanwhile (a listener in this process, or another process, while distributeOwnKey
 * waited on the network) may have removed a holder.
 */
export function ownKeyCurrent(acct: Account, chat: number): boolean {
  const { store } = acct;
  const own = ownState(store, chat);
  const accepted = acceptedState(store, chat);
  if (own === undefined || accepted === undefined) return false;
  const confirmed = reconcile(accepted, relayMembers(store, chat)).confirmed;
  return (
    confirmed.includes(acct.username) &&
    keyStillGood(
      own,
      getHolders(store, chat),
      currentDevices(
        acct,
        confirmed.filter((u) => u !== acct.username),
      ),
    )
  );
}

/**
 * Encrypts a text message under our current sender key of `chat` (padded app message) and
 * stores the advanced key. Call distributeOwnKey first, and this inside the transaction that
 * also stores the message, so the key and the message commit together.
 */
export function sealGroupText(
  acct: Account,
  chat: number,
  text: { seq: number; ts: number; body: string },
): Uint8Array {
  const own = ownState(acct.store, chat);
  if (!own) throw new UsageError(`no sender key for chat ${chat}`);
  const padded = pad(encodeAppMessage({ v: 1, k: "text", chat, ...text }));
  const out = senderEncrypt(own, groupContext(chat, acct.username), padded);
  wipe(padded, ...out.consumed);
  putOwn(acct, chat, out.state);
  return out.message;
}

/** True when `device` is in `user`'s accepted list (device 1 of an account without one). */
function listedDevice(acct: Account, user: string, device: number): boolean {
  try {
    listedIdentity(acct, user, device);
    return true;
  } catch (e) {
    if (e instanceof UnlistedDeviceError) return false;
    throw e;
  }
}

/**
 * Stores a received distribution as the receiver state of `from`'s device `device`
 * (SECURITY.md §17.5: per group, sender account and sender device), unless that key id is
 * already held; a device that is not in `from`'s accepted list (removed meanwhile) is ignored,
 * as is our own device. A key handed over part-way through its chain (iteration > 0) means its
 * earlier messages were not for us: we were added (back) meanwhile. Sequence numbers then count
 * again from each sender's next message (§15.3.1, unanchored), so the time we could not read is
 * no gap. Returns whether it was stored.
 */
export function takeSenderKey(
  acct: Account,
  chat: number,
  from: string,
  device: number,
  distribution: Uint8Array,
): boolean {
  const { store } = acct;
  if (from === acct.username && device === acct.deviceId) return false;
  if (!listedDevice(acct, from, device)) return false;
  const st = parseDistribution(distribution);
  if (store.senderKeys.get(chat, from, st.keyId, device)) return false;
  store.senderKeys.put({
    chatId: chat,
    sender: from,
    senderDevice: device,
    keyId: st.keyId,
    state: encodeSenderState(st),
    own: false,
  });
  if (st.iteration > 0) store.chats.setMemberSince(chat, store.messages.lastId(chat), false);
  return true;
}

/** Keeps `from`'s device `device`'s sender_key until a state covering its epoch is accepted (§15.4.4), the latest per device. */
export function putPendingKey(store: ClientStore, from: string, device: number, app: SenderKeyMessage): void {
  store.groupStates.putPending(app.chat, pendingSender(from, device), app.epoch, encodeAppMessage(app));
}

/** After a state was accepted: pending keys whose epoch is now covered are decided again. */
export function settlePending(acct: Account, state: GroupStateMessage): void {
  const { store } = acct;
  for (const p of store.groupStates.listPending(state.chat)) {
    const { user, device } = parsePendingSender(p.sender);
    const msg = decodeAppMessage(p.message);
    if (msg.k !== "sender_key") continue;
    const v = senderKeyVerdict(state, relayMembers(store, state.chat), state.chat, user, msg);
    if (v.verdict === "pending") continue;
    store.groupStates.deletePending(state.chat, p.sender);
    if (v.verdict === "accept") takeSenderKey(acct, state.chat, user, device, msg.distribution);
  }
}
