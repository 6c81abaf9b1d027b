/**
 * The event journal (`event_journal`): the events each stored incoming message raised
 * (client/engine/events.ts), as sealed JSON, in commit order. Whichever process on the profile
 * stores a message (a running `smsg listen`, or a one-shot command that fetched it first)
 * appends its events in the same transaction, so a listener prints every message exactly once
 * by reading the journal past its mark (SQLite commits one writer at a time and ids never go
 * back: AUTOINCREMENT). Row key of the sealed `event` column: [id]. Entries older than
 * JOURNAL_KEEP_MS are pruned as new ones come.
 */
import { type StoreContext } from "./context.js";
import { nextAutoincrementId } from "./next-id.js";
import { blob } from "./sqlite.js";

/** How long journal entries are kept: far longer than a listener takes to read them. */
export const JOURNAL_KEEP_MS = 24 * 3600_000;
/** Pruning runs on every this-many appends. */
const PRUNE_EVERY = 256;

/** One journal entry. */
export interface JournalEntry {
  readonly id: number;
  /** The event, as the JSON text it was appended with; undefined when the entry does not open (damaged). */
  readonly json: string | undefined;
}

/** The event journal (store.journal). */
export class EventJournalTable {
  constructor(private readonly ctx: StoreContext) {}

  /** Appends one event (JSON text) and returns its id. Call it in the transaction that stored what raised it. */
  append(json: string): number {
    const append = (): number => {
      const now = this.ctx.now();
      const id = nextAutoincrementId(this.ctx, "event_journal");
      const event = this.ctx.sealer.sealText("event_journal", "event", [id], json);
      const insert = () =>
        this.ctx.stmt("INSERT INTO event_journal (id, created_at, event) VALUES (?, ?, ?)").run(id, now, event);
      // One INSERT, sealed under its id (next-id.ts): nothing to leave half-written, so the
      // caller's transaction needs no savepoint of ours, except around the insert and the prune.
      if (id % PRUNE_EVERY !== 0) insert();
      else
        this.ctx.tx(() => {
          insert();
          this.ctx.stmt("DELETE FROM event_journal WHERE created_at < ?").run(now - JOURNAL_KEEP_MS);
        });
      return id;
    };
    // Outside a transaction, one of its own holds the write lock from the id's choice to the insert.
    return this.ctx.inTx(append);
  }

  /** The newest entry's id, 0 when the journal is empty: a reader's starting mark. */
  lastId(): number {
    const r = this.ctx.stmt("SELECT max(id) AS id FROM event_journal").get() as { id: number | null };
    return r.id ?? 0;
  }

  /**
   * Entries with an id above `mark`, oldest first, at most `limit`. Each opens on its own: a
   * damaged one comes with `json` undefined, so a reader can report it and go past it. Ids have
   * no holes except where pruning removed entries.
   */
  after(mark: number, limit = 1000): JournalEntry[] {
    const rows = this.ctx
      .stmt("SELECT id, event FROM event_journal WHERE id > ? ORDER BY id LIMIT ?")
      .all(mark, limit) as { id: number; event: unknown }[];
    return rows.map((r) => {
      try {
        return { id: r.id, json: this.ctx.sealer.openText("event_journal", "event", [r.id], blob(r.event)) };
      } catch {
        return { id: r.id, json: undefined };
      }
    });
  }
}
