/**
 * Sending one text message in a direct chat, online or not. Online: check the peer's identity
 * key with the relay (a changed key stops the send, SECURITY.md §1; an interactive session asks
 * once per connection and contact, peer-identity-checks.ts), find the devices of both
 * accounts and make sure a session exists with each (fanout-targets.ts, §17.5: X3DH on first
 * contact), queue (outbox.ts: encrypt + store + outbox in one transaction) and flush. Offline:
 * when a session exists with every device the stored lists name, the message is encrypted and
 * queued, and the next command that reaches the relay sends it; otherwise nothing is stored. A group text
 * written offline is stored and encrypted once online (group/deferred.ts).
 */
import { RemoteError, SmsgError } from "../../src/errors.js";
import type { RelayClient } from "../relay-client.js";
import type { ChatRecord } from "../store/index.js";
import { refreshChats } from "./chats.js";
import { ChatClosedError, QueuedOfflineError, RelayUnreachableError } from "./errors.js";
import { deferGroupText } from "./group/deferred.js";
import { assertStillMember } from "./group/departure.js";
import { sendGroupText } from "./group/send.js";
import type { Account } from "./open-account.js";
import { checkTextBodySize } from "../protocol/app-message.js";
import { type SendResult, flushOutbox, queueText, sendablePeer } from "./outbox.js";
import { prepareTargets, storedTargets, targetDevices } from "./fanout-targets.js";
import type { PeerIdentityChecks } from "./peer-identity-checks.js";
import { checkIdentity } from "./sessions.js";

/**
 * Sends `body` in `chat` over `relay` (see the file comment; a group goes through
 * group/send.ts sendGroupText, online only). Throws ChatClosedError (closed here or on the relay: then the message is marked failed),
 * KeyChangedError, UserUnknownError, UsageError (empty or too long text), or a connection error
 * (the message then stays queued).
 */
export async function sendText(
  acct: Account,
  relay: RelayClient,
  given: ChatRecord,
  body: string,
  /** The interactive session's answers on `relay` (used only when they are of `relay`). */
  identityChecks?: PeerIdentityChecks,
): Promise<SendResult> {
  checkTextBodySize(body);
  let chat = given;
  // Closed here: maybe reopened since (by the peer, while we were not listening). Ask the relay.
  if (chat.closed) {
    await refreshChats(acct, relay);
    chat = acct.store.chats.get(chat.id) ?? chat;
  }
  if (chat.kind === "group") {
    assertStillMember(chat, "nothing was sent");
    if (chat.closed) throw new ChatClosedError(chat.id, chat.myRole === "admin");
    return sendGroupText(acct, relay, chat, body);
  }
  const peer = sendablePeer(acct, chat);
  if (identityChecks?.relay === relay) await identityChecks.check(peer);
  else await checkIdentity(acct, relay, peer);
  // Every device of both accounts, each with a session (SECURITY.md §17.5), before anything is stored.
  const { targets, events } = await prepareTargets(acct, relay, peer);
  const queued = queueText(acct, chat, body, targets);
  let flushed;
  try {
    flushed = await flushOutbox(acct, relay);
  } catch (e) {
    // The relay is up but its database is not: the message stays queued, as when offline.
    if (e instanceof RemoteError && e.code === "UNAVAILABLE")
      throw new QueuedOfflineError(acct.relayHost, acct.relayPort, queued.messageId, { cause: e });
    throw e;
  }
  const sent = flushed.sent.find((s) => s.messageId === queued.messageId);
  if (sent) return { queued, sent, events: [...events, ...(flushed.events ?? [])] };
  const failed = flushed.failed.find((f) => f.messageId === queued.messageId);
  if (failed?.code === "CHAT_CLOSED") {
    acct.store.chats.setClosed(chat.id, true);
    throw new ChatClosedError(chat.id);
  }
  throw new SmsgError(failed?.code ?? "SEND_FAILED", `the relay refused the message: ${failed?.reason ?? "no answer"}`);
}

/**
 * Without the relay: in a direct chat, encrypts and queues `body` when a session with the peer
 * exists; in a group, stores it to be encrypted once online (group/deferred.ts); then throws
 * QueuedOfflineError (the message is safe in the store). A direct chat without a session:
 * rethrows `offline` (the RelayUnreachableError that got us here) and stores nothing; so does a
 * device of the stored lists without a session. Throws
 * what sendablePeer, queueText and deferGroupText throw.
 */
export function queueTextOffline(acct: Account, chat: ChatRecord, body: string, offline: RelayUnreachableError): never {
  checkTextBodySize(body);
  if (chat.kind === "group") {
    const id = deferGroupText(acct, chat, body);
    throw new QueuedOfflineError(acct.relayHost, acct.relayPort, id, { cause: offline });
  }
  const peer = sendablePeer(acct, chat);
  const targets = storedTargets(acct, peer);
  if (targetDevices(acct, peer, targets).some((d) => !acct.store.sessions.current(d.to, d.device))) throw offline;
  const q = queueText(acct, chat, body, targets);
  throw new QueuedOfflineError(acct.relayHost, acct.relayPort, q.messageId, { cause: offline });
}
