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
 * - Other application messages (a display name; group keys and states) are stored as rows without
 *   a body, so they too are processed exactly once; the history does not show them.
 *
 * - A `sync` page is stored by receivePage, many frames per transaction (one commit, not one
 *   per message), each frame still alone in its savepoint.
 *
 * This file never moves delivery cursors: only sync.ts does, for what a `sync` returned.
 */
import { wipe } from "../../crypto/primitives.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import { AppMessageError, appMessageErrorText, decodeAppMessage } from "../protocol/app-message.js";
import { checkArrival } from "../protocol/arrival.js";
import type { RelayClient } from "../relay-client.js";
import type { MessageRecord } from "../store/index.js";
import { refreshChats } from "./chats.js";
import { takeDisplayName } from "./display-names.js";
import type { EngineEvent, Received } from "./events.js";
import type { Account } from "./open-account.js";
import { groupFrameNeedsMembers, prepareGroupFrame, storeGroupIncoming } from "./group/receive.js";
import { sequenceVerdict } from "./sequence-check.js";
import { storeIncomingText } from "./text-rows.js";
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
  await prepareFrame(acct, relay, m);
  return storeIncoming(acct, m);
}

/** True when storing `m` needs the relay first (prepareFrame): its chat is new to us, or a group's member list may be needed. */
function needsRelay(acct: Account, m: RelayMessageOf<"msg">): boolean {
  return !acct.store.chats.get(m.chat) || groupFrameNeedsMembers(acct, m);
}

/** What storing the frame needs from the relay, asked before its transaction (which must not await). */
async function prepareFrame(acct: Account, relay: RelayClient, m: RelayMessageOf<"msg">): Promise<void> {
  if (!acct.store.chats.get(m.chat)) {
    await refreshChats(acct, relay);
    // Not listed (we left it since?): still store what was delivered, under a direct chat with the sender.
    if (!acct.store.chats.get(m.chat))
      acct.store.chats.upsert({ id: m.chat, kind: "direct", peer: m.from, myRole: "member" });
  }
  await prepareGroupFrame(acct, relay, m);
}

/** How one frame of a page ended: stored (or found stored), or a local failure (not stored; it comes again). */
export type FrameOutcome =
  { readonly ok: true; readonly received: Received } | { readonly ok: false; readonly error: unknown };

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
  frames: readonly RelayMessageOf<"msg">[],
  onOutcome: (m: RelayMessageOf<"msg">, outcome: FrameOutcome) => void,
  stop: () => boolean = () => false,
): Promise<void> {
  // Chats with a frame that failed, and its error: their later frames wait for the next sync.
  const failed = new Map<number, unknown>();
  const report = (m: RelayMessageOf<"msg">, o: FrameOutcome) => {
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
    if (needsRelay(acct, first)) {
      try {
        await prepareFrame(acct, relay, first);
      } catch (error) {
        report(first, { ok: false, error });
        i++;
        continue;
      }
    }
    const outcomes = storeRun(acct, frames, i, failed);
    outcomes.forEach((o, k) => report(frames[i + k]!, o));
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
  frames: readonly RelayMessageOf<"msg">[],
  start: number,
  failedBefore: ReadonlyMap<number, unknown>,
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
        try {
          outcomes.push({ ok: true, received: storeIncoming(acct, m) });
        } catch (error) {
          // SQLite ended the whole transaction: what the run stored so far is gone, so all of it failed.
          if (!store.inTransaction) throw error;
          failed.set(m.chat, error);
          outcomes.push({ ok: false, error });
        }
      } while (end < frames.length && (failed.has(frames[end]!.chat) || !needsRelay(acct, frames[end]!)));
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
 * for local failures (nothing is then stored).
 */
export function storeIncoming(acct: Account, m: RelayMessageOf<"msg">): Received {
  const { store } = acct;
  return store.transaction((): Received => {
    const r = storeFrame(acct, m);
    for (const e of r.events) store.journal.append(JSON.stringify(e));
    return r;
  });
}

/** storeIncoming without the journal, inside its transaction. */
function storeFrame(acct: Account, m: RelayMessageOf<"msg">): Received {
  const { store } = acct;
  if (store.messages.getByRelayId(m.chat, m.msg)) return { stored: false, events: [] };
  const chat = store.chats.get(m.chat);
  const undecryptable = (reason: string): Received => {
    const { id } = store.messages.insert({
      chatId: m.chat,
      relayMsgId: m.msg,
      sender: m.from,
      sentAt: m.ts,
      body: null,
      direction: "in",
      status: "undecryptable",
    });
    return {
      stored: true,
      events: [{ type: "undecryptable", chat: m.chat, id, relayMsg: m.msg, from: m.from, ts: m.ts, reason }],
    };
  };
  if (!chat) return undecryptable("the chat is unknown");
  if (chat.kind === "group") return storeGroupIncoming(acct, m, undecryptable);
  if (m.from !== chat.peer)
    return undecryptable(`the relay says it is from ${m.from}, who is not the other member of this chat`);

  const events: EngineEvent[] = [];
  const dec = openPairwise(acct, m, events);
  if (!dec) return undecryptable("could not decrypt");
  try {
    return storeApp(acct, m, dec, events, undecryptable);
  } catch (e) {
    if (e instanceof AppMessageError)
      return { stored: true, events: [...events, ...undecryptable(appMessageErrorText(e)).events] };
    throw e;
  } finally {
    wipe(dec.plaintext);
  }
}

/** Stores the decoded application message of a decrypted frame (inside storeIncoming's transaction). */
function storeApp(
  acct: Account,
  m: RelayMessageOf<"msg">,
  dec: Decrypted,
  events: EngineEvent[],
  undecryptable: (reason: string) => Received,
): Received {
  const { store } = acct;
  const app = decodeAppMessage(dec.plaintext);
  // The relay routes envelopes: one moved to another chat, or of a kind that may not come this way, is refused.
  const arrival = checkArrival(app, { chat: m.chat, chatKind: "direct", channel: "pairwise" });
  if (!arrival.ok) {
    const r = undecryptable(
      arrival.reason === "wrong_chat"
        ? "the relay delivered it in another chat than it was sent in"
        : "it arrived in a way its kind may not (misrouted)",
    );
    return { stored: true, events: [...events, ...r.events] };
  }
  const controlRow = () =>
    store.messages.insert({
      chatId: m.chat,
      relayMsgId: m.msg,
      sender: m.from,
      sentAt: m.ts,
      body: null,
      direction: "in",
      status: "delivered",
    });
  switch (app.k) {
    case "text": {
      const verdict = sequenceVerdict(store, m.chat, m.from, app.seq);
      storeIncomingText(acct, m, app, verdict, dec.keyChanged, events);
      return { stored: true, events };
    }
    case "profile": {
      takeDisplayName(acct, m.from, app, dec.keyChanged, events);
      controlRow();
      return { stored: true, events };
    }
    default:
      // sender_key, group_state: checkArrival refuses both in a direct chat (SECURITY.md §15.2.5), so
      // they never get here; kept as control rows all the same, so each is processed once.
      controlRow();
      return { stored: true, events };
  }
}
