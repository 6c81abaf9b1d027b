/**
 * Decrypted history (`messages`). Row key of the sealed `body` column: [local id]. A row is
 * inserted with its body, sealed under the id it is given (next-id.ts), in one statement, so a
 * message is never visible without its body.
 */
import { UsageError } from "../../src/errors.js";
import { type StoreContext } from "./context.js";
import { nextAutoincrementId } from "./next-id.js";
import { blobOrNull } from "./sqlite.js";
import type { HistoryPage, InsertedMessage, MessageInput, MessageRecord, MessageStatus } from "./types.js";

interface Row {
  id: number;
  chat_id: number;
  relay_msg_id: number | null;
  sender: string;
  sent_at: number;
  body: Uint8Array | null;
  direction: "in" | "out";
  status: MessageStatus;
  sender_seq: number | null;
  stored_at: number;
  sender_ts: number | null;
  sender_device: number | null;
}

/** The most messages one history page returns. */
export const MAX_HISTORY_PAGE = 1000;

/** History (store.messages). */
export class MessagesTable {
  constructor(private readonly ctx: StoreContext) {}

  private record(r: Row): MessageRecord {
    const body = blobOrNull(r.body);
    return {
      id: r.id,
      chatId: r.chat_id,
      relayMsgId: r.relay_msg_id,
      sender: r.sender,
      sentAt: r.sent_at,
      body: body === null ? null : this.ctx.sealer.openText("messages", "body", [r.id], body),
      direction: r.direction,
      status: r.status,
      senderSeq: r.sender_seq,
      senderTs: r.sender_ts,
      senderDevice: r.sender_device ?? 1,
      storedAt: r.stored_at,
    };
  }

  /**
   * Stores a message, its body sealed. Idempotent on (chat, relay id): when that pair is already
   * stored, nothing changes and the existing local id is returned with `inserted: false` (a
   * message delivered twice is shown once). The chat must exist (foreign key).
   */
  insert(m: MessageInput): InsertedMessage {
    // One INSERT writes the row with its body, so nothing is ever left half-written and the
    // caller's transaction needs no savepoint of ours; outside one, a transaction of its own
    // holds the write lock from the id's choice to the insert (next-id.ts).
    const insert = (): InsertedMessage => {
      const relayId = m.relayMsgId ?? null;
      if (relayId !== null) {
        const old = this.ctx
          .stmt("SELECT id FROM messages WHERE chat_id = ? AND relay_msg_id = ?")
          .get(m.chatId, relayId) as { id: number } | undefined;
        if (old) return { id: old.id, inserted: false };
      }
      const id = nextAutoincrementId(this.ctx, "messages");
      this.ctx
        .stmt(
          `INSERT INTO messages (id, chat_id, relay_msg_id, sender, sent_at, body, direction, status, sender_seq,
                                 sender_ts, stored_at, sender_device)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          m.chatId,
          relayId,
          m.sender,
          m.sentAt,
          m.body === null ? null : this.ctx.sealer.sealText("messages", "body", [id], m.body),
          m.direction,
          m.status,
          m.senderSeq ?? null,
          m.senderTs ?? null,
          this.ctx.now(),
          deviceColumn(m.senderDevice),
        );
      return { id, inserted: true };
    };
    return this.ctx.inTx(insert);
  }

  /** The message with this local id, or undefined. */
  get(id: number): MessageRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM messages WHERE id = ?").get(id) as Row | undefined;
    return r && this.record(r);
  }

  /** The message with this relay id in this chat, or undefined. */
  getByRelayId(chatId: number, relayMsgId: number): MessageRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM messages WHERE chat_id = ? AND relay_msg_id = ?").get(chatId, relayMsgId) as
      Row | undefined;
    return r && this.record(r);
  }

  /**
   * One page of a chat's history: the `limit` (default 50, at most MAX_HISTORY_PAGE) newest
   * messages with a local id below `beforeId` (all when undefined), returned oldest first.
   * The next older page: `beforeId` = the first message's id, while `more` is true.
   */
  history(chatId: number, opts: { limit?: number; beforeId?: number } = {}): HistoryPage {
    const limit = opts.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE)
      throw new UsageError(`limit must be 1..${MAX_HISTORY_PAGE}`);
    const rows = this.ctx
      .stmt("SELECT * FROM messages WHERE chat_id = ? AND id < ? ORDER BY id DESC LIMIT ?")
      .all(chatId, opts.beforeId ?? Number.MAX_SAFE_INTEGER, limit + 1) as Row[];
    const more = rows.length > limit;
    return {
      messages: rows
        .slice(0, limit)
        .reverse()
        .map((r) => this.record(r)),
      more,
    };
  }

  /**
   * Records the relay's acknowledgement of an outgoing message: its relay id and time, status
   * "sent". Call it in the transaction that removes the outbox entry. Throws UsageError for an
   * unknown message, and the database's constraint error if that relay id is already stored
   * in the chat.
   */
  markSent(id: number, relayMsgId: number, sentAt: number): void {
    const res = this.ctx
      .stmt("UPDATE messages SET relay_msg_id = ?, sent_at = ?, status = 'sent' WHERE id = ?")
      .run(relayMsgId, sentAt, id);
    if (res.changes === 0) throw new UsageError(`unknown message ${id}`);
  }

  /**
   * Our texts written while the relay could not be reached, in a chat whose messages are
   * encrypted only once online (groups: client/engine/group/deferred.ts): outgoing, pending, with
   * a body but no sequence number yet. Oldest first.
   */
  deferredTexts(): MessageRecord[] {
    const rows = this.ctx
      .stmt(
        "SELECT * FROM messages WHERE direction = 'out' AND status = 'pending' AND sender_seq IS NULL AND body IS NOT NULL ORDER BY id",
      )
      .all() as Row[];
    return rows.map((r) => this.record(r));
  }

  /** Gives a deferred text its sequence number once it is encrypted. Returns whether it exists. */
  setSenderSeq(id: number, seq: number): boolean {
    return this.ctx.stmt("UPDATE messages SET sender_seq = ? WHERE id = ?").run(seq, id).changes > 0;
  }

  /** Sets a message's status. Returns whether it exists. */
  setStatus(id: number, status: MessageStatus): boolean {
    return this.ctx.stmt("UPDATE messages SET status = ? WHERE id = ?").run(status, id).changes > 0;
  }

  /**
   * The highest sequence number stored from `sender`'s device `senderDevice` in a chat (to
   * detect gaps; numbers are per sending device, SECURITY.md §17.5) after local id `afterId`, or null.
   */
  lastSenderSeq(chatId: number, sender: string, afterId = 0, senderDevice = 1): number | null {
    const r = this.ctx
      // Written so the partial index messages_sender_seq serves it from its top: `max()` over the
      // same rows without "IS NOT NULL" could not use that index and read the whole chat, for every
      // received message (a first sync of N messages was quadratic).
      .stmt(
        "SELECT sender_seq AS s FROM messages INDEXED BY messages_sender_seq" +
          " WHERE chat_id = ? AND sender = ? AND sender_device IS ? AND sender_seq IS NOT NULL AND id > ?" +
          " ORDER BY sender_seq DESC LIMIT 1",
      )
      .get(chatId, sender, deviceColumn(senderDevice), afterId);
    return (r as { s: number } | undefined)?.s ?? null;
  }

  /** The highest local message id of a chat (0 when it has none). */
  lastId(chatId: number): number {
    const r = this.ctx.stmt("SELECT max(id) AS m FROM messages WHERE chat_id = ?").get(chatId) as { m: number | null };
    return r.m ?? 0;
  }

  /** How many messages a chat holds. */
  count(chatId: number): number {
    return (this.ctx.stmt("SELECT count(*) AS n FROM messages WHERE chat_id = ?").get(chatId) as { n: number }).n;
  }
}

/** The sender_device column's value: null for device 1 (and so for every row stored before §17). */
function deviceColumn(device: number | undefined): number | null {
  if (device === undefined || device === 1) return null;
  if (!Number.isInteger(device) || device < 1 || device > 0xffffffff)
    throw new UsageError(`not a device id: ${device}`);
  return device;
}
