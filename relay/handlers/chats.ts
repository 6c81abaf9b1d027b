/**
 * Chats: open a direct chat (reusing the existing one), create a group, add and remove
 * members (group admins), leave, close and reopen, list. Every change is announced to the
 * members online (chat_event); the clients verify membership changes end to end.
 */
import { type ChatInfo, type ClientMessageOf, MAX_CHATS_PER_PAGE, MAX_GROUP_MEMBERS } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import type { HandlerConnection, SessionAccount } from "./handler-connection.js";
import type { ChatKind, ChatWithMembers, Member, Role } from "../store/index.js";
import { accountNamed } from "./keys.js";

/**
 * The role shown on the wire: a direct chat has no admins, so both its members are "member"
 * (src/wire/messages.ts chatMemberSchema), whatever the store keeps for them.
 */
function shownRole(kind: ChatKind, role: Role): Role {
  return kind === "direct" ? "member" : role;
}

function chatInfo(chat: ChatWithMembers): ChatInfo {
  return {
    id: chat.id,
    kind: chat.kind,
    closed: chat.closed,
    members: chat.members.map((m) => ({ username: m.username, role: shownRole(chat.kind, m.role) })),
  };
}

/** The chat and the caller's membership; CHAT_UNKNOWN unless the caller belongs to it. */
async function memberChat(conn: HandlerConnection, self: SessionAccount, chatId: number) {
  const { store } = conn.ctx;
  const chat = await store.chat(chatId);
  const members = chat ? await store.members(chatId) : [];
  const me = members.find((m) => m.accountId === self.id);
  if (!chat || !me) throw new RelayError("CHAT_UNKNOWN", `no chat ${chatId} that you belong to`);
  return { chat, members, me };
}

function requireGroupAdmin(chat: { kind: string }, me: Member): void {
  if (chat.kind !== "group")
    throw new RelayError("BAD_MESSAGE", "a direct chat has no admins and its members cannot change");
  if (me.role !== "admin") throw new RelayError("NOT_CHAT_ADMIN", "only an admin of this group may do that");
}

export async function handleOpenDirect(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"open_direct">,
): Promise<void> {
  const target = await accountNamed(conn, msg.username);
  if (target.id === self.id)
    throw new RelayError("BAD_MESSAGE", "open_direct.username: you cannot open a direct chat with yourself");
  const { store } = conn.ctx;
  const opened = await store.openDirectChat(self.id, target.id);
  let chat = opened.chat;
  // Whoever left the chat is back in it: a direct chat is the one chat of these two accounts,
  // so without this it could never be used again (and with nobody left it could not even be
  // described on the wire: ChatInfo needs a member).
  const rejoined = [self, target].filter((a) => !chat.members.some((m) => m.accountId === a.id));
  for (const a of rejoined) await store.addMember(chat.id, a.id, "admin");
  if (rejoined.length > 0) chat = { ...chat, members: await store.members(chat.id) };
  conn.send({ t: "chat", id: msg.id, chat: chatInfo(chat) });
  if (opened.created) {
    await conn.ctx.fanout.chatEvent({
      chat: chat.id,
      event: "added",
      user: target.username,
      by: self.username,
      audience: [target.id],
    });
  }
  for (const a of rejoined) {
    await conn.ctx.fanout.chatEvent({
      chat: chat.id,
      event: "added",
      user: a.username,
      by: self.username,
      audience: [self.id, target.id],
    });
  }
}

export async function handleCreateGroup(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"create_group">,
): Promise<void> {
  const names = [...new Set(msg.members)].filter((n) => n !== self.username);
  if (names.length + 1 > MAX_GROUP_MEMBERS)
    throw new RelayError("CHAT_FULL", `a group has at most ${MAX_GROUP_MEMBERS} members`);
  const others = [];
  for (const n of names) others.push(await accountNamed(conn, n));
  const chat = await conn.ctx.store.createGroupChat(
    self.id,
    others.map((a) => a.id),
  );
  conn.send({ t: "chat", id: msg.id, chat: chatInfo(chat) });
  const audience = others.map((a) => a.id);
  for (const a of others)
    await conn.ctx.fanout.chatEvent({ chat: chat.id, event: "added", user: a.username, by: self.username, audience });
}

export async function handleAddMember(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"add_member">,
): Promise<void> {
  const { chat, members, me } = await memberChat(conn, self, msg.chat);
  requireGroupAdmin(chat, me);
  if (chat.closed) throw new RelayError("CHAT_CLOSED", "the chat is closed; reopen it first");
  const target = await accountNamed(conn, msg.username);
  if (!members.some((m) => m.accountId === target.id)) {
    if (members.length >= MAX_GROUP_MEMBERS)
      throw new RelayError("CHAT_FULL", `a group has at most ${MAX_GROUP_MEMBERS} members`);
    await conn.ctx.store.addMember(chat.id, target.id, "member");
    const audience = [...members.map((m) => m.accountId), target.id];
    await conn.ctx.fanout.chatEvent({
      chat: chat.id,
      event: "added",
      user: target.username,
      by: self.username,
      audience,
    });
  }
  conn.send({ t: "ok", id: msg.id });
}

export async function handleRemoveMember(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"remove_member">,
): Promise<void> {
  const { chat, members, me } = await memberChat(conn, self, msg.chat);
  requireGroupAdmin(chat, me);
  const target = members.find((m) => m.username === msg.username);
  if (!target) throw new RelayError("NOT_A_MEMBER", `${msg.username} is not a member of chat ${chat.id}`);
  await removeAndKeepAnAdmin(conn, chat.id, target);
  await conn.ctx.fanout.chatEvent({
    chat: chat.id,
    event: "removed",
    user: target.username,
    by: self.username,
    audience: members.map((m) => m.accountId),
  });
  conn.send({ t: "ok", id: msg.id });
}

export async function handleLeave(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"leave_chat">,
): Promise<void> {
  const { chat, members, me } = await memberChat(conn, self, msg.chat);
  await removeAndKeepAnAdmin(conn, chat.id, me);
  await conn.ctx.fanout.chatEvent({
    chat: chat.id,
    event: "left",
    user: self.username,
    by: self.username,
    audience: members.map((m) => m.accountId),
  });
  conn.send({ t: "ok", id: msg.id });
}

/** Longest-standing member first (ties by account id). */
function byJoinOrder(a: Member, b: Member): number {
  return a.joinedAt.getTime() - b.joinedAt.getTime() || a.accountId - b.accountId;
}

/**
 * Removes a member; if that leaves a group with members but no admin, the longest-standing
 * member becomes admin. Who is left is read after the removal, not taken from the snapshot
 * the request started with: members leaving at the same time (the heir among them) would
 * otherwise leave the group without any admin.
 */
async function removeAndKeepAnAdmin(conn: HandlerConnection, chatId: number, leaving: Member): Promise<void> {
  const { store } = conn.ctx;
  await store.removeMember(chatId, leaving.accountId);
  // Forget the cached members now, not only when the event goes out: a send committed from
  // here on must not be pushed to the member who just left.
  conn.ctx.presence.invalidateChat(chatId);
  for (;;) {
    const rest = await store.members(chatId);
    if (rest.length === 0 || rest.some((m) => m.role === "admin")) return;
    const heir = [...rest].sort(byJoinOrder)[0]!;
    // false: the heir left in the meantime; look again.
    if (await store.setRole(chatId, heir.accountId, "admin")) return;
  }
}

export async function handleSetClosed(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"close_chat"> | ClientMessageOf<"reopen_chat">,
  closed: boolean,
): Promise<void> {
  const { chat, members, me } = await memberChat(conn, self, msg.chat);
  if (chat.kind === "group") requireGroupAdmin(chat, me);
  if (chat.closed !== closed) {
    await conn.ctx.store.setClosed(chat.id, closed);
    await conn.ctx.fanout.chatEvent({
      chat: chat.id,
      event: closed ? "closed" : "reopened",
      by: self.username,
      audience: members.map((m) => m.accountId),
    });
  }
  conn.send({ t: "ok", id: msg.id });
}

export async function handleListChats(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"list_chats">,
): Promise<void> {
  const after = msg.after ?? 0;
  const all = (await conn.ctx.store.chatsOf(self.id)).filter((c) => c.id > after).sort((a, b) => a.id - b.id);
  const page = all.slice(0, MAX_CHATS_PER_PAGE);
  conn.send({
    t: "chats",
    id: msg.id,
    more: all.length > page.length,
    chats: page.map((c) => {
      const me = c.members.find((m) => m.accountId === self.id);
      const peer = c.kind === "direct" ? c.members.find((m) => m.accountId !== self.id)?.username : undefined;
      return {
        id: c.id,
        kind: c.kind,
        closed: c.closed,
        role: shownRole(c.kind, me?.role ?? "member"),
        member_count: c.members.length,
        ...(peer !== undefined ? { peer } : {}),
      };
    }),
  });
}

export async function handleListMembers(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"list_members">,
): Promise<void> {
  const { chat, members } = await memberChat(conn, self, msg.chat);
  // In the order they joined (SECURITY.md §14.7): the first one after a leaving last admin is the heir
  // removeAndKeepAnAdmin picks, so a leaving admin's client can name the same one in its signed state.
  const ordered = [...members].sort(byJoinOrder);
  conn.send({
    t: "members",
    id: msg.id,
    chat: chat.id,
    members: ordered.map((m) => ({ username: m.username, role: shownRole(chat.kind, m.role) })),
  });
}
