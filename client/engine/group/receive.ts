/**
 * Receiving in a group chat (SECURITY.md §7, §15.2–§15.4), inside the transaction of
 * client/engine/inbox.ts storeIncoming.
 *
 * A directed envelope is a pairwise session message (group_state, sender_key, profile); an
 * undirected one is a sender-key message: decrypted with the stored receiver state of (chat,
 * sender, key id), unpadded, and the text stored in the same transaction as the advanced
 * receiver state. A group message from a sender whose key we do not have (or that does not
 * verify) is stored as "undecryptable" and reported: never retried later (simplest correct
 * behaviour; the relay orders each chat, so a key sent before a message always arrives before
 * it).
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
import type { RelayMessageOf } from "../../../src/wire/messages.js";
import {
  type AppMessage,
  type GroupStateMessage,
  AppMessageError,
  appMessageErrorText,
  decodeAppMessage,
  encodeAppMessage,
} from "../../protocol/app-message.js";
import { checkArrival } from "../../protocol/arrival.js";
import { acceptGroupState, reconcile, senderKeyVerdict } from "../../protocol/group-state.js";
import type { RelayClient } from "../../relay-client.js";
import { takeDisplayName } from "../display-names.js";
import type { EngineEvent, Received } from "../events.js";
import type { Account } from "../open-account.js";
import { sequenceVerdict } from "../sequence-check.js";
import { isDecryptFailure, openPairwise } from "../sessions.js";
import { storeIncomingText } from "../text-rows.js";
import { recordDeparture } from "./departure.js";
import { groupContext, settlePending, takeSenderKey } from "./keys.js";
import { acceptedState, refreshMembers, relayMembers, storeAccepted } from "./records.js";

/** True for a frame of a group chat that needs the relay's member list before it is stored (prepareGroupFrame). */
export function groupFrameNeedsMembers(acct: Account, m: RelayMessageOf<"msg">): boolean {
  const chat = acct.store.chats.get(m.chat);
  if (!chat || chat.kind !== "group") return false;
  return m.to !== undefined || !acct.store.members.get(m.chat, m.from);
}

/** Before storing a frame of a group chat: learn the relay's member list when we may need it. */
export async function prepareGroupFrame(acct: Account, relay: RelayClient, m: RelayMessageOf<"msg">): Promise<void> {
  if (groupFrameNeedsMembers(acct, m)) await refreshMembers(acct, relay, m.chat);
}

type Undecryptable = (reason: string) => Received;

/** The Ed25519 identity signing key pinned (and not changed) for a user. */
function signingKeyOf(acct: Account, u: string): Uint8Array | undefined {
  if (u === acct.username) return acct.identity.publicKey.signingKey;
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
    settlePending(store, v.state);
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

/** Stores (inside storeIncoming's transaction) a frame of a group chat. */
export function storeGroupIncoming(acct: Account, m: RelayMessageOf<"msg">, undecryptable: Undecryptable): Received {
  return m.to !== undefined ? storePairwise(acct, m, undecryptable) : storeSenderKeyMessage(acct, m, undecryptable);
}

function appError(e: unknown, undecryptable: Undecryptable): Received {
  if (e instanceof AppMessageError) return undecryptable(appMessageErrorText(e));
  throw e;
}

function storePairwise(acct: Account, m: RelayMessageOf<"msg">, undecryptable: Undecryptable): Received {
  const { store } = acct;
  const events: EngineEvent[] = [];
  const dec = openPairwise(acct, m, events);
  if (!dec) return undecryptable("could not decrypt");
  const withEvents = (r: Received): Received => ({ stored: true, events: [...events, ...r.events] });
  try {
    let app: AppMessage;
    try {
      app = decodeAppMessage(dec.plaintext);
    } catch (e) {
      return withEvents(appError(e, undecryptable));
    }
    const arrival = checkArrival(app, { chat: m.chat, chatKind: "group", channel: "pairwise" });
    if (!arrival.ok) return withEvents(undecryptable("it arrived in a way its kind may not (misrouted)"));
    const control = () => {
      store.messages.insert({
        chatId: m.chat,
        relayMsgId: m.msg,
        sender: m.from,
        sentAt: m.ts,
        body: null,
        direction: "in",
        status: "delivered",
      });
      return { stored: true, events };
    };
    switch (app.k) {
      case "group_state": {
        const refused = takeGroupState(acct, m.chat, app, events);
        return refused === undefined ? control() : withEvents(undecryptable(refused));
      }
      case "sender_key": {
        if (dec.keyChanged)
          return withEvents(undecryptable("a group key from a contact whose identity key changed was not taken"));
        const v = senderKeyVerdict(acceptedState(store, m.chat), relayMembers(store, m.chat), m.chat, m.from, app);
        if (v.verdict === "accept") takeSenderKey(store, m.chat, m.from, app.distribution);
        else if (v.verdict === "pending") {
          store.groupStates.putPending(m.chat, m.from, app.epoch, encodeAppMessage(app));
        } else
          return withEvents(undecryptable(`a group key from ${m.from} was refused (${v.reason.replace("_", " ")})`));
        return control();
      }
      case "profile": {
        takeDisplayName(acct, m.from, app, dec.keyChanged, events);
        return control();
      }
      default:
        return withEvents(undecryptable("it arrived in a way its kind may not (misrouted)"));
    }
  } finally {
    wipe(dec.plaintext);
  }
}

function storeSenderKeyMessage(acct: Account, m: RelayMessageOf<"msg">, undecryptable: Undecryptable): Received {
  const { store } = acct;
  const accepted = acceptedState(store, m.chat);
  if (!reconcile(accepted, relayMembers(store, m.chat)).confirmed.includes(m.from)) {
    return undecryptable(`${m.from} is not a member announced by an admin's signed membership`);
  }
  if (m.envelope.length < 9) return undecryptable("could not decrypt");
  const keyId = new DataView(m.envelope.buffer, m.envelope.byteOffset + 1, 4).getUint32(0, false);
  const rec = store.senderKeys.get(m.chat, m.from, keyId);
  if (!rec)
    return undecryptable(
      `no group key from ${m.from} for this message (sent before you were added, or after you were removed)`,
    );
  const st = decodeSenderState(rec.state);
  if (st.kind !== "receiver") return undecryptable("could not decrypt");
  let out: { state: SenderKeyReceiverState; plaintext: Uint8Array };
  let app: AppMessage;
  try {
    out = senderDecrypt(st, groupContext(m.chat, m.from), m.envelope);
  } catch (e) {
    if (isDecryptFailure(e)) return undecryptable("could not decrypt");
    throw e;
  }
  try {
    try {
      app = decodeAppMessage(unpad(out.plaintext));
    } catch (e) {
      if (e instanceof AppMessageError) return appError(e, undecryptable);
      if (isDecryptFailure(e)) return undecryptable("the message is malformed");
      throw e;
    }
  } finally {
    wipe(out.plaintext);
  }
  // The advanced receiver state and what it decrypted are stored together (this transaction).
  store.senderKeys.put({ chatId: m.chat, sender: m.from, keyId, state: encodeSenderState(out.state), own: false });
  const arrival = checkArrival(app, { chat: m.chat, chatKind: "group", channel: "group" });
  if (!arrival.ok) return undecryptable("it arrived in a way its kind may not (misrouted)");
  const events: EngineEvent[] = [];
  if (app.k === "text") {
    // A sender's first message we see in a group since we (last) became a member is taken as it
    // comes (unanchored, §15.3.1): we were never meant to see the earlier ones. In a group whose
    // first state listed us, numbers count from 1 (anchored).
    const c = store.chats.get(m.chat);
    const since = c?.memberSince ?? 0;
    const verdict: ReturnType<typeof sequenceVerdict> =
      !(c?.seqFromOne ?? false) && store.messages.lastSenderSeq(m.chat, m.from, since) === null
        ? { kind: "ok" }
        : sequenceVerdict(store, m.chat, m.from, app.seq, since);
    storeIncomingText(acct, m, app, verdict, false, events);
    return { stored: true, events };
  }
  if (app.k === "group_state") {
    const refused = takeGroupState(acct, m.chat, app, events);
    if (refused !== undefined) return { stored: true, events: [...events, ...undecryptable(refused).events] };
  } else if (app.k === "profile") takeDisplayName(acct, m.from, app, false, events);
  store.messages.insert({
    chatId: m.chat,
    relayMsgId: m.msg,
    sender: m.from,
    sentAt: m.ts,
    body: null,
    direction: "in",
    status: "delivered",
  });
  return { stored: true, events };
}
