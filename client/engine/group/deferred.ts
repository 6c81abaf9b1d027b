/**
 * Group texts written while the relay could not be reached. A group message can only be
 * encrypted safely with the chat's current membership (who holds our sender key, whether it
 * must be rotated first: keys.ts distributeOwnKey), which only the relay can tell. So
 * offline the text is stored as written (body sealed at rest, status pending, no sequence number
 * yet) and nothing is encrypted; the next time the profile goes online (client/engine/online.ts, after the
 * sync has applied the membership changes waiting for us) each one is encrypted as an online
 * send would be, with the clock of its writing as the sender's `ts`, and sent.
 */
import { SmsgError, UsageError } from "../../../src/errors.js";
import type { RelayClient } from "../../relay-client.js";
import { derivedIdem } from "../../../src/wire/index.js";
import type { ChatRecord } from "../../store/index.js";
import { ChatClosedError, NotGroupMemberError } from "../errors.js";
import type { Account } from "../open-account.js";
import { assertStillMember, departureSentence } from "./departure.js";
import { distributeOwnKey, ownKeyCurrent, sealGroupText } from "./keys.js";
import { acceptedState, refreshMembers } from "./records.js";
import { nextOwnSeq } from "./send.js";

/**
 * Stores `body` for `chat` (a group) to be encrypted and sent once online; returns its local id.
 * Throws NotGroupMemberError (a group we left or were removed from), ChatClosedError, or
 * UsageError when no signed membership lists us.
 */
export function deferGroupText(acct: Account, chat: ChatRecord, body: string): number {
  assertStillMember(chat, "nothing was stored");
  if (chat.closed) throw new ChatClosedError(chat.id, chat.myRole === "admin");
  const accepted = acceptedState(acct.store, chat.id);
  if (!accepted?.members.includes(acct.username))
    throw new NotGroupMemberError(`you are not a member of chat ${chat.id} (its signed membership does not list you)`);
  const now = acct.now();
  return acct.store.messages.insert({
    chatId: chat.id,
    relayMsgId: null,
    sender: acct.username,
    sentAt: now,
    body,
    direction: "out",
    status: "pending",
    senderSeq: null,
    senderTs: now,
    senderDevice: acct.deviceId,
  }).id;
}

/**
 * Encrypts and queues every deferred group text, chat by chat, oldest first (see the file
 * comment); returns how many were queued. Call it after syncing, so that membership changes
 * already sent to us are applied first. A text that can no longer be sent (the chat closed, we
 * are no longer a member) is marked failed and reported through `onWarning`; any other failure
 * in one chat is reported and its texts stay deferred for the next time, so one chat cannot
 * stop the others or the command; a lost connection is thrown.
 */
export async function encryptDeferredGroupTexts(
  acct: Account,
  relay: RelayClient,
  onWarning?: (err: unknown) => void,
): Promise<number> {
  const { store } = acct;
  let queued = 0;
  const byChat = new Map<number, number[]>();
  for (const m of store.messages.deferredTexts()) byChat.set(m.chatId, [...(byChat.get(m.chatId) ?? []), m.id]);
  for (const [chatId, ids] of byChat) {
    const fail = (reason: string) => {
      store.transaction(() => {
        for (const id of ids) store.messages.setStatus(id, "failed");
      });
      onWarning?.(
        new SmsgError(
          "SEND_FAILED",
          `${ids.length} message(s) written offline in chat ${chatId} were not sent: ${reason}`,
        ),
      );
    };
    const chat = store.chats.get(chatId);
    if (!chat || chat.kind !== "group") {
      fail("the chat is not a group here");
      continue;
    }
    if (chat.closed && chat.departure === null) {
      fail("the chat is closed");
      continue;
    }
    try {
      if (chat.departure === null) await refreshMembers(acct, relay, chatId);
      const gone = departureSentence(store.chats.get(chatId) ?? chat);
      if (gone !== undefined || !store.members.get(chatId, acct.username)) {
        fail(gone ?? "you are no longer a member of it");
        continue;
      }
      const warnings = await distributeOwnKey(acct, relay, chatId);
      for (const w of warnings) onWarning?.(new SmsgError("GROUP_WARNING", w));
      queued += store.transaction(() => {
        if (!ownKeyCurrent(acct, chatId))
          throw new SmsgError(
            "GROUP_CHANGED",
            "the membership changed while the group key was being sent: they are sent next time",
          );
        let n = 0;
        for (const id of ids) {
          const m = store.messages.get(id);
          if (!m || m.status !== "pending" || m.senderSeq !== null || m.body === null) continue; // another process took it
          const seq = nextOwnSeq(acct, chatId);
          const envelope = sealGroupText(acct, chatId, { seq, ts: m.senderTs ?? m.sentAt, body: m.body });
          store.messages.setSenderSeq(id, seq);
          store.outbox.add({ idem: derivedIdem(envelope), chatId, messageId: id, envelope });
          n++;
        }
        return n;
      });
    } catch (e) {
      if (e instanceof UsageError) fail(e.message);
      else if (e instanceof SmsgError && !relay.isClosed) {
        onWarning?.(
          new SmsgError(e.code, `message(s) written offline in chat ${chatId} are not sent yet: ${e.message}`),
        );
      } else throw e;
    }
  }
  return queued;
}
