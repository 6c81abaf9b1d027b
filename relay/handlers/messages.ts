/**
 * Sending, syncing, acking and reading history. A send is acknowledged only after the
 * transaction holding it committed (relay/group-commit.ts); a retry with the same idempotency
 * id gets the first result back and stores nothing.
 */
import type { ClientMessageOf } from "../../src/wire/index.js";
import {
  encodeCompactHeldFrame,
  encodeCompactSentFrame,
  encodeMessageFrame,
  encodeSentFrame,
} from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import type { HandlerConnection, SessionAccount } from "./handler-connection.js";
import { isDatabaseUnavailable } from "../database-unavailable.js";
import { msgFrameEncoder } from "../msg-frames.js";
import {
  type InsertFailure,
  type InsertResult,
  type NewCopy,
  type StoredMessage,
  nextPageAfter,
} from "../store/index.js";
import { accountNamed } from "./keys.js";

const DEFAULT_PAGE = 500;

const FAILURES: Record<
  InsertFailure,
  [code: "CHAT_UNKNOWN" | "CHAT_CLOSED" | "NOT_A_MEMBER" | "IDEMPOTENCY_CONFLICT" | "DEVICE_LIST_STALE", text: string]
> = {
  chat_unknown: ["CHAT_UNKNOWN", "no such chat that you belong to"],
  not_member: ["CHAT_UNKNOWN", "no such chat that you belong to"],
  chat_closed: ["CHAT_CLOSED", "the chat is closed; nothing can be sent until it is reopened"],
  recipient_not_member: ["NOT_A_MEMBER", "the recipient is not a member of this chat"],
  idem_conflict: ["IDEMPOTENCY_CONFLICT", "this idempotency id was already used for another chat or recipient"],
  devices_listed: [
    "DEVICE_LIST_STALE",
    "a member of this direct chat has a device list: send one copy per device (send_copies); nothing was stored",
  ],
  device_list_stale: [
    "DEVICE_LIST_STALE",
    "the copies do not match the current device lists (fetch them and send again); nothing was stored",
  ],
};

/** Queues the send for the next group commit and answers when it has committed; does not wait itself. */
export async function handleSend(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"send">,
): Promise<void> {
  const recipientId = msg.to !== undefined ? (await accountNamed(conn, msg.to)).id : null;
  const submitted = conn.ctx.sends.submit({
    chatId: msg.chat,
    senderId: self.id,
    senderDevice: self.device,
    recipientId,
    idem: msg.idem,
    envelope: msg.envelope,
  });
  answerWhenCommitted(conn, msg.id, submitted);
}

/**
 * send_copies (SECURITY.md §17.8): one message as per-device copies, checked against the
 * current device lists and stored whole, or refused whole, by the send rule
 * (migrations/0007_device_mailboxes.sql). A copy for an account that does not exist is one for
 * a non-member: DEVICE_LIST_STALE, from the rule. A disabled one is USER_DISABLED, as for `send`
 * to it (§14.7).
 */
export async function handleSendCopies(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"send_copies">,
): Promise<void> {
  const ids = new Map<string, number>();
  for (const name of new Set(msg.copies.map((c) => c.to))) {
    const account = await conn.ctx.store.accountByUsername(name);
    if (account?.disabled)
      throw new RelayError("USER_DISABLED", `${account.username}'s account was disabled by the relay's operator`);
    // An unknown name: an account id no member has, so the rule refuses it as not a member.
    ids.set(name, account?.id ?? 0);
  }
  const copies: NewCopy[] = msg.copies.map((c) => ({
    accountId: ids.get(c.to)!,
    deviceId: c.device,
    envelope: c.envelope,
  }));
  const submitted = conn.ctx.sends.submit({
    chatId: msg.chat,
    senderId: self.id,
    senderDevice: self.device,
    idem: msg.idem,
    copies,
  });
  answerWhenCommitted(conn, msg.id, submitted);
}

/** Answers `sent` (or the refusal) once the send's transaction has committed. */
function answerWhenCommitted(conn: HandlerConnection, id: number, submitted: Promise<InsertResult>): void {
  const { ctx } = conn;
  submitted.then(
    (r) => {
      // The relay's own frame: encoded directly, the same bytes as conn.send would write in
      // version 1, or the compact form on a version-2 connection (SECURITY.md §14.9).
      if (r.ok) {
        const sent = { id, msg: r.id, ts: r.createdAt.getTime(), duplicate: r.duplicate };
        const { maxFrameBytes } = ctx.config.limits;
        conn.push(
          conn.compact ? encodeCompactSentFrame(sent, maxFrameBytes) : encodeSentFrame(sent, maxFrameBytes),
          "sent",
        );
      } else {
        const [code, text] = FAILURES[r.reason];
        conn.sendError(code, text, id);
      }
    },
    (e: unknown) => {
      // The outcome is unknown (a connection lost during COMMIT may have committed): the client
      // retries with the same idempotency id, which stores the message at most once.
      if (isDatabaseUnavailable(e)) {
        ctx.log.warn({ err: e instanceof Error ? e.message : String(e) }, "commit failed: database unavailable");
        conn.sendError(
          "UNAVAILABLE",
          "the relay cannot reach its database right now; retry with the same idempotency id",
          id,
        );
      } else {
        ctx.log.error({ err: e instanceof Error ? e.message : String(e) }, "commit failed");
        conn.sendError("INTERNAL", "the relay could not store the message; retry with the same idempotency id", id);
      }
    },
  );
}

/** The msg frame of a stored message as this connection's device receives it (sync, history). */
async function messageFrame(conn: HandlerConnection, m: StoredMessage): Promise<Uint8Array> {
  const { presence } = conn.ctx;
  return msgFrameEncoder({
    chat: m.chatId,
    msg: m.id,
    from: await presence.usernameOf(m.senderId),
    ts: m.createdAt.getTime(),
    envelope: m.envelope,
    ...(m.recipientId !== null ? { to: await presence.usernameOf(m.recipientId) } : {}),
    ...(m.senderDevice !== 1 ? { from_device: m.senderDevice } : {}),
    // Tells the client this frame is part of the answer, not a push that overtook it (SECURITY.md §14.7).
    reply: true as const,
  })(conn.compact);
}

/** A frame of a sync or history reply, and its type (for the relay's counters: `held` carries no envelope). */
interface ReplyFrame {
  readonly frame: Uint8Array;
  readonly type: "msg" | "held";
}

/** The msg frame of `m`, as a reply frame. */
async function msgReplyFrame(conn: HandlerConnection, m: StoredMessage): Promise<ReplyFrame> {
  return { frame: await messageFrame(conn, m), type: "msg" };
}

/**
 * The `held` stub of a stored message (SECURITY.md §14.7 "Held messages"): its chat and id only,
 * compact on a version-2 connection (§14.9).
 */
function heldFrame(conn: HandlerConnection, m: StoredMessage): ReplyFrame {
  const fields = { chat: m.chatId, msg: m.id };
  const { maxFrameBytes } = conn.ctx.config.limits;
  return {
    frame: conn.compact
      ? encodeCompactHeldFrame(fields, maxFrameBytes)
      : encodeMessageFrame({ t: "held", ...fields }, maxFrameBytes),
    type: "held",
  };
}

/**
 * The messages a sync's `have` names, by chat: used for nothing but leaving their envelopes out
 * of the reply (§14.7). An entry the reply does not hold (at or below the cursor, another chat,
 * not for this device, unknown) never matches a row, so it is ignored.
 */
function haveSet(have: readonly (readonly [number, number])[] | undefined): Map<number, Set<number>> {
  const byChat = new Map<number, Set<number>>();
  for (const [chat, msg] of have ?? []) {
    let ids = byChat.get(chat);
    if (!ids) byChat.set(chat, (ids = new Set()));
    ids.add(msg);
  }
  return byChat;
}

/**
 * The most bytes of msg frames one sync or history reply carries (besides the outbound-queue
 * limit): a reply is cut by size as well as by count, with `more` set, and the client goes on
 * from where it stopped (history: `after` = the last id it got; sync: after acking). So one
 * request never makes the relay read or queue more than this for a client.
 */
export const MAX_REPLY_BYTES = 1024 * 1024;
/** Rows read from the database at a time while a reply is filled: a cut reply read little beyond it. */
const READ_CHUNK = 32;

/**
 * Waits, before any work, until the connection's outbound queue is below half its limit: a
 * client that stops reading is slowed (its next request waits) rather than served into memory.
 * False when the connection closed, or was cut off because it read nothing for idleTimeoutMs.
 */
async function roomToSend(conn: HandlerConnection): Promise<boolean> {
  const { maxOutboundBytes, idleTimeoutMs } = conn.ctx.config.limits;
  const giveUp = Date.now() + idleTimeoutMs;
  while (conn.outboundBacklog > maxOutboundBytes / 2) {
    if (conn.closed) return false;
    if (Date.now() > giveUp) {
      conn.fail("SLOW_CONSUMER", "the client read too slowly; reconnect and sync");
      return false;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return !conn.closed;
}

/**
 * Fills one reply: reads rows in chunks through `read(n, pushedSoFar)` (which returns up to
 * `n` rows after those already pushed), pushes their frames (`frameOf`) until `limit` rows or
 * MAX_REPLY_BYTES, and says whether more is left. The outbound queue is checked before each chunk.
 */
async function fillReply(
  conn: HandlerConnection,
  limit: number,
  read: (n: number, pushed: readonly StoredMessage[]) => Promise<StoredMessage[]>,
  frameOf: (m: StoredMessage) => Promise<ReplyFrame> | ReplyFrame = (m) => msgReplyFrame(conn, m),
): Promise<{ more: boolean; pushed: StoredMessage[] }> {
  const budget = Math.min(MAX_REPLY_BYTES, conn.ctx.config.limits.maxOutboundBytes / 2);
  const pushed: StoredMessage[] = [];
  let bytes = 0;
  for (;;) {
    if (!(await roomToSend(conn))) return { more: true, pushed };
    const chunk = Math.min(READ_CHUNK, limit - pushed.length);
    const rows = await read(chunk + 1, pushed); // one beyond the chunk: is anything left?
    for (const m of rows.slice(0, chunk)) {
      const { frame, type } = await frameOf(m);
      if (pushed.length > 0 && bytes + frame.length > budget) return { more: true, pushed };
      bytes += frame.length;
      conn.push(frame, type);
      pushed.push(m);
    }
    if (rows.length <= chunk) return { more: false, pushed };
    if (pushed.length >= limit) return { more: true, pushed };
  }
}

/** The most a `synced` reply's `pending` counts (bounds the count query). */
export const MAX_PENDING_COUNT = 1_000_000;

/**
 * `sync`: the logged-in device's pending messages, oldest first (§14.7), each as its `msg`, or
 * as a `held` stub when the request's `have` names it; the reply's order and paging are the
 * same either way, so the client acks over stubs as over messages.
 */
export async function handleSync(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"sync">,
): Promise<void> {
  const limit = msg.limit ?? DEFAULT_PAGE;
  const { store } = conn.ctx;
  const have = haveSet(msg.have);
  const { more, pushed } = await fillReply(
    conn,
    limit,
    (n, done) => store.pendingFor(self.id, { limit: n, afterByChat: nextPageAfter(done), device: self.device }),
    (m) => (have.get(m.chatId)?.has(m.id) ? heldFrame(conn, m) : msgReplyFrame(conn, m)),
  );
  if (conn.closed) return;
  // Asked for (a client's first round, for its progress bar) and only worth counting when more waits.
  const pending =
    msg.count === true && more
      ? await store.pendingCount(self.id, nextPageAfter(pushed), MAX_PENDING_COUNT, self.device)
      : undefined;
  conn.send({ t: "synced", id: msg.id, more, ...(pending !== undefined ? { pending } : {}) });
}

export async function handleAck(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"ack">,
): Promise<void> {
  // The logged-in device's cursor (SECURITY.md §17.8).
  const cursor = await conn.ctx.store.ackCursor(self.id, msg.chat, msg.upto, self.device);
  if (cursor === undefined) throw new RelayError("CHAT_UNKNOWN", `no chat ${msg.chat} that you belong to`);
  conn.ctx.counters.acks++;
}

export async function handleHistory(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"history">,
): Promise<void> {
  const { store } = conn.ctx;
  const chat = await store.chat(msg.chat);
  const role = chat ? await store.memberRole(msg.chat, self.id) : undefined;
  if (!chat || !role) throw new RelayError("CHAT_UNKNOWN", `no chat ${msg.chat} that you belong to`);
  const limit = msg.limit ?? DEFAULT_PAGE;
  const after = msg.after ?? 0;
  const { more } = await fillReply(conn, limit, (n, done) =>
    store.fetchChatMessages(msg.chat, self.id, done.at(-1)?.id ?? after, n, self.device),
  );
  if (conn.closed) return;
  conn.send({ t: "history_end", id: msg.id, more });
}
