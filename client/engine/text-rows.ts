/**
 * Storing text messages, the same for 1:1 chats and groups: an outgoing one as a pending row
 * plus its outbox entry, an incoming one with the events it raises (a gap, the message).
 * Callers run these inside the store transaction that also holds the session or sender-key
 * update, so the message and the key state commit together.
 */
import { derivedIdem } from "../../src/wire/index.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import type { TextMessage } from "../protocol/app-message.js";
import type { DirectEncryption } from "../store/index.js";
import type { EngineEvent } from "./events.js";
import type { Account } from "./open-account.js";
import type { QueuedMessage } from "./outbox.js";
import type { SequenceVerdict } from "../protocol/sequence.js";
import { idemOf } from "./fanout-send.js";

/** Stores our text as a pending message and queues its envelope under its derived idempotency id. */
export function storeOutgoingText(
  acct: Account,
  chatId: number,
  text: { seq: number; ts: number; body: string },
  envelope: Uint8Array,
): QueuedMessage {
  const { store } = acct;
  const { id } = store.messages.insert({
    chatId,
    relayMsgId: null,
    sender: acct.username,
    sentAt: text.ts,
    body: text.body,
    direction: "out",
    status: "pending",
    senderDevice: acct.deviceId,
    senderSeq: text.seq,
    senderTs: text.ts,
  });
  // The id a version-2 connection derives (SECURITY.md §14.9), used over version 1 too, so a
  // retry on a connection of the other version is still the same send.
  const idem = derivedIdem(envelope);
  store.outbox.add({ idem, chatId, messageId: id, envelope });
  return { messageId: id, idem, seq: text.seq };
}

/**
 * Stores our 1:1 text as a pending message and queues it with its application message (kept
 * to encrypt it again, SECURITY.md §17.7) and its encryption: one envelope or per-device copies
 * (fanout-send.ts). The idem is derived from the (first) envelope, as storeOutgoingText's.
 */
export function storeOutgoingDirectText(
  acct: Account,
  chatId: number,
  text: { seq: number; ts: number; body: string },
  app: Uint8Array,
  encrypted: DirectEncryption,
): QueuedMessage {
  const { store } = acct;
  const { id } = store.messages.insert({
    chatId,
    relayMsgId: null,
    sender: acct.username,
    sentAt: text.ts,
    body: text.body,
    direction: "out",
    status: "pending",
    senderDevice: acct.deviceId,
    senderSeq: text.seq,
    senderTs: text.ts,
  });
  const idem = idemOf(encrypted);
  store.outbox.addDirect({ idem, chatId, messageId: id, app, encrypted });
  return { messageId: id, idem, seq: text.seq };
}

/** Stores a received text and appends its events: a gap first when the sequence shows one. */
export function storeIncomingText(
  acct: Account,
  m: RelayMessageOf<"msg">,
  app: TextMessage,
  verdict: SequenceVerdict,
  keyChanged: boolean,
  events: EngineEvent[],
): void {
  if (verdict.kind === "gap")
    events.push({ type: "gap", chat: m.chat, from: m.from, missingFrom: verdict.from, missingTo: verdict.to });
  const { id } = acct.store.messages.insert({
    chatId: m.chat,
    relayMsgId: m.msg,
    sender: m.from,
    sentAt: m.ts,
    body: app.body,
    direction: "in",
    status: "delivered",
    senderSeq: app.seq,
    senderTs: app.ts,
  });
  events.push({
    type: "message",
    chat: m.chat,
    id,
    relayMsg: m.msg,
    from: m.from,
    ts: m.ts,
    senderTs: app.ts,
    seq: app.seq,
    seqStatus: verdict.kind,
    body: app.body,
    keyChanged,
  });
}
