/**
 * Envelopes waiting for the relay's acknowledgement (`outbox`). A send is stored here in the
 * same transaction as the ratchet step that encrypted it and the pending message; it is
 * retried with the same idempotency id until acknowledged, so the relay stores it once
 * (docs/ARCHITECTURE.md §3.7). The envelope is already end-to-end encrypted: not sealed again.
 */
import { UsageError } from "../../src/errors.js";
import { type StoreContext } from "./context.js";
import { blob } from "./sqlite.js";
import type { OutboxInput, OutboxRecord } from "./types.js";

/** Length of an idempotency id (src/wire IDEMPOTENCY_ID_BYTES). */
export const IDEM_BYTES = 16;

interface Row {
  idem: Uint8Array;
  chat_id: number;
  message_id: number | null;
  envelope: Uint8Array;
  recipient: string | null;
  created_at: number;
  attempts: number;
}

function record(r: Row): OutboxRecord {
  return {
    idem: blob(r.idem).slice(),
    chatId: r.chat_id,
    messageId: r.message_id,
    envelope: blob(r.envelope).slice(),
    to: r.recipient,
    createdAt: r.created_at,
    attempts: r.attempts,
  };
}

/** Pending sends (store.outbox). */
export class OutboxTable {
  constructor(private readonly ctx: StoreContext) {}

  /** Queues an envelope. Throws UsageError for an idem that is not 16 bytes, the constraint error for a duplicate idem. */
  add(o: OutboxInput): void {
    if (o.idem.length !== IDEM_BYTES) throw new UsageError(`an idempotency id is ${IDEM_BYTES} bytes`);
    this.ctx
      .stmt(
        "INSERT INTO outbox (idem, chat_id, message_id, envelope, recipient, created_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)",
      )
      .run(o.idem, o.chatId, o.messageId ?? null, o.envelope, o.to ?? null, this.ctx.now());
  }

  /** The queued envelopes in the order they were added, up to `limit`. */
  list(limit = 1000): OutboxRecord[] {
    return (this.ctx.stmt("SELECT * FROM outbox ORDER BY rowid LIMIT ?").all(limit) as Row[]).map(record);
  }

  /** One queued envelope, or undefined. */
  get(idem: Uint8Array): OutboxRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM outbox WHERE idem = ?").get(idem) as Row | undefined;
    return r && record(r);
  }

  /** Removes an envelope once the relay acknowledged it. Returns whether it was queued. */
  remove(idem: Uint8Array): boolean {
    return this.ctx.stmt("DELETE FROM outbox WHERE idem = ?").run(idem).changes > 0;
  }

  /** Counts one more attempt to send it. Returns whether it is queued. */
  bumpAttempts(idem: Uint8Array): boolean {
    return this.ctx.stmt("UPDATE outbox SET attempts = attempts + 1 WHERE idem = ?").run(idem).changes > 0;
  }

  /** How many envelopes are queued. */
  count(): number {
    return (this.ctx.stmt("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  }
}
