/**
 * Sending: a message is encrypted, stored (status "pending") and queued in the outbox with a
 * fresh 16-byte idempotency id, all in ONE transaction (SECURITY.md §6.4: the advanced session
 * is stored before the envelope leaves). Then the outbox is flushed: each envelope goes to the
 * relay with its idem; on `sent` the message becomes "sent" (with the relay's id and time) and
 * leaves the outbox. Whatever is not acknowledged (relay down, connection lost, crash) stays
 * queued and is sent again, with the same idem, by the next flush: the relay stores it once
 * and the recipient shows it once (docs/ARCHITECTURE.md §3.7: exactly once on the screen).
 */
import { type ErrorCode, InternalError, RemoteError } from "../../src/errors.js";
import { type AppMessage, encodeAppMessage } from "../protocol/app-message.js";
import { nextSeq } from "../protocol/sequence.js";
import type { RelayClient } from "../relay-client.js";
import { derivedIdem } from "../../src/wire/index.js";
import type { ChatRecord } from "../store/index.js";
import { ChatClosedError } from "./errors.js";
import type { Account } from "./open-account.js";
import { assertTrusted, encryptForPeer } from "./sessions.js";
import { storeOutgoingText } from "./text-rows.js";

/** A message queued by queueText. */
export interface QueuedMessage {
  /** Local id of the stored message. */
  readonly messageId: number;
  readonly idem: Uint8Array;
  /** Its sequence number in the chat. */
  readonly seq: number;
}

/**
 * The peer of a direct chat we may send to. Throws ChatClosedError, KeyChangedError, and
 * InternalError for a group chat: those are sent by groups.ts, which callers choose first.
 */
export function sendablePeer(acct: Account, chat: ChatRecord): string {
  if (chat.kind !== "direct" || chat.peer === null)
    throw new InternalError(`chat ${chat.id} is a group chat: it has no single peer to send to`);
  if (chat.closed) throw new ChatClosedError(chat.id);
  assertTrusted(acct.store, chat.peer);
  return chat.peer;
}

/**
 * Encrypts `body` for the chat's peer on the current session (ensure one first:
 * sessions.ts ensureSession), stores it as a pending outgoing message with its sequence
 * number, and queues the envelope, in one transaction. Before our first text in a chat it also
 * queues our display name (a `profile` message), when we have one. Throws what sendablePeer
 * throws, UsageError for an empty or too long body or without a session.
 */
export function queueText(acct: Account, chat: ChatRecord, body: string): QueuedMessage {
  const { store } = acct;
  return store.transaction(() => {
    const peer = sendablePeer(acct, store.chats.get(chat.id) ?? chat);
    const last = store.messages.lastSenderSeq(chat.id, acct.username);
    const ts = acct.now();
    if (last === null && acct.displayName !== null) {
      queueApp(acct, chat.id, peer, { v: 1, k: "profile", display_name: acct.displayName }, null);
    }
    const seq = nextSeq(last ?? 0);
    const text: AppMessage = { v: 1, k: "text", chat: chat.id, seq, ts, body };
    const envelope = encryptForPeer(acct, peer, encodeAppMessage(text));
    return storeOutgoingText(acct, chat.id, { seq, ts, body }, envelope);
  });
}

/** Queues an application message without text (stored as a row without a body, hidden from the history). */
function queueApp(acct: Account, chatId: number, peer: string, app: AppMessage, seq: number | null): void {
  const { store } = acct;
  const envelope = encryptForPeer(acct, peer, encodeAppMessage(app));
  const { id } = store.messages.insert({
    chatId,
    relayMsgId: null,
    sender: acct.username,
    sentAt: acct.now(),
    body: null,
    direction: "out",
    status: "pending",
    senderSeq: seq,
  });
  store.outbox.add({ idem: derivedIdem(envelope), chatId, messageId: id, envelope });
}

/** One outbox entry the relay acknowledged. */
export interface SentMessage {
  readonly chat: number;
  /** Local message id (null for an entry that carried no stored message). */
  readonly messageId: number | null;
  readonly relayMsg: number;
  readonly ts: number;
  /** The relay had it already (a retry of a send whose answer was lost). */
  readonly duplicate: boolean;
}

/** What a text send returns (send.ts sendText, group/send.ts): the message as queued and as the relay acknowledged it. */
export interface SendResult {
  readonly queued: QueuedMessage;
  readonly sent: SentMessage;
  /** Things the user should know (a group member the relay added without a signed announcement). */
  readonly warnings?: readonly string[];
}

/** One outbox entry the relay refused for good: its message is marked "failed" and dropped from the outbox. */
export interface FailedMessage {
  readonly chat: number;
  readonly messageId: number | null;
  /** The relay's error code (CHAT_CLOSED, CHAT_UNKNOWN, NOT_A_MEMBER, IDEMPOTENCY_CONFLICT). */
  readonly code: ErrorCode;
  readonly reason: string;
}

/** What flushOutbox did. */
export interface FlushResult {
  readonly sent: readonly SentMessage[];
  readonly failed: readonly FailedMessage[];
}

/** Relay errors after which resending the same envelope can never succeed. */
const FINAL = new Set(["CHAT_CLOSED", "CHAT_UNKNOWN", "NOT_A_MEMBER", "IDEMPOTENCY_CONFLICT", "BAD_MESSAGE"]);

/**
 * Sends every queued envelope, oldest first, each with its own idem. On `sent`: marks the
 * message sent and removes the entry (one transaction). A final refusal (FINAL) marks the
 * message failed and removes the entry. Any other failure (the connection) stops the flush and
 * is thrown; what is left stays queued for the next one.
 */
export async function flushOutbox(acct: Account, relay: RelayClient): Promise<FlushResult> {
  const { store } = acct;
  const sent: SentMessage[] = [];
  const failed: FailedMessage[] = [];
  const done = new Set<string>();
  for (;;) {
    const batch = store.outbox.list(100).filter((o) => !done.has(Buffer.from(o.idem).toString("hex")));
    if (batch.length === 0) break;
    for (const o of batch) {
      done.add(Buffer.from(o.idem).toString("hex"));
      store.outbox.bumpAttempts(o.idem);
      let r;
      try {
        r = await relay.request<"send">({
          t: "send",
          chat: o.chatId,
          idem: o.idem,
          envelope: o.envelope,
          ...(o.to !== null ? { to: o.to } : {}),
        });
      } catch (e) {
        if (e instanceof RemoteError && FINAL.has(e.code)) {
          store.transaction(() => {
            if (o.messageId !== null) store.messages.setStatus(o.messageId, "failed");
            store.outbox.remove(o.idem);
          });
          failed.push({ chat: o.chatId, messageId: o.messageId, code: e.code, reason: e.message });
          continue;
        }
        throw e;
      }
      const reply = r;
      store.transaction(() => {
        // Another process (a running `smsg listen`) may have flushed it already: same relay id.
        if (o.messageId !== null && store.messages.get(o.messageId)?.relayMsgId !== reply.msg) {
          store.messages.markSent(o.messageId, reply.msg, reply.ts);
        }
        store.outbox.remove(o.idem);
      });
      sent.push({
        chat: o.chatId,
        messageId: o.messageId,
        relayMsg: reply.msg,
        ts: reply.ts,
        duplicate: reply.duplicate,
      });
    }
  }
  return { sent, failed };
}
