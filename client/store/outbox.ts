/**
 * Envelopes waiting for the relay's acknowledgement (`outbox`, `outbox_copies`). A send is
 * stored here in the same transaction as the ratchet steps that encrypted it and the pending
 * message; it is retried with the same idempotency id until acknowledged, so the relay stores
 * it once (docs/ARCHITECTURE.md §3.7). An entry is either one envelope (`send`) or a 1:1
 * message's per-device copies (`send_copies`, SECURITY.md §17.5, §17.8); a 1:1 message also
 * keeps its application message, sealed (row key [idem]), so that it can be encrypted again to
 * the current devices after DEVICE_LIST_STALE (§17.7). Envelopes are already end-to-end
 * encrypted: not sealed again.
 */
import { UsageError } from "../../src/errors.js";
import { type StoreContext } from "./context.js";
import { blob, blobOrNull } from "./sqlite.js";
import type { DirectEncryption, DirectOutboxInput, OutboxCopy, OutboxInput, OutboxRecord } from "./types.js";

/** Length of an idempotency id (src/wire IDEMPOTENCY_ID_BYTES). */
export const IDEM_BYTES = 16;

interface Row {
  idem: Uint8Array;
  chat_id: number;
  message_id: number | null;
  envelope: Uint8Array | null;
  recipient: string | null;
  created_at: number;
  attempts: number;
  app: Uint8Array | null;
}

function checkIdem(idem: Uint8Array): void {
  if (idem.length !== IDEM_BYTES) throw new UsageError(`an idempotency id is ${IDEM_BYTES} bytes`);
}

/** Pending sends (store.outbox). */
export class OutboxTable {
  constructor(private readonly ctx: StoreContext) {}

  private record(r: Row): OutboxRecord {
    const idem = blob(r.idem).slice();
    const envelope = blobOrNull(r.envelope);
    const app = blobOrNull(r.app);
    return {
      idem,
      chatId: r.chat_id,
      messageId: r.message_id,
      envelope: envelope === null ? null : envelope.slice(),
      copies: envelope === null ? this.copies(idem) : [],
      app: app === null ? null : this.ctx.sealer.open("outbox", "app", [idem], app),
      to: r.recipient,
      createdAt: r.created_at,
      attempts: r.attempts,
    };
  }

  private copies(idem: Uint8Array): OutboxCopy[] {
    const rows = this.ctx
      .stmt("SELECT recipient, device, envelope FROM outbox_copies WHERE idem = ? ORDER BY position")
      .all(idem) as { recipient: string; device: number; envelope: Uint8Array }[];
    return rows.map((c) => ({ to: c.recipient, device: c.device, envelope: blob(c.envelope).slice() }));
  }

  private putCopies(idem: Uint8Array, copies: readonly OutboxCopy[]): void {
    this.ctx.stmt("DELETE FROM outbox_copies WHERE idem = ?").run(idem);
    copies.forEach((c, i) =>
      this.ctx
        .stmt("INSERT INTO outbox_copies (idem, position, recipient, device, envelope) VALUES (?, ?, ?, ?, ?)")
        .run(idem, i, c.to, c.device, c.envelope),
    );
  }

  /** Queues an envelope. Throws UsageError for an idem that is not 16 bytes, the constraint error for a duplicate idem. */
  add(o: OutboxInput): void {
    checkIdem(o.idem);
    this.ctx
      .stmt(
        "INSERT INTO outbox (idem, chat_id, message_id, envelope, recipient, created_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)",
      )
      .run(o.idem, o.chatId, o.messageId ?? null, o.envelope, o.to ?? null, this.ctx.now());
  }

  /**
   * Queues a 1:1 message: its application message (sealed) and its encryption, one envelope or
   * its per-device copies, in one transaction. Throws like `add`, and UsageError for no copies.
   */
  addDirect(o: DirectOutboxInput): void {
    checkIdem(o.idem);
    if (o.encrypted.copies?.length === 0) throw new UsageError("a message sent as copies has at least one");
    this.ctx.tx(() => {
      this.ctx
        .stmt(
          `INSERT INTO outbox (idem, chat_id, message_id, envelope, recipient, created_at, attempts, app)
           VALUES (?, ?, ?, ?, NULL, ?, 0, ?)`,
        )
        .run(
          o.idem,
          o.chatId,
          o.messageId,
          o.encrypted.envelope ?? null,
          this.ctx.now(),
          this.ctx.sealer.seal("outbox", "app", [o.idem], o.app),
        );
      if (o.encrypted.copies) this.putCopies(o.idem, o.encrypted.copies);
    });
  }

  /**
   * Replaces the encryption of a queued 1:1 message (it was encrypted again to the current
   * devices), optionally under a new idem (`newIdem`: only when the relay proved it stored
   * nothing under the old one). The application message is resealed under the new row key.
   * Returns false, changing nothing, when the entry is no longer queued or has no application
   * message. Throws UsageError for a bad idem or no copies.
   */
  reencrypt(idem: Uint8Array, encrypted: DirectEncryption, newIdem: Uint8Array = idem): boolean {
    checkIdem(newIdem);
    if (encrypted.copies?.length === 0) throw new UsageError("a message sent as copies has at least one");
    return this.ctx.tx(() => {
      const current = this.get(idem);
      if (current === undefined || current.app === null) return false;
      this.ctx
        .stmt("UPDATE outbox SET idem = ?, envelope = ?, app = ? WHERE idem = ?")
        .run(newIdem, encrypted.envelope ?? null, this.ctx.sealer.seal("outbox", "app", [newIdem], current.app), idem);
      this.putCopies(newIdem, encrypted.copies ?? []);
      return true;
    });
  }

  /** The queued entries in the order they were added, up to `limit`. */
  list(limit = 1000): OutboxRecord[] {
    return (this.ctx.stmt("SELECT * FROM outbox ORDER BY rowid LIMIT ?").all(limit) as Row[]).map((r) =>
      this.record(r),
    );
  }

  /** One queued entry, or undefined. */
  get(idem: Uint8Array): OutboxRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM outbox WHERE idem = ?").get(idem) as Row | undefined;
    return r && this.record(r);
  }

  /** Removes an entry (and its copies) once the relay acknowledged it. Returns whether it was queued. */
  remove(idem: Uint8Array): boolean {
    return this.ctx.stmt("DELETE FROM outbox WHERE idem = ?").run(idem).changes > 0;
  }

  /** Counts one more attempt to send it. Returns whether it is queued. */
  bumpAttempts(idem: Uint8Array): boolean {
    return this.ctx.stmt("UPDATE outbox SET attempts = attempts + 1 WHERE idem = ?").run(idem).changes > 0;
  }

  /** How many entries are queued. */
  count(): number {
    return (this.ctx.stmt("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  }
}
