/**
 * Delivery cursors (`cursors`): the last relay message id this profile acknowledged in each
 * chat. Set it in the transaction that stores the message, then send `ack` after the commit:
 * a crash before the ack means the relay sends the message again, and messages.insert ignores
 * the duplicate (at least once on the wire, exactly once on the screen).
 */
import { type StoreContext } from "./context.js";

/** Cursors (store.cursors). */
export class CursorsTable {
  constructor(private readonly ctx: StoreContext) {}

  /** The last acknowledged relay message id of a chat, 0 when none. */
  get(chatId: number): number {
    const r = this.ctx.stmt("SELECT last_acked FROM cursors WHERE chat_id = ?").get(chatId) as
      { last_acked: number } | undefined;
    return r?.last_acked ?? 0;
  }

  /** Moves a chat's cursor to `upto`; never backwards. The chat must exist (foreign key). */
  set(chatId: number, upto: number): void {
    this.ctx
      .stmt(
        `INSERT INTO cursors (chat_id, last_acked) VALUES (?, ?)
         ON CONFLICT (chat_id) DO UPDATE SET last_acked = max(last_acked, excluded.last_acked)`,
      )
      .run(chatId, upto);
  }

  /** Every chat's cursor, by chat id. */
  list(): { chatId: number; lastAcked: number }[] {
    const rows = this.ctx.stmt("SELECT chat_id, last_acked FROM cursors ORDER BY chat_id").all();
    return (rows as { chat_id: number; last_acked: number }[]).map((r) => ({
      chatId: r.chat_id,
      lastAcked: r.last_acked,
    }));
  }
}
