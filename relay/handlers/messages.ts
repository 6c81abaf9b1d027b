/**
 * Sending, syncing, acking and reading history. A send is acknowledged only after the
 * transaction holding it committed (relay/group-commit.ts); a retry with the same idempotency
 * id gets the first result back and stores nothing.
 */
import type { ClientMessageOf } from "../../src/wire/index.js";
import { encodeMsgFrame, encodeSentFrame } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import type { HandlerConnection, SessionAccount } from "./handler-connection.js";
import { type InsertFailure, type StoredMessage, nextPageAfter } from "../store/index.js";
import { accountNamed } from "./keys.js";

const DEFAULT_PAGE = 500;

const FAILURES: Record<
  InsertFailure,
  [code: "CHAT_UNKNOWN" | "CHAT_CLOSED" | "NOT_A_MEMBER" | "IDEMPOTENCY_CONFLICT", text: string]
> = {
  chat_unknown: ["CHAT_UNKNOWN", "no such chat that you belong to"],
  not_member: ["CHAT_UNKNOWN", "no such chat that you belong to"],
  chat_closed: ["CHAT_CLOSED", "the chat is closed; nothing can be sent until it is reopened"],
  recipient_not_member: ["NOT_A_MEMBER", "the recipient is not a member of this chat"],
  idem_conflict: ["IDEMPOTENCY_CONFLICT", "this idempotency id was already used for another chat"],
};

/** Queues the send for the next group commit and answers when it has committed; does not wait itself. */
export async function handleSend(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"send">,
): Promise<void> {
  const recipientId = msg.to !== undefined ? (await accountNamed(conn, msg.to)).id : null;
  const { ctx } = conn;
  ctx.sends.submit({ chatId: msg.chat, senderId: self.id, recipientId, idem: msg.idem, envelope: msg.envelope }).then(
    (r) => {
      // The relay's own frame: encoded directly, the same bytes as conn.send would write.
      if (r.ok)
        conn.push(
          encodeSentFrame(
            { id: msg.id, msg: r.id, ts: r.createdAt.getTime(), duplicate: r.duplicate },
            ctx.config.limits.maxFrameBytes,
          ),
          "sent",
        );
      else {
        const [code, text] = FAILURES[r.reason];
        conn.sendError(code, text, msg.id);
      }
    },
    (e: unknown) => {
      ctx.log.error({ err: e instanceof Error ? e.message : String(e) }, "commit failed");
      conn.sendError("INTERNAL", "the message was not stored; retry with the same idempotency id", msg.id);
    },
  );
}

/** The msg frame of a stored message. */
async function messageFrame(conn: HandlerConnection, m: StoredMessage): Promise<Uint8Array> {
  const { presence } = conn.ctx;
  return encodeMsgFrame({
    chat: m.chatId,
    msg: m.id,
    from: await presence.usernameOf(m.senderId),
    ts: m.createdAt.getTime(),
    envelope: m.envelope,
    ...(m.recipientId !== null ? { to: await presence.usernameOf(m.recipientId) } : {}),
    // Tells the client this frame is part of the answer, not a push that overtook it (SECURITY.md §14.7).
    reply: true,
  });
}

/**
 * Pushes the first `limit` of `rows` (read with one row beyond the page, so that `more` is
 * true only when something is left), stopping early (more = true) before the outbound queue
 * limit. Returns `more` and how many rows were pushed.
 */
async function pushPage(
  conn: HandlerConnection,
  rows: StoredMessage[],
  limit: number,
): Promise<{ more: boolean; pushed: number }> {
  const budget = conn.ctx.config.limits.maxOutboundBytes / 2;
  let bytes = 0;
  let pushed = 0;
  for (const m of rows.slice(0, limit)) {
    const frame = await messageFrame(conn, m);
    bytes += frame.length;
    if (bytes > budget) return { more: true, pushed };
    conn.push(frame, "msg");
    pushed++;
  }
  return { more: rows.length > limit, pushed };
}

/** The most a `synced` reply's `pending` counts (bounds the count query). */
export const MAX_PENDING_COUNT = 1_000_000;

export async function handleSync(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"sync">,
): Promise<void> {
  const limit = msg.limit ?? DEFAULT_PAGE;
  const rows = await conn.ctx.store.pendingFor(self.id, { limit: limit + 1 });
  const { more, pushed } = await pushPage(conn, rows, limit);
  // Asked for (a client's first round, for its progress bar) and only worth counting when more waits.
  const pending =
    msg.count === true && more
      ? await conn.ctx.store.pendingCount(self.id, nextPageAfter(rows.slice(0, pushed)), MAX_PENDING_COUNT)
      : undefined;
  conn.send({ t: "synced", id: msg.id, more, ...(pending !== undefined ? { pending } : {}) });
}

export async function handleAck(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"ack">,
): Promise<void> {
  const cursor = await conn.ctx.store.ackCursor(self.id, msg.chat, msg.upto);
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
  const rows = await store.fetchChatMessages(msg.chat, self.id, msg.after ?? 0, limit + 1);
  const { more } = await pushPage(conn, rows, limit);
  conn.send({ t: "history_end", id: msg.id, more });
}
