/**
 * Group chats (docs/ARCHITECTURE.md §3.3; SECURITY.md §7, §15.2–§15.4): create, add, remove, leave,
 * members, send and receive.
 *
 * - Membership: an admin signs every change as a full snapshot (group_state, §15.4) and sends
 *   it pairwise — a 1:1 session envelope posted in the GROUP chat, directed (`to`) at each
 *   member of the new state and at the removed ones (§15.2.5: group_state and sender_key must
 *   arrive in the group chat, sender_key over the pairwise channel).
 * - Sender keys: before each send, the client makes sure every *confirmed* member (in the
 *   accepted signed state AND listed by the relay, §15.4.3) holds its current sender key,
 *   sending the distribution (at the chain's current iteration) pairwise. Whenever someone who
 *   holds the current key is no longer confirmed (removed, left, or gone at the relay), the key
 *   is rotated (§7.6) before sending, and the new key goes to confirmed members only. A member
 *   the relay lists without a signed announcement (unannounced) gets no key; the sender is warned.
 * - Receiving: a directed envelope is a pairwise session message (group_state, sender_key,
 *   profile); an undirected one is a sender-key message: decrypted with the stored receiver
 *   state of (chat, sender, key id), unpadded, and the text stored in the same transaction as
 *   the advanced receiver state. A group message from a sender whose key we do not have (or
 *   that does not verify) is stored as "undecryptable" and reported: never retried later
 *   (simplest correct behaviour; the relay orders each chat, so a key sent before a message
 *   always arrives before it).
 *
 * Storage: accepted state, key holders and pending sender keys are in store.groupStates (group-states.ts).
 * The sender-key context's group id is the chat id as ASCII decimal (utf8(String(chat))).
 */
import { utf8 } from "../../crypto/bytes.js";
import { decodeIdentityPublic } from "../../crypto/identity.js";
import { pad, unpad } from "../../crypto/padding.js";
import { wipe } from "../../crypto/primitives.js";
import {
  type SenderKeyContext,
  type SenderKeyOwnState,
  type SenderKeyReceiverState,
  MAX_SENDER_ITERATION,
  createSenderKey,
  decodeSenderState,
  distributionMessage,
  encodeSenderState,
  parseDistribution,
  rotateSenderKey,
  senderDecrypt,
  senderEncrypt,
} from "../../crypto/sender-keys.js";
import { RemoteError, SmsgError, UsageError } from "../../src/errors.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import { normalizeUsername } from "../../src/wire/username.js";
import {
  type AppMessage,
  type GroupStateMessage,
  AppMessageError,
  appMessageErrorText,
  decodeAppMessage,
  encodeAppMessage,
} from "../protocol/app-message.js";
import { checkArrival } from "../protocol/arrival.js";
import { acceptGroupState, reconcile, senderKeyVerdict, signGroupState } from "../protocol/group-state.js";
import { nextSeq } from "../protocol/sequence.js";
import type { RelayClient } from "../relay-client.js";
import { type ChatRecord, type ClientStore, ChatNotFoundError, IDEM_BYTES } from "../store/index.js";
import { KeyChangedError, NotAMemberError, NotChatAdminError } from "./errors.js";
import { takeDisplayName } from "./display-names.js";
import type { EngineEvent } from "./events.js";
import type { Received } from "./inbox.js";
import type { Account } from "./open-account.js";
import { type QueuedMessage, flushOutbox } from "./outbox.js";
import { sequenceVerdict } from "./sequence-check.js";
import { storeIncomingText, storeOutgoingText } from "./text-rows.js";
import { checkIdentity, ensureSession, isDecryptFailure, encryptForPeer, openPairwise } from "./sessions.js";
import type { SendResult } from "./send.js";

// ---------------------------------------------------------------------------------------------
// Local group records (store.groupStates)

/** The sender-key context of a group message (SECURITY.md §7.4): group id = ASCII decimal chat id. */
export function groupContext(chat: number, sender: string): SenderKeyContext {
  return { groupId: utf8(String(chat)), senderId: sender };
}

/** The accepted signed group state of a chat, or undefined. */
export function acceptedState(store: ClientStore, chat: number): GroupStateMessage | undefined {
  const encoded = store.groupStates.getState(chat);
  if (!encoded) return undefined;
  const app = decodeAppMessage(encoded);
  return app.k === "group_state" ? app : undefined;
}

/** Stores `state` as accepted, sets the chat's name and the members' announced flags. In a transaction. */
function storeAccepted(store: ClientStore, state: GroupStateMessage): void {
  store.transaction(() => {
    store.groupStates.putState(state.chat, encodeAppMessage(state));
    if (state.name.trim() !== "") store.chats.setName(state.chat, state.name);
    for (const m of store.members.list(state.chat))
      store.members.setAnnounced(state.chat, m.username, state.members.includes(m.username));
  });
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

/** The relay's member list of a chat as last stored. */
function relayMembers(store: ClientStore, chat: number): string[] {
  return store.members.list(chat).map((m) => m.username);
}

/** Reads the chat's members from the relay (list_members) and stores them with their announced flags. */
export async function refreshMembers(acct: Account, relay: RelayClient, chat: number): Promise<void> {
  let r;
  try {
    r = await relay.request<"list_members">({ t: "list_members", chat });
  } catch (e) {
    if (e instanceof RemoteError && (e.code === "CHAT_UNKNOWN" || e.code === "NOT_A_MEMBER")) {
      acct.store.members.set(chat, []);
      return;
    }
    throw e;
  }
  const accepted = acceptedState(acct.store, chat);
  acct.store.members.set(
    chat,
    r.members.map((m) => ({
      username: m.username,
      role: m.role,
      announced: accepted?.members.includes(m.username) ?? false,
    })),
  );
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

// ---------------------------------------------------------------------------------------------
// Sending

/** Queues a pairwise (1:1 session) application message in the group chat, directed at `peer`. Inside a transaction. */
function queuePairwise(acct: Account, chat: number, peer: string, app: AppMessage): void {
  const { store } = acct;
  const envelope = encryptForPeer(acct, peer, encodeAppMessage(app));
  const { id } = store.messages.insert({
    chatId: chat,
    relayMsgId: null,
    sender: acct.username,
    sentAt: acct.now(),
    body: null,
    direction: "out",
    status: "pending",
    senderSeq: null,
  });
  store.outbox.add({ idem: acct.rng(IDEM_BYTES), chatId: chat, messageId: id, envelope, to: peer });
}

/**
 * Makes sure a session exists with each peer; returns those we can send to, with a warning for
 * each other one. A peer we cannot reach (key changed, unknown to the relay, a bundle that
 * does not verify, the relay refusing the request) is skipped, so one member cannot stop the
 * group; it is not recorded as a holder, so the next send tries again. A lost connection is
 * thrown.
 */
async function reachable(
  acct: Account,
  relay: RelayClient,
  peers: readonly string[],
  warnings: string[],
): Promise<string[]> {
  const ok: string[] = [];
  for (const p of peers) {
    try {
      await checkIdentity(acct, relay, p);
      await ensureSession(acct, relay, p);
      ok.push(p);
    } catch (e) {
      if (e instanceof KeyChangedError)
        warnings.push(`${p}'s identity key changed: they get nothing from this group until you verify it`);
      else if (e instanceof SmsgError && !relay.isClosed)
        warnings.push(`${p} cannot be given this group's messages now (${e.message}); a later send tries again`);
      else throw e;
    }
  }
  return ok;
}

/** Sends a signed state to `peers` (pairwise, in the group chat). */
async function announce(
  acct: Account,
  relay: RelayClient,
  state: GroupStateMessage,
  peers: readonly string[],
  warnings: string[],
): Promise<void> {
  const to = await reachable(
    acct,
    relay,
    peers.filter((p) => p !== acct.username),
    warnings,
  );
  acct.store.transaction(() => {
    for (const p of to) queuePairwise(acct, state.chat, p, state);
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
    throw new UsageError(`you are not a member of chat ${chat} (its signed membership does not list you)`);
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

/** What the group operations return besides their result. */
export interface GroupResult {
  readonly chat: ChatRecord;
  readonly state: GroupStateMessage;
  readonly warnings: readonly string[];
}

async function flushOrThrow(acct: Account, relay: RelayClient): Promise<void> {
  const f = await flushOutbox(acct, relay);
  const bad = f.failed[0];
  if (bad) throw new SmsgError(bad.code, `the relay refused a group message: ${bad.reason}`);
}

/**
 * `chat create NAME --members a,b`: create_group at the relay, sign state epoch 1 (us the only
 * admin), send it to every member, then our sender key. Throws UsageError for a bad name or list.
 */
export async function createGroup(
  acct: Account,
  relay: RelayClient,
  name: string,
  memberArgs: readonly string[],
): Promise<GroupResult> {
  if (name.trim() === "") throw new UsageError("a group needs a name");
  const others = [...new Set(memberArgs.map((m) => normalizeUsername(m.trim())))].filter((m) => m !== acct.username);
  const reply = await relay.request<"create_group">({ t: "create_group", members: others });
  const info = reply.chat;
  const state = signGroupState(acct.identity, {
    chat: info.id,
    epoch: 1,
    name,
    members: [acct.username, ...others],
    admins: [acct.username],
    by: acct.username,
    ts: acct.now(),
  });
  const chat = acct.store.transaction(() => {
    const c = acct.store.chats.upsert({ id: info.id, kind: "group", peer: null, closed: info.closed, myRole: "admin" });
    acct.store.members.set(
      info.id,
      info.members.map((m) => ({ username: m.username, role: m.role })),
    );
    storeAccepted(acct.store, state);
    return c;
  });
  const warnings: string[] = [];
  await announce(acct, relay, state, state.members, warnings);
  warnings.push(...(await distributeOwnKey(acct, relay, info.id)));
  await flushOrThrow(acct, relay);
  return { chat: acct.store.chats.get(chat.id)!, state, warnings };
}

/** Our accepted state of a group we administer; else UsageError (not a group, no state yet) or NotChatAdminError. */
function adminState(acct: Account, chat: ChatRecord): GroupStateMessage {
  if (chat.kind !== "group") throw new UsageError(`chat ${chat.id} is not a group`);
  const s = acceptedState(acct.store, chat.id);
  if (!s) throw new UsageError(`no admin-signed membership of chat ${chat.id} has been received yet`);
  if (!s.admins.includes(acct.username)) throw new NotChatAdminError(chat.id);
  return s;
}

/** Signs and stores the next state, and announces it to `recipients`. Admins: those of `prev` still members, unless given. */
async function nextState(
  acct: Account,
  relay: RelayClient,
  prev: GroupStateMessage,
  members: readonly string[],
  recipients: readonly string[],
  admins: readonly string[] = prev.admins.filter((a) => members.includes(a)),
): Promise<{ state: GroupStateMessage; warnings: string[] }> {
  const state = signGroupState(acct.identity, {
    chat: prev.chat,
    epoch: prev.epoch + 1,
    name: prev.name,
    members: [...members],
    admins: [...admins],
    by: acct.username,
    ts: acct.now(),
  });
  // Sessions first (network), then the state and its envelopes in one transaction: a state we
  // accepted is never left without the envelopes that tell the others.
  const warnings: string[] = [];
  const to = await reachable(
    acct,
    relay,
    recipients.filter((p) => p !== acct.username),
    warnings,
  );
  acct.store.transaction(() => {
    storeAccepted(acct.store, state);
    for (const p of to) queuePairwise(acct, state.chat, p, state);
  });
  return { state, warnings };
}

/** `chat add CHAT USER` (admins): add_member at the relay, then a signed state (epoch + 1) to every member; the new member gets our current key. */
export async function addMember(
  acct: Account,
  relay: RelayClient,
  chat: ChatRecord,
  userArg: string,
): Promise<GroupResult> {
  const user = normalizeUsername(userArg);
  const prev = adminState(acct, chat);
  if (prev.members.includes(user)) throw new UsageError(`${user} is already a member of chat ${chat.id}`);
  await relay.request<"add_member">({ t: "add_member", chat: chat.id, username: user });
  await refreshMembers(acct, relay, chat.id);
  const members = [...prev.members, user];
  const { state, warnings } = await nextState(acct, relay, prev, members, members);
  warnings.push(...(await distributeOwnKey(acct, relay, chat.id)));
  await flushOrThrow(acct, relay);
  return { chat, state, warnings };
}

/** `chat remove CHAT USER` (admins): remove_member at the relay, a signed state (epoch + 1) to the rest and to USER; our key is rotated. */
export async function removeMember(
  acct: Account,
  relay: RelayClient,
  chat: ChatRecord,
  userArg: string,
): Promise<GroupResult> {
  const user = normalizeUsername(userArg);
  const prev = adminState(acct, chat);
  if (user === acct.username) throw new UsageError("to leave a group use smsg chat leave");
  if (!prev.members.includes(user)) throw new NotAMemberError(user, chat.id);
  const members = prev.members.filter((m) => m !== user);
  // Announce first (the removed member gets the state while still in the chat), then remove at
  // the relay. Only to those still in the chat there: the relay refuses envelopes for anyone else.
  await refreshMembers(acct, relay, chat.id);
  const listed = relayMembers(acct.store, chat.id);
  const { state, warnings } = await nextState(
    acct,
    relay,
    prev,
    members,
    prev.members.filter((m) => listed.includes(m)),
  );
  await flushOrThrow(acct, relay);
  try {
    await relay.request<"remove_member">({ t: "remove_member", chat: chat.id, username: user });
  } catch (e) {
    // Already gone at the relay (it left): the signed state catches up with it, which is the point.
    if (!(e instanceof RemoteError && e.code === "NOT_A_MEMBER")) throw e;
  }
  await refreshMembers(acct, relay, chat.id);
  warnings.push(...(await distributeOwnKey(acct, relay, chat.id))); // rotates: user held our key
  await flushOrThrow(acct, relay);
  return { chat, state, warnings };
}

/** What leaveGroup did besides leaving. */
export interface LeaveResult {
  /** The member our signed leaving state named admin because no other admin stays, if any. */
  readonly heir: string | undefined;
  readonly warnings: readonly string[];
}

/**
 * `chat leave CHAT`: an admin first signs the state without itself and sends it to the others
 * (SECURITY.md §15.4.2 "An admin leaving": when no other admin stays, it names the member the
 * relay will have as admin); then leave_chat at the relay; our sender keys for the chat are
 * deleted (history is kept).
 */
export async function leaveGroup(acct: Account, relay: RelayClient, chat: ChatRecord): Promise<LeaveResult> {
  // The relay would take a leave of a direct chat too, and the chat would be gone for good.
  if (chat.kind !== "group")
    throw new UsageError(
      `chat ${chat.id} is a direct chat: only a group can be left (smsg chat close ${chat.peer ?? chat.id} closes it)`,
    );
  let result: LeaveResult = { heir: undefined, warnings: [] };
  const accepted = chat.kind === "group" ? acceptedState(acct.store, chat.id) : undefined;
  if (accepted && accepted.admins.includes(acct.username) && accepted.members.includes(acct.username)) {
    result = await signLeaving(acct, relay, accepted);
  }
  try {
    await relay.request<"leave_chat">({ t: "leave_chat", chat: chat.id });
  } catch (e) {
    if (e instanceof RemoteError && e.code === "CHAT_UNKNOWN") throw new ChatNotFoundError(String(chat.id));
    throw e;
  }
  const { store } = acct;
  store.transaction(() => {
    for (const k of store.senderKeys.list(chat.id)) store.senderKeys.delete(chat.id, k.sender, k.keyId);
    store.groupStates.deletePending(chat.id);
    store.members.set(chat.id, []);
    store.chats.setClosed(chat.id, true);
  });
  return result;
}

/**
 * The state an admin signs as it leaves (see leaveGroup), sent to the remaining members still
 * in the chat at the relay (it refuses envelopes for anyone else). When no other signed admin
 * stays, it names the one the relay will have as admin: its remaining admin, else the
 * longest-standing remaining member (list_members is in join order, §14.6.1). If that one is
 * not in the signed membership, the first announced member still there is named instead, with
 * a warning: members and relay then disagree on the admin. Nobody announced left: nothing to sign.
 */
async function signLeaving(acct: Account, relay: RelayClient, prev: GroupStateMessage): Promise<LeaveResult> {
  const me = acct.username;
  const rest = prev.members.filter((m) => m !== me);
  const listed = (await relay.request<"list_members">({ t: "list_members", chat: prev.chat })).members.filter(
    (m) => m.username !== me,
  );
  const present = listed.map((m) => m.username).filter((u) => rest.includes(u));
  if (present.length === 0) {
    return {
      heir: undefined,
      warnings:
        rest.length === 0 ? [] : ["no member of the signed membership is still in the chat: no one was told you left"],
    };
  }
  const warnings: string[] = [];
  let admins = prev.admins.filter((a) => a !== me);
  let heir: string | undefined;
  if (!admins.some((a) => present.includes(a))) {
    const relayHeir = (listed.find((m) => m.role === "admin") ?? listed[0])!.username;
    heir = present.includes(relayHeir) ? relayHeir : present[0]!;
    if (heir !== relayHeir) {
      warnings.push(
        `the relay will make ${relayHeir} admin, who is not in the signed membership; ${heir} is named admin instead and cannot add or remove members at the relay`,
      );
    }
    admins = [...admins, heir];
  }
  const next = await nextState(acct, relay, prev, rest, present, admins);
  await flushOrThrow(acct, relay);
  return { heir, warnings: [...warnings, ...next.warnings] };
}

/** One row of `chat members`. */
export interface GroupMember {
  readonly username: string;
  readonly role: "admin" | "member";
  /** In the accepted admin-signed state. */
  readonly announced: boolean;
  /** Listed by the relay. */
  readonly listed: boolean;
  /** The user compared safety numbers for their key. */
  readonly verified: boolean;
}

/** `chat members CHAT`: the relay's list reconciled with the signed state, and the warnings. */
export async function groupMembers(
  acct: Account,
  relay: RelayClient,
  chat: ChatRecord,
): Promise<{ members: GroupMember[]; warnings: string[] }> {
  await refreshMembers(acct, relay, chat.id);
  const { store } = acct;
  const listed = store.members.list(chat.id);
  const accepted = chat.kind === "group" ? acceptedState(store, chat.id) : undefined;
  const rec = reconcile(
    accepted,
    listed.map((m) => m.username),
  );
  const names = [...new Set([...listed.map((m) => m.username), ...(accepted?.members ?? [])])].sort();
  const members = names.map((u): GroupMember => {
    const l = listed.find((m) => m.username === u);
    return {
      username: u,
      role: accepted ? (accepted.admins.includes(u) ? "admin" : "member") : (l?.role ?? "member"),
      announced: chat.kind === "direct" ? true : (accepted?.members.includes(u) ?? false),
      listed: l !== undefined,
      verified: u === acct.username || (store.contacts.get(u)?.verified ?? false),
    };
  });
  const warnings: string[] = [];
  if (chat.kind === "group") {
    for (const u of rec.unannounced)
      warnings.push(`the relay added ${u} without an admin's signed announcement; ${u} cannot read your messages`);
    for (const u of rec.departed)
      warnings.push(`${u} is in the signed membership but no longer in the chat at the relay`);
  }
  return { members, warnings };
}

/**
 * Sends `body` in a group: refresh members, distribute/rotate our key, encrypt once under our
 * sender key (padded app message), store the message and the advanced key in one transaction,
 * flush. Returns the send result and warnings.
 */
export async function sendGroupText(
  acct: Account,
  relay: RelayClient,
  chat: ChatRecord,
  body: string,
): Promise<SendResult & { warnings: string[] }> {
  const { store } = acct;
  const warnings: string[] = [];
  let queued: QueuedMessage | undefined;
  // The key check and the encryption share one transaction; a membership change accepted while
  // distributeOwnKey waited on the network means distributing (rotating) again.
  for (let attempt = 0; queued === undefined; attempt++) {
    if (attempt === 3)
      throw new SmsgError(
        "GROUP_CHANGED",
        `the membership of chat ${chat.id} kept changing while sending: nothing was sent, try again`,
      );
    await refreshMembers(acct, relay, chat.id);
    warnings.push(...(await distributeOwnKey(acct, relay, chat.id)));
    queued = store.transaction((): QueuedMessage | undefined => {
      if (!ownKeyCurrent(acct, chat.id)) return undefined;
      const seq = nextSeq(store.messages.lastSenderSeq(chat.id, acct.username) ?? 0);
      const ts = acct.now();
      return storeOutgoingText(acct, chat.id, { seq, ts, body }, sealGroupText(acct, chat.id, { seq, ts, body }));
    });
  }
  const flushed = await flushOutbox(acct, relay);
  const sent = flushed.sent.find((s) => s.messageId === queued.messageId);
  if (sent) return { queued, sent, warnings: [...new Set(warnings)] };
  const failed = flushed.failed.find((f) => f.messageId === queued.messageId);
  throw new SmsgError(failed?.code ?? "SEND_FAILED", `the relay refused the message: ${failed?.reason ?? "no answer"}`);
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

// ---------------------------------------------------------------------------------------------
// Receiving

/** Before storing a frame of a group chat: learn the relay's member list when we may need it. */
export async function prepareGroupFrame(acct: Account, relay: RelayClient, m: RelayMessageOf<"msg">): Promise<void> {
  const chat = acct.store.chats.get(m.chat);
  if (!chat || chat.kind !== "group") return;
  if (m.to !== undefined || !acct.store.members.get(m.chat, m.from)) await refreshMembers(acct, relay, m.chat);
}

type Undecryptable = (reason: string) => Received;

/** The Ed25519 identity signing key pinned (and not changed) for a user. */
function signingKeyOf(acct: Account, u: string): Uint8Array | undefined {
  if (u === acct.username) return acct.identity.publicKey.signingKey;
  const c = acct.store.contacts.get(u);
  if (!c || c.keyChanged) return undefined;
  return decodeIdentityPublic(c.identity).signingKey;
}

/** Stores a received distribution as `from`'s receiver state, unless that key id is already held. */
function takeSenderKey(store: ClientStore, chat: number, from: string, distribution: Uint8Array): void {
  const st = parseDistribution(distribution);
  if (!store.senderKeys.get(chat, from, st.keyId)) {
    store.senderKeys.put({ chatId: chat, sender: from, keyId: st.keyId, state: encodeSenderState(st), own: false });
  }
}

/** After a state was accepted: pending keys whose epoch is now covered are decided again. */
function settlePending(store: ClientStore, state: GroupStateMessage): void {
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
      promoted: s.admins.filter((a) => !(prev?.admins ?? []).includes(a)),
      renamed: prev !== undefined && prev.name !== s.name,
      bootstrap: v.bootstrap,
    });
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
    // A sender's first message we see in a group is taken as it comes (unanchored, §15.3.1):
    // members added later were never meant to see the earlier ones.
    const verdict: ReturnType<typeof sequenceVerdict> =
      store.messages.lastSenderSeq(m.chat, m.from) === null
        ? { kind: "ok" }
        : sequenceVerdict(store, m.chat, m.from, app.seq);
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
