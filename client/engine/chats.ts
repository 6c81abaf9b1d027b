/**
 * Chats as the relay knows them, mirrored into the local store: open a direct chat, learn the
 * chats the relay lists (a peer may have opened one with us), close and reopen, and follow the
 * relay's chat events. Group chats themselves (create, add, remove, send) are group/.
 */
import { RemoteError, UsageError } from "../../src/errors.js";
import { MAX_CHATS_PER_PAGE } from "../../src/wire/limits.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import { normalizeUsername, tryNormalizeUsername } from "../../src/wire/username.js";
import type { RelayClient } from "../relay-client.js";
import { AmbiguousChatError, type ChatRecord, ChatNotFoundError } from "../store/index.js";
import { NotChatAdminError, UserUnknownError } from "./errors.js";
import { assertStillMember, noteDeparture, recordRejoin } from "./group/departure.js";
import { refreshMembers } from "./group/records.js";
import type { Account } from "./open-account.js";
import { checkIdentity } from "./sessions.js";

/**
 * Reads every chat the relay lists for us (list_chats, page by page) and stores what it says:
 * kind, peer, closed, our role. A direct chat whose other member left (the relay then names no
 * peer) keeps the peer stored before, or is skipped when it has none. Returns the stored chats.
 */
export async function refreshChats(acct: Account, relay: RelayClient): Promise<ChatRecord[]> {
  const out: ChatRecord[] = [];
  let after: number | undefined;
  for (let page = 0; page < 10_000; page++) {
    const r = await relay.request<"list_chats">({ t: "list_chats", ...(after !== undefined ? { after } : {}) });
    acct.store.transaction(() => {
      for (const c of r.chats) {
        const peer = c.kind === "direct" ? (c.peer ?? acct.store.chats.get(c.id)?.peer ?? null) : null;
        if (c.kind === "direct" && peer === null) continue;
        out.push(acct.store.chats.upsert({ id: c.id, kind: c.kind, peer, closed: c.closed, myRole: c.role }));
      }
    });
    const last = r.chats[r.chats.length - 1];
    if (!r.more) {
      noteGroupsGone(acct, out);
      break;
    }
    if (last === undefined || r.chats.length < 1 || r.chats.length > MAX_CHATS_PER_PAGE) break;
    after = last.id;
  }
  return out;
}

/**
 * After a complete chat list: a group we had not left that the relay no longer lists is one we
 * were removed from (while offline: the relay delivers nothing more of it); one listed again
 * after a departure is one an admin added us back to (group/departure.ts).
 */
function noteGroupsGone(acct: Account, listed: readonly ChatRecord[]): void {
  const ids = new Set(listed.map((c) => c.id));
  for (const c of acct.store.chats.list()) {
    if (c.kind !== "group") continue;
    if (!ids.has(c.id) && c.departure === null) noteDeparture(acct, c.id, "removed", null);
    else if (ids.has(c.id) && c.departure !== null) recordRejoin(acct.store, c.id);
  }
}

/** What openDirectChat returns. */
export interface OpenedChat {
  readonly chat: ChatRecord;
  /** The peer's identity key was pinned just now (first contact). */
  readonly pinnedNow: boolean;
}

/**
 * Opens (or finds again) the direct chat with `username` on the relay (open_direct), stores it
 * with its members, then checks the peer's identity key against the pinned one (pinning it on
 * first use). Throws UsageError for an invalid name or ourselves, UserUnknownError, and
 * KeyChangedError when the relay presents another key than the pinned one (the chat is stored
 * all the same; the change is recorded).
 */
export async function openDirectChat(acct: Account, relay: RelayClient, username: string): Promise<OpenedChat> {
  const peer = normalizeUsername(username);
  if (peer === acct.username) throw new UsageError("you cannot open a direct chat with yourself");
  let reply;
  try {
    reply = await relay.request<"open_direct">({ t: "open_direct", username: peer });
  } catch (e) {
    if (e instanceof RemoteError && e.code === "USER_UNKNOWN") throw new UserUnknownError(peer);
    throw e;
  }
  const info = reply.chat;
  const chat = acct.store.transaction(() => {
    const c = acct.store.chats.upsert({ id: info.id, kind: "direct", peer, closed: info.closed, myRole: "member" });
    acct.store.members.set(
      info.id,
      info.members.map((m) => ({ username: m.username, role: m.role })),
    );
    return c;
  });
  const pin = await checkIdentity(acct, relay, peer);
  return { chat, pinnedNow: pin === "pinned" };
}

/**
 * The chat a CHAT argument names (an id, a name, or a direct chat's peer; ChatsTable.resolve).
 * When it is not known locally and `relay` is given, the relay's chat list is read first and
 * the lookup tried again. Throws ChatNotFoundError or AmbiguousChatError.
 */
export async function findChat(acct: Account, relay: RelayClient | undefined, arg: string): Promise<ChatRecord> {
  try {
    return acct.store.resolveChat(arg);
  } catch (e) {
    if (!(e instanceof ChatNotFoundError) || !relay) throw e;
  }
  await refreshChats(acct, relay);
  return acct.store.resolveChat(arg);
}

/**
 * The chat a CHAT argument names, as findChat, or else, when the argument is a username (not a
 * bare number: that is a chat id), the direct chat with that user, opened on the relay now
 * (openDirectChat): `smsg send bob hi` works without a `smsg chat open bob` first. Throws what
 * findChat and openDirectChat throw (ChatNotFoundError, UserUnknownError, KeyChangedError, …).
 */
export async function findOrOpenChat(acct: Account, relay: RelayClient, arg: string): Promise<OpenedChat> {
  const user = /^\d+$/.test(arg.trim()) ? undefined : tryNormalizeUsername(arg.trim());
  let chat: ChatRecord;
  try {
    chat = await findChat(acct, relay, arg);
  } catch (e) {
    if (!(e instanceof ChatNotFoundError) || user === undefined) throw e;
    return openDirectChat(acct, relay, arg);
  }
  // A group's name is chosen by its admins: one named after a contact must not catch what was
  // meant for that person alone.
  if (chat.kind === "group" && user !== undefined && acct.store.contacts.get(user)) {
    throw new AmbiguousChatError(
      arg,
      [chat.id],
      `"${arg}" is the name of group chat ${chat.id} and also a contact of yours: ` +
        `give the chat id, or smsg chat open ${user} for the direct chat`,
    );
  }
  return { chat, pinnedNow: false };
}

/**
 * Closes or reopens a chat on the relay (close_chat / reopen_chat) and locally. Throws
 * NotGroupMemberError for a group we left or were removed from (never suggesting a reopen),
 * ChatNotFoundError when the relay says we are not in a direct chat, NotChatAdminError for a
 * group we do not administer, or the relay's RemoteError.
 */
export async function setChatClosed(
  acct: Account,
  relay: RelayClient,
  chat: ChatRecord,
  closed: boolean,
): Promise<ChatRecord> {
  const verb = closed ? "it cannot be closed" : "it cannot be reopened";
  if (chat.kind === "group")
    assertStillMember(acct.store.chats.get(chat.id) ?? chat, `${verb} (an admin can add you again)`);
  try {
    if (closed) await relay.request<"close_chat">({ t: "close_chat", chat: chat.id });
    else await relay.request<"reopen_chat">({ t: "reopen_chat", chat: chat.id });
  } catch (e) {
    if (e instanceof RemoteError && e.code === "CHAT_UNKNOWN") {
      if (chat.kind !== "group") throw new ChatNotFoundError(String(chat.id));
      noteDeparture(acct, chat.id, "removed", null);
      assertStillMember(acct.store.chats.get(chat.id) ?? chat, `${verb} (an admin can add you again)`);
    }
    if (e instanceof RemoteError && e.code === "NOT_CHAT_ADMIN")
      throw new NotChatAdminError(chat.id, closed ? "close" : "reopen");
    throw e;
  }
  acct.store.chats.setClosed(chat.id, closed);
  return acct.store.chats.get(chat.id)!;
}

/**
 * Applies a pushed chat event to the local store: closed / reopened set the flag; a member
 * added, removed or leaving makes us read the chat list again (which also learns a chat a peer
 * just opened with us).
 */
export async function applyChatEvent(
  acct: Account,
  relay: RelayClient,
  ev: RelayMessageOf<"chat_event">,
): Promise<void> {
  if (ev.event === "closed" || ev.event === "reopened") {
    if (acct.store.chats.get(ev.chat)) {
      acct.store.chats.setClosed(ev.chat, ev.event === "closed");
      return;
    }
  }
  // About us: the relay names who removed us (the signed state, if it came, named them first).
  if (ev.user === acct.username && (ev.event === "removed" || ev.event === "left"))
    noteDeparture(acct, ev.chat, ev.event, ev.event === "removed" ? ev.by : null);
  await refreshChats(acct, relay);
  // A group's member list feeds reconciliation with its signed state (group/records.ts).
  if (acct.store.chats.get(ev.chat)?.kind === "group") await refreshMembers(acct, relay, ev.chat);
}
