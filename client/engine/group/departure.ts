/**
 * Our own standing in a group (SECURITY.md §15.4.6): a group we left, or were removed from,
 * stays in the store with its history readable, marked with how we went (chats.departure) and
 * who removed us when that is known. We learn of a removal from an admin's signed state that
 * no longer lists us (it names the admin), the relay's chat event (it names who asked), or the
 * relay no longer listing us in the chat (a removal while we were offline: the relay then
 * delivers nothing more of that chat, so who did it is not known). Everything that would act
 * as a member (send, reopen, leave, membership changes) says so in one sentence instead.
 */
import type { ChatRecord, ClientStore, Departure } from "../../store/index.js";
import { NotGroupMemberError } from "../errors.js";
import type { DepartedEvent, EngineEvent } from "../events.js";
import type { Account } from "../open-account.js";

/** How a chat is named in a sentence: its name, else "chat N". */
function title(chat: ChatRecord): string {
  return chat.name !== null ? chat.name : `chat ${chat.id}`;
}

/** "you left team", "you were removed from team by alice", or undefined while we are a member. */
export function departureSentence(chat: ChatRecord): string | undefined {
  if (chat.departure === "left") return `you left ${title(chat)}`;
  if (chat.departure === "removed")
    return chat.departedBy !== null
      ? `you were removed from ${title(chat)} by ${chat.departedBy}`
      : `you were removed from ${title(chat)} (the relay no longer lists you in it)`;
  return undefined;
}

/** Throws NotGroupMemberError (exit 16) when we left or were removed from `chat`; `then` ends the sentence. */
export function assertStillMember(chat: ChatRecord, then: string): void {
  const s = departureSentence(chat);
  if (s !== undefined) throw new NotGroupMemberError(`${s}: ${then}`);
}

/** The chat as stored now, for a check after something may have recorded a departure. */
export function current(store: ClientStore, chat: ChatRecord): ChatRecord {
  return store.chats.get(chat.id) ?? chat;
}

/**
 * Records that we are no longer a member of group `chatId` (inside the caller's transaction, or
 * its own): our sender keys and pending keys of it are deleted (nothing more can be sent or
 * read), the relay's member list is forgotten, the history stays. Reports a `departed` event
 * into `events`, once: a removal already recorded is only completed with who did it when that
 * was not known. Returns whether anything changed.
 */
export function recordDeparture(
  acct: Account,
  chatId: number,
  how: Departure,
  by: string | null,
  events: EngineEvent[],
): boolean {
  const { store } = acct;
  return store.transaction(() => {
    const chat = store.chats.get(chatId);
    if (!chat || chat.kind !== "group") return false;
    // Already recorded: only a removal whose author was not known may be completed (who did it,
    // or that it was our own leaving, seen from another of our processes).
    const completes = chat.departure === "removed" && chat.departedBy === null && (by !== null || how === "left");
    if (chat.departure !== null && !completes) return false;
    store.chats.setDeparture(chatId, how, by);
    for (const k of store.senderKeys.list(chatId)) store.senderKeys.delete(chatId, k.sender, k.keyId, k.senderDevice);
    store.groupStates.deletePending(chatId);
    store.members.set(chatId, []);
    const e: DepartedEvent = { type: "departed", chat: chatId, name: chat.name, how, by };
    events.push(e);
    return true;
  });
}

/**
 * recordDeparture for what a command or a chat event learned outside a frame's processing: the
 * event goes to the profile's journal (so `listen` reports it) and to `onEvent`.
 */
export function noteDeparture(
  acct: Account,
  chatId: number,
  how: Departure,
  by: string | null,
  onEvent?: (e: EngineEvent) => void,
): void {
  const events: EngineEvent[] = [];
  acct.store.transaction(() => {
    if (recordDeparture(acct, chatId, how, by, events))
      for (const e of events) acct.store.journal.append(JSON.stringify(e));
  });
  for (const e of events) onEvent?.(e);
}

/** We are a member again (added back): the departure is cleared and numbers count from now (§15.3.1). */
export function recordRejoin(store: ClientStore, chatId: number): void {
  store.transaction(() => {
    const chat = store.chats.get(chatId);
    if (!chat || chat.departure === null) return;
    store.chats.setDeparture(chatId, null);
    store.chats.setMemberSince(chatId, store.messages.lastId(chatId));
  });
}
