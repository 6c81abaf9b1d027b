/**
 * Storing our outgoing texts, the same for 1:1 chats and groups: a pending row of this device
 * plus its outbox entry (received ones: received-text.ts).
 * Callers run these inside the store transaction that also holds the session or sender-key
 * update, so the message and the key state commit together.
 */
import { derivedIdem } from "../../src/wire/index.js";
import type { DirectEncryption } from "../store/index.js";
import type { Account } from "./open-account.js";
import type { QueuedMessage } from "./outbox.js";
import { idemOf } from "./fanout-send.js";

/** Our text as a pending message of this device (its numbers are this device's own, §17.5); returns its local id. */
function insertOutgoingText(acct: Account, chatId: number, text: { seq: number; ts: number; body: string }): number {
  return acct.store.messages.insert({
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
  }).id;
}

/** Stores our text as a pending message and queues its envelope under its derived idempotency id. */
export function storeOutgoingText(
  acct: Account,
  chatId: number,
  text: { seq: number; ts: number; body: string },
  envelope: Uint8Array,
): QueuedMessage {
  const id = insertOutgoingText(acct, chatId, text);
  // The id a version-2 connection derives (SECURITY.md §14.9), used over version 1 too, so a
  // retry on a connection of the other version is still the same send.
  const idem = derivedIdem(envelope);
  acct.store.outbox.add({ idem, chatId, messageId: id, envelope });
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
  const id = insertOutgoingText(acct, chatId, text);
  const idem = idemOf(encrypted);
  acct.store.outbox.addDirect({ idem, chatId, messageId: id, app, encrypted });
  return { messageId: id, idem, seq: text.seq };
}
