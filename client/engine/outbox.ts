/**
 * Sending: a message is encrypted, stored (status "pending") and queued in the outbox with a
 * 16-byte idempotency id, all in ONE transaction (SECURITY.md §6.4: the advanced sessions are
 * stored before anything leaves). A 1:1 message is one envelope per device of both accounts
 * (SECURITY.md §17.5, fanout-send.ts), kept with its application message so that it can be
 * encrypted again when the relay answers DEVICE_LIST_STALE. Then the outbox is flushed: each
 * entry goes to the relay with its idem; on `sent` the message becomes "sent" (with the relay's
 * id and time) and leaves the outbox. Whatever is not acknowledged (relay down, connection
 * lost, crash) stays queued and is sent again, with the same idem, by the next flush: the relay
 * stores it once and the recipient shows it once (docs/ARCHITECTURE.md §3.7: exactly once on
 * the screen).
 */
import { CryptoVerificationError } from "../../crypto/errors.js";
import { type ErrorCode, InternalError, RemoteError, type SmsgError, UsageError } from "../../src/errors.js";
import { type AppMessage, encodeAppMessage } from "../protocol/app-message.js";
import { nextSeq } from "../protocol/sequence.js";
import type { RelayClient } from "../relay-client.js";
import type { ChatRecord, OutboxRecord } from "../store/index.js";
import { ChatClosedError, KeyChangedError, UserUnknownError } from "./errors.js";
import type { DeviceListEvent } from "./events.js";
import { DeviceListsUnsettledError, encryptDirect, idemOf, sendDirectEntry } from "./fanout-send.js";
import { type DirectTargets, storedTargets } from "./fanout-targets.js";
import type { Account } from "./open-account.js";
import { assertTrusted } from "./sessions.js";
import { storeOutgoingDirectText } from "./text-rows.js";

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
 * Encrypts `body` for the chat's peer to `targets` (default: by the lists the store holds,
 * fanout-targets.ts storedTargets; ensure the sessions first: prepareTargets), stores it as a
 * pending outgoing message with its sequence number, and queues it (one envelope, or one copy
 * per device, SECURITY.md §17.5), in one transaction. Before our first text in a chat it also
 * queues our display name (a `profile` message), when we have one. Throws what sendablePeer
 * throws, UsageError for an empty or too long body or without a session, what encryptDirect throws.
 */
export function queueText(acct: Account, chat: ChatRecord, body: string, targets?: DirectTargets): QueuedMessage {
  const { store } = acct;
  return store.transaction(() => {
    const peer = sendablePeer(acct, store.chats.get(chat.id) ?? chat);
    const to = targets ?? storedTargets(acct, peer);
    const last = store.messages.lastSenderSeq(chat.id, acct.username, 0, acct.deviceId);
    const ts = acct.now();
    if (last === null && acct.displayName !== null) {
      queueDirectApp(acct, chat.id, peer, to, { v: 1, k: "profile", display_name: acct.displayName });
    }
    const seq = nextSeq(last ?? 0);
    const app = encodeAppMessage({ v: 1, k: "text", chat: chat.id, seq, ts, body });
    const encrypted = encryptDirect(acct, peer, chat.id, to, app);
    return storeOutgoingDirectText(acct, chat.id, { seq, ts, body }, app, encrypted);
  });
}

/**
 * Queues a 1:1 application message without text (stored as a row without a body, hidden from
 * the history), encrypted to `targets`, inside the caller's transaction. Returns its local id
 * and idem. Throws what encryptDirect throws.
 */
export function queueDirectApp(
  acct: Account,
  chatId: number,
  peer: string,
  targets: DirectTargets,
  message: AppMessage,
): { messageId: number; idem: Uint8Array } {
  const { store } = acct;
  const app = encodeAppMessage(message);
  const encrypted = encryptDirect(acct, peer, chatId, targets, app);
  const { id } = store.messages.insert({
    chatId,
    relayMsgId: null,
    sender: acct.username,
    sentAt: acct.now(),
    body: null,
    direction: "out",
    status: "pending",
    senderSeq: null,
  });
  const idem = idemOf(encrypted);
  store.outbox.addDirect({ idem, chatId, messageId: id, app, encrypted });
  return { messageId: id, idem };
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
  /** What device lists fetched on the way tell the user (SECURITY.md §17.4's table). */
  readonly events?: readonly DeviceListEvent[];
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
  /** What device lists fetched again on the way (DEVICE_LIST_STALE) tell the user (SECURITY.md §17.4). */
  readonly events?: readonly DeviceListEvent[];
}

/**
 * Relay errors after which resending the same entry can never succeed. DEVICE_LIST_STALE: a
 * `send` of an entry queued before §17 (it cannot be encrypted again), or a 1:1 message refused
 * MAX_STALE_RETRIES times after encrypting it again (fanout-send.ts).
 */
const FINAL = new Set([
  "CHAT_CLOSED",
  "CHAT_UNKNOWN",
  "NOT_A_MEMBER",
  "IDEMPOTENCY_CONFLICT",
  "BAD_MESSAGE",
  "DEVICE_LIST_STALE",
  "DEVICE_UNKNOWN",
  "USER_UNKNOWN",
  "USER_DISABLED",
]);

/** True for a failure that ends one entry, not the flush: a final refusal, or a 1:1 message that cannot be encrypted again. */
function endsEntry(e: unknown): e is SmsgError {
  if (e instanceof RemoteError) return FINAL.has(e.code);
  return (
    e instanceof KeyChangedError ||
    e instanceof UserUnknownError ||
    e instanceof CryptoVerificationError ||
    e instanceof DeviceListsUnsettledError ||
    e instanceof UsageError
  );
}

/** Sends one entry: a 1:1 message through fanout-send.ts, anything else as the one `send` it is. */
async function sendEntry(acct: Account, relay: RelayClient, o: OutboxRecord, events: DeviceListEvent[]) {
  if (o.app !== null) return sendDirectEntry(acct, relay, o, events);
  if (o.envelope === null) throw new InternalError("an outbox entry without an envelope or a message");
  const r = await relay.request<"send">({
    t: "send",
    chat: o.chatId,
    idem: o.idem,
    envelope: o.envelope,
    ...(o.to !== null ? { to: o.to } : {}),
  });
  return { msg: r.msg, ts: r.ts, duplicate: r.duplicate, idem: o.idem };
}

/**
 * Sends every queued entry, oldest first, each with its own idem (a 1:1 message encrypted
 * again after DEVICE_LIST_STALE keeps it, fanout-send.ts). On `sent`: marks the message sent and
 * removes the entry (one transaction). A final refusal (endsEntry) marks the message failed
 * and removes the entry. Any other failure (the connection) stops the flush and is thrown;
 * what is left stays queued for the next one.
 */
export async function flushOutbox(acct: Account, relay: RelayClient): Promise<FlushResult> {
  const { store } = acct;
  const sent: SentMessage[] = [];
  const failed: FailedMessage[] = [];
  const events: DeviceListEvent[] = [];
  const done = new Set<string>();
  const hex = (idem: Uint8Array) => Buffer.from(idem).toString("hex");
  for (;;) {
    const batch = store.outbox.list(100).filter((o) => !done.has(hex(o.idem)));
    if (batch.length === 0) break;
    for (const o of batch) {
      done.add(hex(o.idem));
      store.outbox.bumpAttempts(o.idem);
      let r;
      try {
        r = await sendEntry(acct, relay, o, events);
      } catch (e) {
        if (endsEntry(e)) {
          const code = e.code as ErrorCode;
          store.transaction(() => {
            if (o.messageId !== null) store.messages.setStatus(o.messageId, "failed");
            store.outbox.remove(o.idem);
            // A 1:1 message's idem may have changed on the way (fanout-send.ts): its row is the message's.
            if (o.app !== null && o.messageId !== null)
              for (const q of store.outbox.list()) if (q.messageId === o.messageId) store.outbox.remove(q.idem);
          });
          failed.push({ chat: o.chatId, messageId: o.messageId, code, reason: e.message });
          continue;
        }
        throw e;
      }
      if (r === null) continue; // another process sent it meanwhile
      const reply = r;
      done.add(hex(reply.idem));
      store.transaction(() => {
        // Another process (a running `smsg listen`) may have flushed it already: same relay id.
        if (o.messageId !== null && store.messages.get(o.messageId)?.relayMsgId !== reply.msg) {
          store.messages.markSent(o.messageId, reply.msg, reply.ts);
        }
        store.outbox.remove(reply.idem);
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
  return { sent, failed, events };
}
