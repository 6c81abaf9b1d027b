/**
 * One incoming `msg` frame (pushed, or part of a `sync` reply) into the history: decrypt,
 * advance the session, store the message, in ONE store transaction (docs/ARCHITECTURE.md §4.1),
 * so a crash never leaves a session that moved past a message that was not stored.
 *
 * - Idempotent on (chat, relay message id): a message stored before is not decrypted again
 *   (its keys are gone) and reports nothing.
 * - A message that cannot be decrypted is stored with status "undecryptable" and reported;
 *   never dropped, and never a reason to touch the session (SECURITY.md §6.7).
 * - Text carries the sender's per-chat sequence number (client/protocol/app-message.ts): a jump
 *   is reported as a gap, and the message is marked late or duplicate when it is one.
 * - Group chats are handled by group/receive.ts (storeGroupIncoming), in the same transaction.
 * - Devices (SECURITY.md §17.5): a pairwise plaintext carries the fan-out header; the receiving
 *   device's checks (client/protocol/fanout.ts) refuse a copy that is not for it, and a copy of
 *   our own text from another device of our account is filed as ours (received-text.ts). A
 *   frame from a device the sender's accepted list does not hold first makes us fetch that list
 *   (once per account per page, device-list-update.ts), so a device added since our last fetch
 *   is accepted; one still unlisted after that is refused (sessions.ts).
 * - Other application messages (a display name; group keys and states) are stored as rows without
 *   a body, so they too are processed exactly once; the history does not show them.
 *
 * - A `sync` page is stored by receivePage, many frames per transaction (one commit, not one
 *   per message), each frame still alone in its savepoint. A page may hold `held` stubs
 *   (SECURITY.md §14.7 "Held messages"): each is checked against the store only, and one for a
 *   message we do not hold fails like a frame that could not be stored (never acked over).
 *
 * This file never moves delivery cursors: only sync.ts does, for what a `sync` returned.
 */
import { CodecError } from "../../crypto/errors.js";
import { wipe } from "../../crypto/primitives.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import { AppMessageError, appMessageErrorText, decodeAppMessage } from "../protocol/app-message.js";
import { checkArrival } from "../protocol/arrival.js";
import { type FanoutRefusal, type PairwisePlaintext, checkFanout, splitPairwisePlaintext } from "../protocol/fanout.js";
import type { RelayClient } from "../relay-client.js";
import type { ChatRecord, MessageRecord } from "../store/index.js";
import { refreshChats } from "./chats.js";
import { takeDeviceList } from "./device-list-message.js";
import { followDeviceList, isListAnswer } from "./device-list-update.js";
import { takeDisplayName } from "./display-names.js";
import { HeldMissingError } from "./errors.js";
import type { EngineEvent, Received } from "./events.js";
import type { Account } from "./open-account.js";
import { groupFrameNeedsMembers, prepareGroupFrame, storeGroupIncoming } from "./group/receive.js";
import { storeControlRow, storeReceivedText } from "./received-text.js";
import { sequenceVerdict } from "./sequence-check.js";
import { type Decrypted, openPairwise } from "./sessions.js";

/**
 * True for a stored row that is not a chat message to show: an application message without
 * text (a display name, a group key). Undecryptable messages have no body either but are shown.
 */
export function isControlRow(m: MessageRecord): boolean {
  return m.body === null && m.status !== "undecryptable";
}

/**
 * Processes one `msg` frame: learns its chat from the relay first when it is new to us (a peer
 * opened it), then stores it (storeIncoming). Throws only for local failures (the store, the
 * relay's chat list); the frame is then not stored and comes again with the next sync.
 */
export async function receiveMessage(acct: Account, relay: RelayClient, m: RelayMessageOf<"msg">): Promise<Received> {
  const before = await prepareFrame(acct, relay, m, new Set());
  const r = storeIncoming(acct, m);
  return before.length > 0 ? { ...r, events: [...before, ...r.events] } : r;
}

/**
 * True when `m` comes from a device that the accepted list of its account does not hold (or,
 * for an account we hold no list for, from a device other than 1; for our own account, from
 * any device while we hold no list), so that fetching the list first may accept it (§17.4).
 */
function fromUnlistedDevice(acct: Account, m: RelayMessageOf<"msg">): boolean {
  const device = m.from_device ?? 1;
  const state = acct.store.deviceLists.get(m.from);
  if (state === undefined) return m.from === acct.username || device !== 1;
  return !state.list.devices.some((d) => d.id === device);
}

/** True when `m` is from an unlisted device whose account's list was not fetched yet for this page, and not stored already. */
function wantsDeviceList(acct: Account, m: RelayMessageOf<"msg">, fetched: ReadonlySet<string>): boolean {
  return !fetched.has(m.from) && fromUnlistedDevice(acct, m) && !acct.store.messages.getByRelayId(m.chat, m.msg);
}

/** A frame of a sync page: a message, or the `held` stub of one we said we hold (§14.7). */
export type PageFrame = RelayMessageOf<"msg"> | RelayMessageOf<"held">;

/**
 * True when storing `m` needs the relay first (prepareFrame): its chat is new to us, a group's
 * member list may be needed, or its sending device is not in the list we hold (`fetched`: the
 * accounts whose list this page fetched already). A `held` stub never does.
 */
function needsRelay(acct: Account, m: PageFrame, fetched: ReadonlySet<string>): boolean {
  if (m.t === "held") return false;
  return !acct.store.chats.get(m.chat) || groupFrameNeedsMembers(acct, m) || wantsDeviceList(acct, m, fetched);
}

/**
 * A `held` stub's outcome (§14.7 "Held messages"): nothing to store when the store holds that
 * message (the reply only confirms its place, so the caller may ack over it); a failure when it
 * does not, so the caller acks only up to before it and asks for it again in full.
 */
function heldOutcome(acct: Account, m: RelayMessageOf<"held">): FrameOutcome {
  if (acct.store.messages.getByRelayId(m.chat, m.msg)) return { ok: true, received: { stored: false, events: [] } };
  return { ok: false, error: new HeldMissingError(m.chat, m.msg) };
}

/**
 * What storing the frame needs from the relay, asked before its transaction (which must not
 * await). Returns the events of a device list it fetched (journaled already), and adds the
 * account to `fetched`. A fetch that the relay answered with a refusal (isListAnswer) is not
 * a failure: the frame is then decided by what we hold (an unlisted device is refused).
 */
async function prepareFrame(
  acct: Account,
  relay: RelayClient,
  m: RelayMessageOf<"msg">,
  fetched: Set<string>,
): Promise<EngineEvent[]> {
  if (!acct.store.chats.get(m.chat)) {
    await refreshChats(acct, relay);
    // Not listed (we left it since?): still store what was delivered, under a direct chat with the
    // sender. A copy from our own other device names the chat's peer only inside: storeFrame files it.
    if (!acct.store.chats.get(m.chat) && m.from !== acct.username)
      acct.store.chats.upsert({ id: m.chat, kind: "direct", peer: m.from, myRole: "member" });
  }
  await prepareGroupFrame(acct, relay, m);
  if (!wantsDeviceList(acct, m, fetched)) return [];
  try {
    const events = await followDeviceList(acct, relay, m.from);
    fetched.add(m.from);
    return events;
  } catch (e) {
    if (!isListAnswer(e)) throw e;
    fetched.add(m.from);
    return [];
  }
}

/**
 * How one frame of a page ended: stored (or found stored), or a local failure (not stored; it
 * comes again). `events` of a failure: what was told before it (a device list fetched for it).
 */
export type FrameOutcome =
  | { readonly ok: true; readonly received: Received }
  | { readonly ok: false; readonly error: unknown; readonly events?: readonly EngineEvent[] };

/** `o` with `before` ahead of its events. */
function withEventsBefore(o: FrameOutcome, before: readonly EngineEvent[]): FrameOutcome {
  if (before.length === 0) return o;
  if (o.ok) return { ok: true, received: { ...o.received, events: [...before, ...o.received.events] } };
  return { ...o, events: [...before, ...(o.events ?? [])] };
}

/**
 * Stores the frames of one `sync` reply (a page), in order, in as few transactions as it can:
 * the frames between two that need the relay first (prepareFrame: a chat new to us, a group
 * frame that needs the member list) are stored in ONE transaction, each frame in its own
 * savepoint, so one synchronous commit covers them all (docs/ARCHITECTURE.md §4.1) instead of
 * one per message. The relay is asked at the frame's place in the page, after the frames before
 * it are committed, exactly as frame-by-frame processing would.
 *
 * Per frame the guarantees of storeIncoming hold: an envelope that does not decrypt is stored as
 * undecryptable; a local failure rolls back that frame's savepoint only, and the others of the
 * page are still stored. When SQLite gave up the whole transaction (its commit failed, or it
 * rolled back on its own, as it may for a full disk), every frame of that transaction failed and
 * nothing of it is stored. `onOutcome` gets each frame's outcome in page order, after the
 * transaction holding it committed; the caller acks only after the whole page (sync.ts).
 * `stop` is asked between transactions (the receiver was detached).
 */
export async function receivePage(
  acct: Account,
  relay: RelayClient,
  frames: readonly PageFrame[],
  onOutcome: (m: PageFrame, outcome: FrameOutcome) => void,
  stop: () => boolean = () => false,
): Promise<void> {
  // Chats with a frame that failed, and its error: their later frames wait for the next sync.
  const failed = new Map<number, unknown>();
  // Accounts whose device list this page fetched: once each (§17.4, a device added since our last fetch).
  const fetched = new Set<string>();
  // Unlisted sending devices warned about in this page: once each (§17.4).
  const warned = new Set<string>();
  const report = (m: PageFrame, o: FrameOutcome) => {
    if (!o.ok && !failed.has(m.chat)) failed.set(m.chat, o.error);
    onOutcome(m, o);
  };
  let i = 0;
  while (i < frames.length && !stop()) {
    const first = frames[i]!;
    if (failed.has(first.chat)) {
      report(first, { ok: false, error: failed.get(first.chat) });
      i++;
      continue;
    }
    let before: EngineEvent[] = [];
    if (first.t === "msg" && needsRelay(acct, first, fetched)) {
      try {
        before = await prepareFrame(acct, relay, first, fetched);
      } catch (error) {
        report(first, { ok: false, error });
        i++;
        continue;
      }
    }
    const outcomes = storeRun(acct, frames, i, failed, { fetched, warned });
    outcomes.forEach((o, k) => report(frames[i + k]!, k === 0 ? withEventsBefore(o, before) : o));
    i += outcomes.length;
  }
}

/**
 * One transaction (receivePage) over frames[start] and the frames after it up to the next one
 * that needs the relay, each in a savepoint; returns their outcomes. Whether the next frame
 * needs the relay is asked after the one before it is stored, as frame by frame. After a frame
 * fails, the later frames of its chat are not stored (they fail with the same error and come
 * again with the next sync): stored past a hole, they would be out of order.
 */
function storeRun(
  acct: Account,
  frames: readonly PageFrame[],
  start: number,
  failedBefore: ReadonlyMap<number, unknown>,
  page: { readonly fetched: ReadonlySet<string>; readonly warned: Set<string> },
): FrameOutcome[] {
  const { store } = acct;
  let end = start;
  try {
    return store.transaction(() => {
      const failed = new Map(failedBefore);
      const outcomes: FrameOutcome[] = [];
      do {
        const m = frames[end++]!;
        if (failed.has(m.chat)) {
          outcomes.push({ ok: false, error: failed.get(m.chat) });
          continue;
        }
        if (m.t === "held") {
          const o = heldOutcome(acct, m);
          if (!o.ok) failed.set(m.chat, o.error);
          outcomes.push(o);
          continue;
        }
        try {
          outcomes.push({ ok: true, received: storeIncoming(acct, m, page.warned) });
        } catch (error) {
          // SQLite ended the whole transaction: what the run stored so far is gone, so all of it failed.
          if (!store.inTransaction) throw error;
          failed.set(m.chat, error);
          outcomes.push({ ok: false, error });
        }
      } while (end < frames.length && (failed.has(frames[end]!.chat) || !needsRelay(acct, frames[end]!, page.fetched)));
      return outcomes;
    });
  } catch (error) {
    // (BEGIN itself failed, say the lock was busy: then the first frame failed.)
    return frames.slice(start, Math.max(end, start + 1)).map(() => ({ ok: false, error }));
  }
}

/**
 * Decrypts and stores one `msg` frame of a chat already in the store, in one transaction (see
 * the file comment), with the events it raised appended to the event journal (so a listener in
 * another process reports them too: client/store/event-journal.ts). Synchronous. Throws only
 * for local failures (nothing is then stored). `warned`: the unlisted sending devices already
 * warned about (§17.4) in this page, so each is warned about once per page.
 */
export function storeIncoming(acct: Account, m: RelayMessageOf<"msg">, warned: Set<string> = new Set()): Received {
  const { store } = acct;
  return store.transaction((): Received => {
    const r = storeFrame(acct, m, warned);
    for (const e of r.events) store.journal.append(JSON.stringify(e));
    return r;
  });
}

/** storeIncoming without the journal, inside its transaction. */
function storeFrame(acct: Account, m: RelayMessageOf<"msg">, warned: Set<string>): Received {
  const { store } = acct;
  if (store.messages.getByRelayId(m.chat, m.msg)) return { stored: false, events: [] };
  const chat = store.chats.get(m.chat);
  const undecryptable = (reason: string): Received => {
    // A copy of our own, in a chat the relay does not list for us, that did not decrypt or was
    // refused: there is no chat to file it under (its peer is named only inside). Told, not stored.
    if (!store.chats.get(m.chat))
      return {
        stored: false,
        events: [{ type: "undecryptable", chat: m.chat, id: 0, relayMsg: m.msg, from: m.from, ts: m.ts, reason }],
      };
    const { id } = store.messages.insert({
      chatId: m.chat,
      relayMsgId: m.msg,
      sender: m.from,
      sentAt: m.ts,
      body: null,
      direction: "in",
      status: "undecryptable",
      senderDevice: m.from_device ?? 1,
    });
    return {
      stored: true,
      events: [{ type: "undecryptable", chat: m.chat, id, relayMsg: m.msg, from: m.from, ts: m.ts, reason }],
    };
  };
  const own = m.from === acct.username;
  if (!chat && !own) return undecryptable("the chat is unknown");
  if (chat?.kind === "group") return storeGroupIncoming(acct, m, undecryptable);
  if (chat && !own && m.from !== chat.peer)
    return undecryptable(`the relay says it is from ${m.from}, who is not the other member of this chat`);

  const events: EngineEvent[] = [];
  const refused = (reason: string): Received => {
    const r = undecryptable(reason);
    return { ...r, events: [...events, ...r.events] };
  };
  const dec = openPairwise(acct, m, events);
  const unlisted = takeUnlistedWarnings(events, warned);
  if (unlisted) return refused(`${m.from}'s device ${m.from_device ?? 1} is not in ${m.from}'s device list`);
  if (!dec) return refused("could not decrypt");
  try {
    return storeApp(acct, m, chat, dec, events, refused);
  } catch (e) {
    if (e instanceof AppMessageError) return refused(appMessageErrorText(e));
    throw e;
  } finally {
    wipe(dec.plaintext);
  }
}

/**
 * True when `events` holds the warning of a message from an unlisted device (sessions.ts
 * openPairwise); removes it when that device was warned about already in this page.
 */
function takeUnlistedWarnings(events: EngineEvent[], warned: Set<string>): boolean {
  const i = events.findIndex((e) => e.type === "device_list" && e.outcome === "unlisted_device");
  if (i < 0) return false;
  const e = events[i]!;
  const key = e.type === "device_list" ? `${e.user}\u0000${e.devices.join(",")}` : "";
  if (warned.has(key)) events.splice(i, 1);
  else warned.add(key);
  return true;
}

/** Why a copy was refused by the receiving device's checks (§17.5), for the user. */
function fanoutRefusalText(reason: FanoutRefusal, from: string): string {
  switch (reason) {
    case "bare_from_listed":
      return `it came without the device header every device of ${from} puts on its messages`;
    case "wrong_sender_device":
      return "its device header names another sending device than the one that encrypted it";
    case "misdirected":
      return "the relay delivered it to a device it was not meant for";
  }
}

/**
 * Takes the fan-out header off a decrypted pairwise plaintext and runs the receiving device's
 * checks (§17.5) with what we hold: our account, device and list version, and whether we hold
 * the sender's list. Returns the plaintext and the verdict, or the refusal's reason in words.
 */
function checkCopy(
  acct: Account,
  m: RelayMessageOf<"msg">,
  plaintext: Uint8Array,
): { split: PairwisePlaintext; verdict: ReturnType<typeof checkFanout> & { ok: true } } | string {
  const { store } = acct;
  let split: PairwisePlaintext;
  try {
    split = splitPairwisePlaintext(plaintext);
  } catch (e) {
    if (e instanceof CodecError) return "its device header is malformed";
    throw e;
  }
  const own = m.from === acct.username;
  const verdict = checkFanout(split, {
    me: acct.username,
    myDevice: acct.deviceId,
    myListVersion: store.deviceLists.get(acct.username)?.list.version ?? 0,
    sender: m.from,
    senderDevice: m.from_device ?? 1,
    senderHasList: own || store.deviceLists.get(m.from) !== undefined,
  });
  if (!verdict.ok) return fanoutRefusalText(verdict.reason, m.from);
  return { split, verdict };
}

/**
 * Stores the decoded application message of a decrypted frame (inside storeIncoming's
 * transaction), after the receiving device's checks. A copy of our own from another device is
 * filed in the direct chat with the peer its header names, creating that chat when this device
 * does not have it yet; in a chat with another peer it is refused (the relay moved it).
 */
function storeApp(
  acct: Account,
  m: RelayMessageOf<"msg">,
  known: ChatRecord | undefined,
  dec: Decrypted,
  events: EngineEvent[],
  refused: (reason: string) => Received,
): Received {
  const { store } = acct;
  const copy = checkCopy(acct, m, dec.plaintext);
  if (typeof copy === "string") return refused(copy);
  const { verdict } = copy;
  const own = verdict.from === "own";
  if (own) {
    if (known === undefined)
      store.chats.upsert({ id: m.chat, kind: "direct", peer: verdict.chatPeer, myRole: "member" });
    else if (known.peer !== verdict.chatPeer)
      return refused("the relay delivered it in another chat than it was sent in");
  }
  const device = m.from_device ?? 1;
  const staleSender = verdict.staleSender ? { staleSender: { chat: m.chat, user: m.from, device } } : {};
  const app = decodeAppMessage(copy.split.app);
  // The relay routes envelopes: one moved to another chat, or of a kind that may not come this way, is refused.
  const arrival = checkArrival(app, { chat: m.chat, chatKind: "direct", channel: "pairwise" });
  if (!arrival.ok)
    return refused(
      arrival.reason === "wrong_chat"
        ? "the relay delivered it in another chat than it was sent in"
        : "it arrived in a way its kind may not (misrouted)",
    );
  const controlRow = () => storeControlRow(acct, m, device);
  switch (app.k) {
    case "text": {
      const seq = sequenceVerdict(store, m.chat, m.from, app.seq, 0, device, acct.deviceId !== 1);
      storeReceivedText(acct, m, app, seq, dec.keyChanged, own, events);
      break;
    }
    case "profile":
      // Our own name, as our other device gave it to the peer, is not a contact's display name.
      if (!own) takeDisplayName(acct, m.from, app, dec.keyChanged, events);
      controlRow();
      break;
    case "device_list":
      takeDeviceList(acct, m.from, app, dec.keyChanged, events);
      controlRow();
      break;
    default:
      // sender_key, group_state: checkArrival refuses both in a direct chat (SECURITY.md §15.2.5), so
      // they never get here; kept as control rows all the same, so each is processed once.
      controlRow();
  }
  return { stored: true, events, ...staleSender };
}
