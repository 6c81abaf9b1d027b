/**
 * Storing a received text with the device that sent it (SECURITY.md §17.5): a contact's text as
 * incoming, and a copy of our own text from another device of our account ("sent by you on
 * another device") as OUR outgoing message, already sent (the relay's id and time are the
 * copy's), so the history shows it as ours, once, and nothing answers it. Sequence numbers are
 * the sending device's own (sequence-check.ts). Inside the caller's store transaction.
 * A received control message (a profile, a group state, a device list, …) is a row without a
 * body (storeControlRow), so its relay id counts as held like a text's.
 */
import type { RelayMessageOf } from "../../src/wire/messages.js";
import type { TextMessage } from "../protocol/app-message.js";
import type { SequenceVerdict } from "../protocol/sequence.js";
import type { EngineEvent } from "./events.js";
import type { Account } from "./open-account.js";

/**
 * Stores `app`, from `m.from`'s device `m.from_device` (absent: 1), and appends its events: a
 * gap first when the verdict is one, then the message. `own`: a copy of our own text (m.from is
 * our account) filed as outgoing in chat `m.chat`.
 */
export function storeReceivedText(
  acct: Account,
  m: RelayMessageOf<"msg">,
  app: TextMessage,
  verdict: SequenceVerdict,
  keyChanged: boolean,
  own: boolean,
  events: EngineEvent[],
): void {
  const device = m.from_device ?? 1;
  if (verdict.kind === "gap")
    events.push({ type: "gap", chat: m.chat, from: m.from, missingFrom: verdict.from, missingTo: verdict.to });
  const { id } = acct.store.messages.insert({
    chatId: m.chat,
    relayMsgId: m.msg,
    sender: m.from,
    sentAt: m.ts,
    body: app.body,
    direction: own ? "out" : "in",
    status: own ? "sent" : "delivered",
    senderSeq: app.seq,
    senderTs: app.ts,
    senderDevice: device,
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
    own,
    fromDevice: device,
    // (Looked up only where it is shown: a contact's device 1 is the account itself, §17.1.)
    deviceName: own || device !== 1 ? (acct.store.deviceLists.device(m.from, device)?.name ?? null) : null,
  });
}

/**
 * The row of a received control message from `m.from`'s device `device`: no body, nothing to
 * show; ours from another device of our account as outgoing and sent, as storeReceivedText files
 * our texts. It marks the relay id as held (a repeat is a duplicate, the cursor may pass it).
 */
export function storeControlRow(acct: Account, m: RelayMessageOf<"msg">, device: number): void {
  const own = m.from === acct.username;
  acct.store.messages.insert({
    chatId: m.chat,
    relayMsgId: m.msg,
    sender: m.from,
    sentAt: m.ts,
    body: null,
    direction: own ? "out" : "in",
    status: own ? "sent" : "delivered",
    senderDevice: device,
  });
}
