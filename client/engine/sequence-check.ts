/**
 * The verdict on a received text message's sequence number (client/protocol/sequence.ts,
 * SECURITY.md §15.3), computed from the history already stored: the local store keeps each
 * message's `sender_seq` but no tracker state, so the tracker is rebuilt from the stored
 * numbers — the highest one, and a lookup to tell a late number from a reused one.
 *
 * Numbers are counted per (chat, sender account, sender device) (SECURITY.md §17.5): each device
 * of an account numbers its own texts, so every lookup here is for one sending device.
 *
 * After a contact's key change was resolved (accepted or confirmed), the tracker restarts
 * unanchored (§15.3.2: the sender's counters went with the old key): only numbers stored since
 * the change count. Rebuilding that looks through at most MAX_MISSING recent messages of the
 * chat; past that the change is old enough for the plain rule to hold.
 */
import {
  type SequenceState,
  type SequenceVerdict,
  MAX_MISSING,
  newSequence,
  observe,
  unanchoredSequence,
} from "../protocol/sequence.js";
import { MAX_HISTORY_PAGE } from "../store/index.js";
import type { ClientStore, MessageRecord } from "../store/index.js";

/**
 * What message `seq` from `sender` in chat `chatId` means, before it is stored: "ok" (the next
 * one, or the first after a reset), "gap" (numbers from..to never arrived), "late" (fills an
 * earlier gap) or "duplicate" (that number was stored before: the sender reused it). Reads only.
 * `sinceId`: only messages stored after this local id count (a group we were added back to).
 * `senderDevice`: the sending device (1 for an account without devices). `unanchoredFirst`:
 * the first number stored from that device starts its count (on a device other than 1).
 */
export function sequenceVerdict(
  store: ClientStore,
  chatId: number,
  sender: string,
  seq: number,
  sinceId = 0,
  senderDevice = 1,
  unanchoredFirst = false,
): SequenceVerdict {
  const from: Sender = { user: sender, device: senderDevice };
  const contact = store.contacts.get(sender);
  const since = contact && !contact.keyChanged ? contact.keyChangedAt : null;
  if (since !== null) {
    const recent = recentSeqs(store, chatId, from, since);
    if (recent !== undefined) {
      if (recent.size === 0) return observe(unanchoredSequence(), seq).verdict;
      return verdictFrom(Math.max(...recent), seq, () => recent.has(seq));
    }
  }
  const last = store.messages.lastSenderSeq(chatId, sender, sinceId, senderDevice);
  // On a device added to its account later, what a sender wrote before it existed was not for it
  // (§17.6 "What a new device sees"): its first number here is where it starts (§15.3.1).
  if (last === null && unanchoredFirst) return observe(unanchoredSequence(), seq).verdict;
  return verdictFrom(last ?? 0, seq, () => seqStored(store, chatId, from, seq));
}

/** One sending device: the numbers of §15.3 are its own (§17.5). */
interface Sender {
  readonly user: string;
  readonly device: number;
}

function isFrom(m: MessageRecord, s: Sender): boolean {
  return m.sender === s.user && m.senderDevice === s.device;
}

function verdictFrom(last: number, seq: number, stored: () => boolean): SequenceVerdict {
  if (seq > last) {
    const state: SequenceState = { ...newSequence(), highest: last };
    return observe(state, seq).verdict;
  }
  return stored() ? { kind: "duplicate" } : { kind: "late" };
}

/** Newest first, page by page, up to `max` messages of a chat. */
function* recentMessages(store: ClientStore, chatId: number, max: number): Generator<MessageRecord> {
  let before: number | undefined;
  let seen = 0;
  for (;;) {
    const page = store.messages.history(chatId, {
      limit: MAX_HISTORY_PAGE,
      ...(before !== undefined ? { beforeId: before } : {}),
    });
    for (let i = page.messages.length - 1; i >= 0; i--) {
      if (seen++ >= max) return;
      yield page.messages[i]!;
    }
    const first = page.messages[0];
    if (!page.more || first === undefined) return;
    before = first.id;
  }
}

/**
 * The numbers from `sender`'s device stored at or after `since`, or undefined when more than MAX_MISSING
 * messages were stored since then (the change is old: use the plain rule).
 */
function recentSeqs(store: ClientStore, chatId: number, sender: Sender, since: number): Set<number> | undefined {
  const out = new Set<number>();
  for (const m of recentMessages(store, chatId, MAX_MISSING + 1)) {
    if (m.storedAt < since) return out;
    if (isFrom(m, sender) && m.senderSeq !== null) out.add(m.senderSeq);
  }
  return store.messages.count(chatId) > MAX_MISSING ? undefined : out;
}

/** Whether a message numbered `seq` from `sender` is stored in the chat (pages through its history: a rare path). */
function seqStored(store: ClientStore, chatId: number, sender: Sender, seq: number): boolean {
  for (const m of recentMessages(store, chatId, Number.MAX_SAFE_INTEGER)) {
    if (isFrom(m, sender) && m.senderSeq === seq) return true;
  }
  return false;
}
