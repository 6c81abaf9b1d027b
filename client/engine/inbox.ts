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
import { prepareGroupFrame, storeGroupIncoming } from "./group/receive.js";
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
  if (!acct.store.chats.get(m.chat)) {
    await refreshChats(acct, relay);
    // Not listed (we left it since?): still store what was delivered, under a direct chat with the sender.
    if (!acct.store.chats.get(m.chat))
      acct.store.chats.upsert({ id: m.chat, kind: "direct", peer: m.from, myRole: "member" });
  }
  await prepareGroupFrame(acct, relay, m);
  return storeIncoming(acct, m);
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
