/**
 * Our sender key in each group and the keys we hold from others (SECURITY.md §7.4–§7.6).
 *
 * Before each send, the client makes sure every *confirmed* member (in the accepted signed
 * state AND listed by the relay, §15.4.3) holds its current sender key, sending the
 * distribution (at the chain's current iteration) pairwise. Whenever someone who holds the
 * current key is no longer confirmed (removed, left, or gone at the relay), the key is rotated
 * (§7.6) before sending, and the new key goes to confirmed members only. A member the relay
 * lists without a signed announcement (unannounced) gets no key; the sender is warned.
 *
 * Storage: key holders and pending keys are in store.groupStates, the keys in store.senderKeys.
 * The sender-key context's group id is the chat id as ASCII decimal (utf8(String(chat))).
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
import { type GroupStateMessage, decodeAppMessage, encodeAppMessage } from "../../protocol/app-message.js";
import { reconcile, senderKeyVerdict } from "../../protocol/group-state.js";
import type { RelayClient } from "../../relay-client.js";
import type { ClientStore } from "../../store/index.js";
import { NotGroupMemberError } from "../errors.js";
import type { Account } from "../open-account.js";
import { queuePairwise, reachable } from "./pairwise.js";
import { acceptedState, relayMembers } from "./records.js";

/** The sender-key context of a group message (SECURITY.md §7.4): group id = ASCII decimal chat id. */
export function groupContext(chat: number, sender: string): SenderKeyContext {
  return { groupId: utf8(String(chat)), senderId: sender };
}

/** Who holds our current sender key in a chat, and who has had our display name in it. */
interface Holders {
  readonly keyId: number;
  readonly users: readonly string[];
  /** Members our `profile` went to with a key (kept across rotations: a name is sent once). */
  readonly profiled?: readonly string[];
}

function getHolders(store: ClientStore, chat: number): Holders | undefined {
  const json = store.groupStates.getHolders(chat);
  return json === undefined ? undefined : (JSON.parse(json) as Holders);
}

function setHolders(store: ClientStore, chat: number, h: Holders): void {
  store.groupStates.setHolders(chat, JSON.stringify(h));
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
    keyId: s.keyId,
    state: encodeSenderState(s),
    own: true,
  });
}

/**
 * Makes sure every confirmed member holds our current sender key (see the file comment):
 * creates it if there is none, rotates it when a holder is no longer confirmed or the chain is
 * spent, and queues the distribution to those who lack it. Returns warnings (unannounced members).
 */
export async function distributeOwnKey(acct: Account, relay: RelayClient, chat: number): Promise<string[]> {
  const { store } = acct;
  const warnings: string[] = [];
  const accepted = acceptedState(store, chat);
  if (!accepted)
    throw new UsageError(`no admin-signed membership of chat ${chat} has been received yet: nothing can be sent in it`);
  if (!accepted.members.includes(acct.username))
    throw new NotGroupMemberError(`you are not a member of chat ${chat} (its signed membership does not list you)`);
  const rec = reconcile(accepted, relayMembers(store, chat));
  for (const u of rec.unannounced)
    warnings.push(`the relay added ${u} without an admin's signed announcement; ${u} cannot read your messages`);
  const confirmed = rec.confirmed.filter((u) => u !== acct.username);
  store.transaction(() => {
    const own = ownState(store, chat);
    const holders = getHolders(store, chat);
    if (own === undefined || !keyStillGood(own, holders, confirmed)) {
      const next = own === undefined ? createSenderKey(acct.rng) : rotateSenderKey(acct.rng, own);
      if (own !== undefined) store.senderKeys.delete(chat, acct.username, own.keyId);
      putOwn(acct, chat, next);
      // A member removed and added again gets our name again with the key.
      setHolders(store, chat, {
        keyId: next.keyId,
        users: [],
        profiled: (holders?.profiled ?? []).filter((u) => confirmed.includes(u)),
      });
    }
  });
  const holders = getHolders(store, chat)!;
  const lacking = confirmed.filter((u) => !holders.users.includes(u));
  if (lacking.length === 0) return warnings;
  const to = await reachable(acct, relay, lacking, warnings);
  store.transaction(() => {
    const own = ownState(store, chat)!;
    const h = getHolders(store, chat)!;
    const distribution = distributionMessage(own);
    const profiled = new Set(h.profiled ?? []);
    for (const p of to) {
      // Our display name goes to each member once, ahead of the first key they get from us.
      if (acct.displayName !== null && !profiled.has(p)) {
        queuePairwise(acct, chat, p, { v: 1, k: "profile", display_name: acct.displayName });
        profiled.add(p);
      }
      queuePairwise(acct, chat, p, { v: 1, k: "sender_key", chat, epoch: accepted.epoch, distribution });
    }
    setHolders(store, chat, {
      keyId: own.keyId,
      users: [...new Set([...h.users, ...to])].sort(),
      profiled: [...profiled].sort(),
    });
  });
  return warnings;
}

/** True while only confirmed members hold our current key `own` and its chain is not spent. */
function keyStillGood(own: SenderKeyOwnState, holders: Holders | undefined, confirmed: readonly string[]): boolean {
  return (
    own.iteration < MAX_SENDER_ITERATION - 1 &&
    holders !== undefined &&
    holders.keyId === own.keyId &&
    holders.users.every((u) => confirmed.includes(u))
  );
}

/**
 * True when our current sender key of `chat` may still be used as stored: no one holds it who
 * is not confirmed by the accepted state and the relay's list as stored now. Checked inside the
 * transaction that encrypts, because a state accepted meanwhile (a listener in this process, or
 * another process, while distributeOwnKey waited on the network) may have removed a holder.
 */
export function ownKeyCurrent(acct: Account, chat: number): boolean {
  const { store } = acct;
  const own = ownState(store, chat);
  const accepted = acceptedState(store, chat);
  if (own === undefined || accepted === undefined) return false;
  const confirmed = reconcile(accepted, relayMembers(store, chat)).confirmed;
  return confirmed.includes(acct.username) && keyStillGood(own, getHolders(store, chat), confirmed);
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

/**
 * Stores a received distribution as `from`'s receiver state, unless that key id is already held.
 * A key handed over part-way through its chain (iteration > 0) means its earlier messages were
 * not for us: we were added (back) meanwhile. Sequence numbers then count again from each
 * sender's next message (§15.3.1, unanchored), so the time we could not read is no gap.
 */
export function takeSenderKey(store: ClientStore, chat: number, from: string, distribution: Uint8Array): void {
  const st = parseDistribution(distribution);
  if (!store.senderKeys.get(chat, from, st.keyId)) {
    store.senderKeys.put({ chatId: chat, sender: from, keyId: st.keyId, state: encodeSenderState(st), own: false });
    if (st.iteration > 0) store.chats.setMemberSince(chat, store.messages.lastId(chat), false);
  }
}

/** After a state was accepted: pending keys whose epoch is now covered are decided again. */
export function settlePending(store: ClientStore, state: GroupStateMessage): void {
  for (const p of store.groupStates.listPending(state.chat)) {
    const from = p.sender;
    const msg = decodeAppMessage(p.message);
    if (msg.k !== "sender_key") continue;
    const v = senderKeyVerdict(state, relayMembers(store, state.chat), state.chat, from, msg);
    if (v.verdict === "pending") continue;
    store.groupStates.deletePending(state.chat, from);
    if (v.verdict === "accept") takeSenderKey(store, state.chat, from, msg.distribution);
  }
}
