/**
 * Group membership commands (SECURITY.md §7, §15.4): create, add, remove, leave, members.
 *
 * An admin signs every change as a full snapshot (group_state, §15.4) and sends it pairwise
 * (pairwise.ts) in the GROUP chat to each device of each member of the new state and of the
 * removed ones, and to our own other devices (§15.2.5, §17.5). After a change our sender key is distributed again, rotated when someone who
 * held it is gone (keys.ts).
 */
import type { IdentityKeyPair } from "../../../crypto/identity.js";
import { InternalError, RemoteError, SmsgError, UsageError } from "../../../src/errors.js";
import { normalizeUsername } from "../../../src/wire/username.js";
import type { GroupStateMessage } from "../../protocol/app-message.js";
import { reconcile, signGroupState } from "../../protocol/group-state.js";
import type { RelayClient } from "../../relay-client.js";
import { type ChatRecord, ChatNotFoundError } from "../../store/index.js";
import { NotAMemberError, NotChatAdminError } from "../errors.js";
import type { Account } from "../open-account.js";
import { flushOutbox } from "../outbox.js";
import { accountSignerOf } from "../own-device-list.js";
import { assertStillMember, current, departureSentence, noteDeparture } from "./departure.js";
import { distributeOwnKey, recordStateHolders } from "./keys.js";
import { reachableDevices, sendToDevices } from "./pairwise.js";
import { acceptedState, refreshMembers, relayMembers, reportGone, storeAccepted } from "./records.js";

/**
 * Sends a signed state to every device of `peers` and to our own other devices (pairwise, in
 * the group chat, SECURITY.md §17.5), storing it as accepted first in the transaction that
 * encrypts it when `store` is set; records who got it (keys.ts: who missed it gets it with our
 * next key hand-over).
 */
async function announce(
  acct: Account,
  relay: RelayClient,
  state: GroupStateMessage,
  peers: readonly string[],
  warnings: string[],
  store = false,
): Promise<void> {
  const targets = await reachableDevices(acct, relay, peers, true, warnings);
  const sent = await sendToDevices(
    acct,
    relay,
    state.chat,
    targets,
    () => state,
    store ? () => storeAccepted(acct.store, state) : undefined,
  );
  recordStateHolders(acct.store, state.chat, state.epoch, sent);
}

/**
 * What signs group states (SECURITY.md §15.4.1, §17.1): the account key, which every device
 * holds; on device 1 it is the device's own identity, on any other the account's signing seed.
 */
function accountSigner(acct: Account): Pick<IdentityKeyPair, "signing"> {
  if (acct.deviceId === 1) return acct.identity;
  const rec = acct.store.account.get();
  if (rec === undefined) throw new InternalError("the profile has no account");
  return accountSignerOf(rec);
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

/** Options of createGroup. */
export interface CreateGroupOptions {
  /** Create it even when a chat of ours already has this name (then only its id names it). */
  readonly allowDuplicateName?: boolean;
}

/**
 * `chat create NAME --members a,b`: create_group at the relay, sign state epoch 1 (us the only
 * admin), send it to every member, then our sender key. Throws UsageError for a bad name or
 * list, and for a name one of our chats already has (every command naming it would then be
 * ambiguous) unless `allowDuplicateName`: checked before anything is created at the relay.
 */
export async function createGroup(
  acct: Account,
  relay: RelayClient,
  name: string,
  memberArgs: readonly string[],
  opts: CreateGroupOptions = {},
): Promise<GroupResult> {
  if (name.trim() === "") throw new UsageError("a group needs a name");
  const same = acct.store.chats.findByName(name);
  if (same.length > 0 && opts.allowDuplicateName !== true) {
    const ids = same.map((c) => c.id).join(", ");
    throw new UsageError(
      `you already have a chat named "${name}" (chat ${ids}): choose another name, ` +
        "or add --allow-duplicate-name and name each by its id",
    );
  }
  const others = [...new Set(memberArgs.map((m) => normalizeUsername(m.trim())))].filter((m) => m !== acct.username);
  const reply = await relay.request<"create_group">({ t: "create_group", members: others });
  const info = reply.chat;
  const state = signGroupState(accountSigner(acct), {
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
    acct.store.chats.setMemberSince(info.id, 0, true);
    return c;
  });
  const warnings: string[] = [];
  await announce(acct, relay, state, state.members, warnings);
  warnings.push(...(await distributeOwnKey(acct, relay, info.id)));
  await flushOrThrow(acct, relay);
  return { chat: acct.store.chats.get(chat.id)!, state, warnings };
}

/**
 * Our accepted state of a group we administer. Throws UsageError (not a group, no state yet),
 * NotGroupMemberError (we left or were removed) or NotChatAdminError.
 */
function adminState(acct: Account, chat: ChatRecord): GroupStateMessage {
  if (chat.kind !== "group") throw new UsageError(`chat ${chat.id} is not a group`);
  assertStillMember(current(acct.store, chat), "you cannot change its members");
  const s = acceptedState(acct.store, chat.id);
  if (!s) throw new UsageError(`no admin-signed membership of chat ${chat.id} has been received yet`);
  if (!s.admins.includes(acct.username)) throw new NotChatAdminError(chat.id);
  return s;
}

/**
 * Of `members`, those the relay still lists in the chat (as stored by the last refreshMembers),
 * and `keep`. A member who left at the relay is dropped from the next state we sign (§15.4.3:
 * a leave is a membership change; nobody else can sign it for a member who is not an admin).
 */
function stillThere(acct: Account, chat: number, members: readonly string[], keep: readonly string[] = []): string[] {
  const listed = relayMembers(acct.store, chat);
  return members.filter((m) => listed.includes(m) || keep.includes(m));
}

/** Warnings for members a state we signed leaves out because they left at the relay. */
function droppedWarnings(prev: GroupStateMessage, dropped: readonly string[], epoch: number): string[] {
  return dropped
    .filter((u) => prev.members.includes(u))
    .map((u) => `${u} left the chat: the membership you signed (epoch ${epoch}) leaves them out`);
}

/**
 * When we administer `chat` and members of its accepted state are gone from the relay's list
 * (they left), signs and announces the next state without them, so that members see them go
 * and nobody is left warning about them. refreshMembers first. Returns warnings (empty when
 * there was nothing to sign, or we are no admin).
 */
export async function signDepartures(acct: Account, relay: RelayClient, chat: number): Promise<string[]> {
  const prev = acceptedState(acct.store, chat);
  const c = acct.store.chats.get(chat);
  if (!prev || !c || c.departure !== null || !prev.admins.includes(acct.username)) return [];
  const rest = stillThere(acct, chat, prev.members, [acct.username]);
  if (rest.length === prev.members.length) return [];
  const { state, warnings } = await nextState(acct, relay, prev, rest, rest);
  await flushOrThrow(acct, relay);
  return [
    ...droppedWarnings(
      prev,
      prev.members.filter((m) => !rest.includes(m)),
      state.epoch,
    ),
    ...warnings,
  ];
}

/**
 * Signs and stores the next state, and announces it to `recipients`. Admins: those of `prev`
 * still members, unless given.
 */
async function nextState(
  acct: Account,
  relay: RelayClient,
  prev: GroupStateMessage,
  members: readonly string[],
  recipients: readonly string[],
  admins: readonly string[] = prev.admins.filter((a) => members.includes(a)),
): Promise<{ state: GroupStateMessage; warnings: string[] }> {
  const state = signGroupState(accountSigner(acct), {
    chat: prev.chat,
    epoch: prev.epoch + 1,
    name: prev.name,
    members: [...members],
    admins: [...admins],
    by: acct.username,
    ts: acct.now(),
  });
  // Sessions first (network), then the state and its envelopes in one transaction; copies the
  // relay did not take are handed over again with our next key (keys.ts distributeOwnKey).
  const warnings: string[] = [];
  await announce(acct, relay, state, recipients, warnings, true);
  return { state, warnings };
}

/**
 * `chat add CHAT USER` (admins): add_member at the relay, then a signed state (epoch + 1) to
 * every member; the new member gets our current key.
 */
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
  const members = stillThere(acct, chat.id, [...prev.members, user], [acct.username, user]);
  const { state, warnings } = await nextState(acct, relay, prev, members, members);
  warnings.unshift(
    ...droppedWarnings(
      prev,
      prev.members.filter((m) => !members.includes(m)),
      state.epoch,
    ),
  );
  warnings.push(...(await distributeOwnKey(acct, relay, chat.id)));
  await flushOrThrow(acct, relay);
  return { chat, state, warnings };
}

/**
 * `chat remove CHAT USER` (admins): a signed state (epoch + 1) to the rest and to USER, then
 * remove_member at the relay; our key is rotated.
 */
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
  // Announce first (the removed member gets the state while still in the chat), then remove at
  // the relay. Only to those still in the chat there: the relay refuses envelopes for anyone else.
  await refreshMembers(acct, relay, chat.id);
  const listed = relayMembers(acct.store, chat.id);
  const members = stillThere(
    acct,
    chat.id,
    prev.members.filter((m) => m !== user),
    [acct.username],
  );
  const { state, warnings } = await nextState(
    acct,
    relay,
    prev,
    members,
    prev.members.filter((m) => listed.includes(m)),
  );
  warnings.unshift(
    ...droppedWarnings(
      prev,
      prev.members.filter((m) => m !== user && !members.includes(m)),
      state.epoch,
    ),
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
  assertStillMember(current(acct.store, chat), "there is nothing to leave");
  let result: LeaveResult = { heir: undefined, warnings: [] };
  const accepted = chat.kind === "group" ? acceptedState(acct.store, chat.id) : undefined;
  if (accepted && accepted.admins.includes(acct.username) && accepted.members.includes(acct.username)) {
    result = await signLeaving(acct, relay, accepted);
  }
  try {
    await relay.request<"leave_chat">({ t: "leave_chat", chat: chat.id });
  } catch (e) {
    if (e instanceof RemoteError && e.code === "CHAT_UNKNOWN") {
      if (chat.kind !== "group") throw new ChatNotFoundError(String(chat.id));
      // Not in it at the relay: removed while we were away.
      noteDeparture(acct, chat.id, "removed", null);
      assertStillMember(current(acct.store, chat), "there is nothing to leave");
    }
    throw e;
  }
  if (chat.kind === "group") noteDeparture(acct, chat.id, "left", null);
  else {
    const { store } = acct;
    store.transaction(() => {
      store.members.set(chat.id, []);
      store.chats.setClosed(chat.id, true);
    });
  }
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
  // Members who already left at the relay are not in the state we sign as we go.
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
        `the relay will make ${relayHeir} admin, who is not in the signed membership; ` +
          `${heir} is named admin instead and cannot add or remove members at the relay`,
      );
    }
    admins = [...admins, heir];
  }
  const next = await nextState(
    acct,
    relay,
    prev,
    rest.filter((u) => present.includes(u)),
    present,
    admins.filter((a) => present.includes(a)),
  );
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

/**
 * `chat members CHAT`: the relay's list reconciled with the signed state, and the warnings. An
 * admin first signs out members who left at the relay (signDepartures); others are told once
 * that such a member left (reportGone). A group we left or were removed from shows the last
 * membership we knew, with one warning saying so.
 */
export async function groupMembers(
  acct: Account,
  relay: RelayClient,
  given: ChatRecord,
): Promise<{ members: GroupMember[]; warnings: string[] }> {
  const { store } = acct;
  const warnings: string[] = [];
  if (given.kind !== "group" || given.departure === null) await refreshMembers(acct, relay, given.id);
  const chat = current(store, given);
  const gone = chat.kind === "group" ? departureSentence(chat) : undefined;
  if (chat.kind === "group" && gone === undefined) {
    warnings.push(...(await signDepartures(acct, relay, chat.id)));
    for (const e of reportGone(acct, chat.id))
      warnings.push(`${e.user} left the chat (the relay says; no admin has signed a membership without them yet)`);
  }
  const listed = gone === undefined ? store.members.list(chat.id) : [];
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
  if (gone !== undefined) warnings.push(`${gone}: these are its members as you last knew them`);
  else if (chat.kind === "group") {
    for (const u of rec.unannounced)
      warnings.push(`the relay added ${u} without an admin's signed announcement; ${u} cannot read your messages`);
  }
  return { members, warnings };
}
