/**
 * Receiving in a group chat (SECURITY.md §7, §15.2–§15.4, §17.5 "Groups"), inside the
 * transaction of client/engine/inbox.ts storeIncoming.
 *
 * Two channels arrive in a group. A pairwise session message (group_state, sender_key, profile)
 * comes directed (`to`) from a client before §17, and undirected as a `send_copies` copy from a
 * §17 device (§17.8 delivers copies without `to`); a group message is undirected too. So an
 * undirected envelope is tried first as a sender-key message of (chat, sender, sending device =
 * `from_device`, key id) — only the sender's signature makes that succeed (§7.5) — and then,
 * unless it is one, as a pairwise copy (a PREKEY envelope, first byte 0x02, can only be one).
 * A pairwise copy carries the fan-out header, checked by group/fanout.ts.
 *
 * A group message is decrypted with the stored receiver state, unpadded, and the text stored in
 * the same transaction as the advanced receiver state. One from our own account's other device
 * is our own text, filed as sent (direction out, that device). A group message from a sender
 * whose key we do not have (or that does not verify) is stored as "undecryptable" and reported:
 * never retried later (simplest correct behaviour; the relay orders each chat, so a key sent
 * before a message always arrives before it).
 */
import { decodeIdentityPublic } from "../../../crypto/identity.js";
import { unpad } from "../../../crypto/padding.js";
import { wipe } from "../../../crypto/primitives.js";
import {
  type SenderKeyReceiverState,
  decodeSenderState,
  encodeSenderState,
  senderDecrypt,
} from "../../../crypto/sender-keys.js";
import { ENVELOPE_PREKEY } from "../../../crypto/session.js";
import type { RelayMessageOf } from "../../../src/wire/messages.js";
import {
  type AppMessage,
  type GroupStateMessage,
  type TextMessage,
  AppMessageError,
  appMessageErrorText,
  decodeAppMessage,
} from "../../protocol/app-message.js";
import { checkArrival } from "../../protocol/arrival.js";
import { splitPairwisePlaintext } from "../../protocol/fanout.js";
import { acceptGroupState, reconcile, senderKeyVerdict } from "../../protocol/group-state.js";
import type { SequenceVerdict } from "../../protocol/sequence.js";
import type { RelayClient } from "../../relay-client.js";
import { takeDisplayName } from "../display-names.js";
import type { EngineEvent, Received } from "../events.js";
import type { Account } from "../open-account.js";
import { sequenceVerdict } from "../sequence-check.js";
import { isDecryptFailure, listedIdentity, openPairwise } from "../sessions.js";
import { UnlistedDeviceError } from "../errors.js";
import { storeControlRow, storeReceivedText } from "../received-text.js";
import { recordDeparture } from "./departure.js";
import { type GroupCopyRefusal, checkGroupCopy } from "./fanout.js";
import { groupContext, putPendingKey, settlePending, takeSenderKey } from "./keys.js";
import { refreshList } from "./pairwise.js";
import { acceptedState, refreshMembers, relayMembers, storeAccepted } from "./records.js";

/** True for a frame of a group chat that needs the relay's member list before it is stored (prepareGroupFrame). */
export function groupFrameNeedsMembers(acct: Account, m: RelayMessageOf<"msg">): boolean {
  const chat = acct.store.chats.get(m.chat);
  if (!chat || chat.kind !== "group") return false;
  return m.to !== undefined || !acct.store.members.get(m.chat, m.from) || needsList(acct, m);
}

/**
 * A frame from a device of an account whose list we lack, or above the highest id we know of
 * it (a device added since): the list is read first, so that the device's session and keys can
 * be checked against it (§17.4). A removed device (at or below `highest`) does not re-read it.
 */
function needsList(acct: Account, m: RelayMessageOf<"msg">): boolean {
  const device = m.from_device ?? 1;
  if (device === 1) return false;
  const list = acct.store.deviceLists.get(m.from);
  return list === undefined || device > list.highestDeviceId;
}

/** Before storing a frame of a group chat: learn the relay's member list (and the sender's device list) when we may need them. */
export async function prepareGroupFrame(acct: Account, relay: RelayClient, m: RelayMessageOf<"msg">): Promise<void> {
  if (!groupFrameNeedsMembers(acct, m)) return;
  await refreshMembers(acct, relay, m.chat);
  if (needsList(acct, m)) await refreshList(acct, relay, m.from);
}

type Undecryptable = (reason: string) => Received;

/** The Ed25519 account signing key pinned (and not changed) for a user; ours is our account key (§17.1). */
function signingKeyOf(acct: Account, u: string): Uint8Array | undefined {
  if (u === acct.username) return acct.accountIdentity.signingKey;
  const c = acct.store.contacts.get(u);
  if (!c || c.keyChanged) return undefined;
  return decodeIdentityPublic(c.identity).signingKey;
}

/**
 * Decides on a received group state (SECURITY.md §15.4.2, bootstrap signers = the admins the
 * relay lists) and, when accepted, stores it, settles pending keys and reports a `group_state`
 * event. Returns why it was refused, in the words of §15.4.2, or undefined (accepted, a
 * duplicate, or a stale replay: ignored silently). Inside the caller's transaction.
 */
function takeGroupState(
  acct: Account,
  chat: number,
  app: GroupStateMessage,
  events: EngineEvent[],
): string | undefined {
  const { store } = acct;
  const prev = acceptedState(store, chat);
  const admins = store.members
    .list(chat)
    .filter((x) => x.role === "admin")
    .map((x) => x.username);
  const v = acceptGroupState(prev, app, { chat, signingKeyOf: (u) => signingKeyOf(acct, u), bootstrapSigners: admins });
  if (v.verdict === "accepted") {
    const gone = store.groupStates.getGone(chat);
    storeAccepted(store, v.state);
    settlePending(acct, v.state);
    const s = v.state;
    events.push({
      type: "group_state",
      chat,
      epoch: s.epoch,
      by: s.by,
      name: s.name,
      members: s.members,
      admins: s.admins,
      added: v.added,
      removed: v.removed,
      left: v.removed.filter((u) => gone.includes(u)),
      promoted: s.admins.filter((a) => !(prev?.admins ?? []).includes(a)),
      renamed: prev !== undefined && prev.name !== s.name,
      bootstrap: v.bootstrap,
    });
    const me = acct.username;
    const wasIn = prev?.members.includes(me) ?? false;
    if (!wasIn && s.members.includes(me)) {
      // Added (or added back): we read from here on; numbers count from each sender's next one (§15.3.1).
      store.chats.setDeparture(chat, null);
      store.chats.setMemberSince(chat, store.messages.lastId(chat), prev === undefined && s.epoch === 1);
    } else if (wasIn && !s.members.includes(me)) {
      // Signed by ourselves: our own leaving, as another of our processes signed it (leaveGroup).
      recordDeparture(acct, chat, s.by === me ? "left" : "removed", s.by === me ? null : s.by, events);
    }
    return undefined;
  }
  if (v.verdict === "duplicate" || v.reason === "stale_epoch") return undefined;
  if (v.reason === "conflict")
    return `two different memberships of this group were announced (epoch ${app.epoch}): ask your admins`;
  return `a membership change could not be verified (${v.reason.replace("_", " ")})`;
}

/** Stores (inside storeIncoming's transaction) a frame of a group chat (see the file comment). */
export function storeGroupIncoming(acct: Account, m: RelayMessageOf<"msg">, undecryptable: Undecryptable): Received {
  const device = m.from_device ?? 1;
  if (m.to !== undefined || m.envelope[0] === ENVELOPE_PREKEY) return storePairwise(acct, m, device, undecryptable);
  const group = storeSenderKeyMessage(acct, m, device, undecryptable);
  if (group.received !== undefined) return group.received;
  // Not a group message we can read: a pairwise copy, or what the sender-key path said.
  return storePairwise(acct, m, device, undecryptable, group.reason);
}

function appError(e: unknown, undecryptable: Undecryptable): Received {
  if (e instanceof AppMessageError) return undecryptable(appMessageErrorText(e));
  throw e;
}

/** The sentence for a refused fan-out header (§17.5). */
const COPY_REFUSED: Record<GroupCopyRefusal, string> = {
  bare_from_listed: "it came without the fan-out header every device of an account with a device list puts on it",
  wrong_sender_device: "its fan-out header names another sending device than the one it came from",
  misdirected: "it was not meant for this device (misdirected)",
};

/**
 * A pairwise envelope of a group chat from `m.from`'s device `device`: decrypted on that device's
 * session, its fan-out header checked (group/fanout.ts), then takeGroupPairwise. `failed`: the
 * reason to give when it does not decrypt (an undirected envelope that was not a readable group
 * message either).
 */
function storePairwise(
  acct: Account,
  m: RelayMessageOf<"msg">,
  device: number,
  undecryptable: Undecryptable,
  failed = "could not decrypt",
): Received {
  const events: EngineEvent[] = [];
  const withEvents = (r: Received): Received => ({ stored: true, events: [...events, ...r.events] });
  const dec = openPairwise(acct, m, events);
  if (!dec) return withEvents(undecryptable(failed));
  try {
    let app: AppMessage;
    try {
      const split = splitPairwisePlaintext(dec.plaintext);
      const refused = checkGroupCopy(acct, split, m.from, device);
      if (refused !== undefined) return withEvents(undecryptable(COPY_REFUSED[refused]));
      app = decodeAppMessage(split.app);
    } catch (e) {
      if (isDecryptFailure(e)) return withEvents(undecryptable("the message is malformed"));
      return withEvents(appError(e, undecryptable));
    }
    return takeGroupPairwise(acct, m, device, app, dec.keyChanged, events, undecryptable);
  } finally {
    wipe(dec.plaintext);
  }
}

/**
 * What a decrypted pairwise application message of a group chat does (§15.2.5, §15.4.4), from
 * `m.from`'s device `device` (the session's peer device), inside the caller's transaction:
 * group_state (§15.4.2), sender_key (kept as that device's receiver state, or pending), profile.
 * `events` holds what decrypting raised; they are returned with the outcome. Exported for
 * inbox.ts, should it decrypt and check the fan-out header itself.
 */
export function takeGroupPairwise(
  acct: Account,
  m: RelayMessageOf<"msg">,
  device: number,
  app: AppMessage,
  keyChanged: boolean,
  events: EngineEvent[],
  undecryptable: Undecryptable,
): Received {
  const { store } = acct;
  const withEvents = (r: Received): Received => ({ stored: true, events: [...events, ...r.events] });
  const arrival = checkArrival(app, { chat: m.chat, chatKind: "group", channel: "pairwise" });
  if (!arrival.ok) return withEvents(undecryptable("it arrived in a way its kind may not (misrouted)"));
  const control = (): Received => {
    storeControlRow(acct, m, device);
    return { stored: true, events };
  };
  switch (app.k) {
    case "group_state": {
      const refused = takeGroupState(acct, m.chat, app, events);
      return refused === undefined ? control() : withEvents(undecryptable(refused));
    }
    case "sender_key": {
      if (keyChanged)
        return withEvents(undecryptable("a group key from a contact whose identity key changed was not taken"));
      const v = senderKeyVerdict(acceptedState(store, m.chat), relayMembers(store, m.chat), m.chat, m.from, app);
      if (v.verdict === "accept") takeSenderKey(acct, m.chat, m.from, device, app.distribution);
      else if (v.verdict === "pending") putPendingKey(store, m.from, device, app);
      else return withEvents(undecryptable(`a group key from ${m.from} was refused (${v.reason.replace("_", " ")})`));
      return control();
    }
    case "profile": {
      // Our own name is ours to set (account state, §17.6.1), not a device's to tell us.
      if (m.from !== acct.username) takeDisplayName(acct, m.from, app, keyChanged, events);
      return control();
    }
    default:
      return withEvents(undecryptable("it arrived in a way its kind may not (misrouted)"));
  }
}

/**
 * An undirected envelope as a group message of `m.from`'s device `device`: `received` when it
 * is one (decrypted, or refused after its signature verified), else the reason it is not (no
 * key, not a confirmed member, does not verify): then it may still be a pairwise copy.
 */
function storeSenderKeyMessage(
  acct: Account,
  m: RelayMessageOf<"msg">,
  device: number,
  undecryptable: Undecryptable,
): { received: Received; reason?: undefined } | { received?: undefined; reason: string } {
  const { store } = acct;
  const accepted = acceptedState(store, m.chat);
  if (!reconcile(accepted, relayMembers(store, m.chat)).confirmed.includes(m.from))
    return { reason: `${m.from} is not a member announced by an admin's signed membership` };
  // Only a device the sender account's accepted list holds may write (§17.4, §17.7): a removed
  // device's old chain would still decrypt, so its keys being gone is not relied on alone.
  try {
    listedIdentity(acct, m.from, device);
  } catch (e) {
    if (e instanceof UnlistedDeviceError) return { reason: e.message };
    throw e;
  }
  if (m.envelope.length < 9) return { reason: "could not decrypt" };
  const keyId = new DataView(m.envelope.buffer, m.envelope.byteOffset + 1, 4).getUint32(0, false);
  const rec = store.senderKeys.get(m.chat, m.from, keyId, device);
  if (!rec || rec.own) {
    const who = device === 1 ? m.from : `${m.from} (device ${device})`;
    return {
      reason: `no group key from ${who} for this message (sent before you were added, or after you were removed)`,
    };
  }
  const st = decodeSenderState(rec.state);
  if (st.kind !== "receiver") return { reason: "could not decrypt" };
  let out: { state: SenderKeyReceiverState; plaintext: Uint8Array };
  let app: AppMessage;
  try {
    out = senderDecrypt(st, groupContext(m.chat, m.from), m.envelope);
  } catch (e) {
    if (isDecryptFailure(e)) return { reason: "could not decrypt" };
    throw e;
  }
  try {
    try {
      app = decodeAppMessage(unpad(out.plaintext));
    } catch (e) {
      if (e instanceof AppMessageError) return { received: appError(e, undecryptable) };
      if (isDecryptFailure(e)) return { received: undecryptable("the message is malformed") };
      throw e;
    }
  } finally {
    wipe(out.plaintext);
  }
  // The advanced receiver state and what it decrypted are stored together (this transaction).
  store.senderKeys.put({
    chatId: m.chat,
    sender: m.from,
    senderDevice: device,
    keyId,
    state: encodeSenderState(out.state),
    own: false,
  });
  const arrival = checkArrival(app, { chat: m.chat, chatKind: "group", channel: "group" });
  if (!arrival.ok) return { received: undecryptable("it arrived in a way its kind may not (misrouted)") };
  const events: EngineEvent[] = [];
  if (app.k === "text") {
    storeGroupText(acct, m, device, app, events);
    return { received: { stored: true, events } };
  }
  if (app.k === "group_state") {
    const refused = takeGroupState(acct, m.chat, app, events);
    if (refused !== undefined)
      return { received: { stored: true, events: [...events, ...undecryptable(refused).events] } };
  } else if (app.k === "profile" && m.from !== acct.username) takeDisplayName(acct, m.from, app, false, events);
  storeControlRow(acct, m, device);
  return { received: { stored: true, events } };
}

/**
 * A group text from `m.from`'s device `device`, with its sequence verdict per (chat, sender,
 * device) (§17.5). A sender device's first message we see in a group since we (last) became a
 * member is taken as it comes (unanchored, §15.3.1): we were never meant to see the earlier
 * ones. In a group whose first state listed us, numbers count from 1 (anchored). Our own text
 * from another of our devices is filed as ours (direction out, sent, that device).
 */
function storeGroupText(
  acct: Account,
  m: RelayMessageOf<"msg">,
  device: number,
  app: TextMessage,
  events: EngineEvent[],
): void {
  const { store } = acct;
  const c = store.chats.get(m.chat);
  const since = c?.memberSince ?? 0;
  const verdict: SequenceVerdict =
    !(c?.seqFromOne ?? false) && store.messages.lastSenderSeq(m.chat, m.from, since, device) === null
      ? { kind: "ok" }
      : sequenceVerdict(store, m.chat, m.from, app.seq, since, device);
  storeReceivedText(acct, m, app, verdict, false, m.from === acct.username, events);
}
