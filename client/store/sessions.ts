/**
 * Pairwise sessions (SECURITY.md §5–§6, per peer device §17.5) as opaque state blobs, and the first messages already
 * accepted. Row key of the sealed `state` column: [peer, base_key].
 *
 * Inside a transaction, the new state of a device's current session (`put` without
 * `makeCurrent`, the case of every received or sent message) is kept in memory and written,
 * sealed, once, just before the transaction commits (StoreContext.deferring; SECURITY.md §16.2):
 * a sync page advances one session hundreds of times in one transaction, and only its last state
 * ever reaches a commit. Every read of this table answers with the state kept, so within the
 * transaction it reads exactly as if each state had been written; a savepoint that rolls back
 * forgets the states kept inside it, as SQLite forgets the rows it wrote; a transaction that does
 * not commit writes none. Any other write to a session (a new one, a change of the current one,
 * a delete) first writes what is kept, so the rows it touches are the ones the reads showed.
 *
 * The decrypt pattern (docs/ARCHITECTURE.md §4.1: ratchet state and history change together):
 *
 * ```ts
 * store.transaction(() => {
 *   const s = store.sessions.get(peer, baseKey);            // open the sealed state
 *   const { newState, plaintext } = decrypt(s.state, env);   // pure, synchronous crypto
 *   store.sessions.put(peer, baseKey, newState);              // seal the new state
 *   store.messages.insert({ ... body: plaintext ... });       // and the message, same commit
 *   store.cursors.set(chatId, relayMsgId);
 * });
 * ```
 */
import { type StoreContext } from "./context.js";
import { blob } from "./sqlite.js";
import type { SessionRecord } from "./types.js";

interface Row {
  rowid?: number;
  peer: string;
  base_key: Uint8Array;
  state: Uint8Array;
  current: number;
  updated_at: number;
  peer_device: number;
}

/** A current session's state kept until commit (file comment), and when it was put. */
interface Kept {
  readonly peer: string;
  readonly baseKey: Uint8Array;
  readonly state: Uint8Array;
  readonly updatedAt: number;
}

/** The key of a session among the kept states. */
function keptKey(peer: string, baseKey: Uint8Array): string {
  return `${peer}\u0000${Buffer.from(baseKey.buffer, baseKey.byteOffset, baseKey.byteLength).toString("hex")}`;
}

/** Sessions with peers and the replay guard for first messages (store.sessions). */
export class SessionsTable {
  /**
   * Called after a delete removed sessions, so what keeps decoded states in memory
   * (client/engine/session-states.ts) can let go of theirs at once, not when it next fills up.
   */
  onDeleted: (() => void) | undefined;

  /**
   * The states kept until commit, by keptKey. Replaced, never changed in place: `save` hands
   * StoreContext a copy of the map, which a rollback puts back.
   */
  private kept = new Map<string, Kept>();

  constructor(private readonly ctx: StoreContext) {
    ctx.deferring({
      save: () => (this.kept.size === 0 ? undefined : new Map(this.kept)),
      restore: (saved) => {
        this.kept = saved ?? new Map();
      },
      flush: () => this.writeKept(),
      discard: () => {
        this.kept = new Map();
      },
    });
  }

  /**
   * Writes every kept state, sealed, and forgets them. A kept session is current and no write
   * touched its row since (each flushes first), so its row is there, unless a delete that did not
   * go through this class (none does: schema.ts) removed it, and then there is nothing to write.
   */
  private writeKept(): void {
    if (this.kept.size === 0) return;
    // Forgotten only once every one is written: a write that throws leaves them all kept (a
    // state written twice is the same row), so a caller that goes on in the transaction still
    // reads, and its commit still writes, the state that goes with the messages it keeps.
    for (const k of this.kept.values()) this.write(k.peer, k.baseKey, k.state, k.updatedAt);
    this.kept = new Map();
  }

  private write(peer: string, baseKey: Uint8Array, state: Uint8Array, updatedAt: number): void {
    const sealed = this.ctx.sealer.seal("sessions", "state", [peer, baseKey], state);
    this.ctx
      .stmt("UPDATE sessions SET state = ?, updated_at = ? WHERE peer = ? AND base_key = ?")
      .run(sealed, updatedAt, peer, baseKey);
  }

  /** Whether a session with this base key exists (any peer). */
  hasBaseKey(baseKey: Uint8Array): boolean {
    return this.ctx.stmt("SELECT 1 FROM sessions WHERE base_key = ?").get(baseKey) !== undefined;
  }

  private deleted(changes: number): number {
    if (changes > 0) this.onDeleted?.();
    return changes;
  }

  private record(r: Row): SessionRecord {
    const baseKey = blob(r.base_key).slice();
    const kept = this.kept.size === 0 ? undefined : this.kept.get(keptKey(r.peer, baseKey));
    return {
      peer: r.peer,
      baseKey,
      state:
        kept !== undefined
          ? kept.state.slice()
          : this.ctx.sealer.open("sessions", "state", [r.peer, baseKey], blob(r.state)),
      current: r.current === 1,
      updatedAt: kept !== undefined ? kept.updatedAt : r.updated_at,
      device: r.peer_device,
    };
  }

  /** The session with `peer` identified by `baseKey`, or undefined. */
  get(peer: string, baseKey: Uint8Array): SessionRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM sessions WHERE peer = ? AND base_key = ?").get(peer, baseKey) as
      Row | undefined;
    return r && this.record(r);
  }

  /** The current session with `peer`'s device `device` (the one to send with), or undefined. */
  current(peer: string, device = 1): SessionRecord | undefined {
    const r = this.ctx
      .stmt("SELECT * FROM sessions WHERE peer = ? AND peer_device = ? AND current = 1")
      .get(peer, device) as Row | undefined;
    return r && this.record(r);
  }

  /** Every session with `peer`'s device `device`, most recently updated first. */
  list(peer: string, device = 1): SessionRecord[] {
    const rows = this.ctx
      .stmt("SELECT rowid, * FROM sessions WHERE peer = ? AND peer_device = ? ORDER BY updated_at DESC, rowid DESC")
      .all(peer, device) as Row[];
    const records = rows.map((r) => this.record(r));
    if (this.kept.size === 0) return records;
    // A kept state's time is not the row's yet: the order the rows would have once written.
    const order = new Map(records.map((rec, i) => [rec, rows[i]!.rowid!]));
    return records.sort((a, b) => b.updatedAt - a.updatedAt || order.get(b)! - order.get(a)!);
  }

  /** The devices of `peer` we hold a session with, ascending. */
  devices(peer: string): number[] {
    const rows = this.ctx
      .stmt("SELECT DISTINCT peer_device AS d FROM sessions WHERE peer = ? ORDER BY peer_device")
      .all(peer) as { d: number }[];
    return rows.map((r) => r.d);
  }

  /** Deletes every session with `peer`'s device `device` (a device removed from its account, §17.7). Returns how many. */
  deleteDevice(peer: string, device: number): number {
    this.writeKept();
    return this.deleted(
      this.ctx.stmt("DELETE FROM sessions WHERE peer = ? AND peer_device = ?").run(peer, device).changes,
    );
  }

  /**
   * Stores a session's state (insert or update), sealed, with the peer's device `opts.device`
   * (default 1; an existing session keeps its device: the base key identifies it). It becomes
   * that device's current session when `makeCurrent` is true or when the device has no current
   * session; otherwise its flag is kept. The peer must be a contact (its identity pinned) or our
   * own account (a session with another device of ours, SECURITY.md §17.5): the schema refuses
   * any other (schema.ts V7).
   */
  put(
    peer: string,
    baseKey: Uint8Array,
    state: Uint8Array,
    opts: { makeCurrent?: boolean; device?: number } = {},
  ): void {
    // The common case, a device's current session advanced by a message: kept until commit inside
    // a transaction (file comment), else one statement; either is what the general case below
    // would do for it (the device and the flag stay).
    if (opts.makeCurrent !== true) {
      if (this.ctx.db.inTransaction) {
        const key = keptKey(peer, baseKey);
        // Kept before in this transaction: still current (every other write flushes first).
        if (
          this.kept.has(key) ||
          this.ctx.stmt("SELECT 1 FROM sessions WHERE peer = ? AND base_key = ? AND current = 1").get(peer, baseKey)
        ) {
          // Copies, so the caller may change or wipe its arrays once put returns, as before. The
          // state's copy is dropped, not wiped, when replaced: a savepoint's saved map may still
          // hold it (and it is an encoding like those callers pass in, which nothing wipes either).
          this.kept.set(key, { peer, baseKey: baseKey.slice(), state: state.slice(), updatedAt: this.ctx.now() });
          return;
        }
      } else {
        const sealed = this.ctx.sealer.seal("sessions", "state", [peer, baseKey], state);
        const updated = this.ctx
          .stmt("UPDATE sessions SET state = ?, updated_at = ? WHERE peer = ? AND base_key = ? AND current = 1")
          .run(sealed, this.ctx.now(), peer, baseKey);
        if (updated.changes > 0) return;
      }
    }
    this.writeKept();
    const sealed = this.ctx.sealer.seal("sessions", "state", [peer, baseKey], state);
    this.ctx.tx(() => {
      this.ctx
        .stmt(
          `INSERT INTO sessions (peer, base_key, state, current, updated_at, peer_device) VALUES (?, ?, ?, 0, ?, ?)
           ON CONFLICT (peer, base_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
        )
        .run(peer, baseKey, sealed, this.ctx.now(), opts.device ?? 1);
      const { peer_device: device } = this.ctx
        .stmt("SELECT peer_device FROM sessions WHERE peer = ? AND base_key = ?")
        .get(peer, baseKey) as { peer_device: number };
      const hasCurrent =
        this.ctx.stmt("SELECT 1 FROM sessions WHERE peer = ? AND peer_device = ? AND current = 1").get(peer, device) !==
        undefined;
      if (opts.makeCurrent === true || !hasCurrent) this.setCurrent(peer, baseKey);
    });
  }

  /** Makes this session the current one of its peer device. Returns whether it exists. */
  setCurrent(peer: string, baseKey: Uint8Array): boolean {
    this.writeKept();
    return this.ctx.tx(() => {
      const row = this.ctx
        .stmt("SELECT peer_device FROM sessions WHERE peer = ? AND base_key = ?")
        .get(peer, baseKey) as { peer_device: number } | undefined;
      if (row === undefined) return false;
      this.ctx
        .stmt("UPDATE sessions SET current = 0 WHERE peer = ? AND peer_device = ? AND current = 1")
        .run(peer, row.peer_device);
      this.ctx.stmt("UPDATE sessions SET current = 1 WHERE peer = ? AND base_key = ?").run(peer, baseKey);
      return true;
    });
  }

  /** Deletes one session. Returns whether it existed. */
  delete(peer: string, baseKey: Uint8Array): boolean {
    this.writeKept();
    return (
      this.deleted(this.ctx.stmt("DELETE FROM sessions WHERE peer = ? AND base_key = ?").run(peer, baseKey).changes) > 0
    );
  }

  /** Deletes every session with `peer`, all devices (after accepting a changed identity). Returns how many. */
  deleteAll(peer: string): number {
    this.writeKept();
    return this.deleted(this.ctx.stmt("DELETE FROM sessions WHERE peer = ?").run(peer).changes);
  }

  // -- first messages already accepted -------------------------------------------------------

  /**
   * Records a first (prekey) message by its base key and the signed prekey it used. Returns
   * false when it was already recorded: a replay, to refuse. Call it in the transaction that
   * stores the session the message created.
   */
  markPrekeyMessageSeen(baseKey: Uint8Array, spkId: number): boolean {
    return (
      this.ctx
        .stmt("INSERT OR IGNORE INTO seen_prekey_messages (base_key, spk_id, seen_at) VALUES (?, ?, ?)")
        .run(baseKey, spkId, this.ctx.now()).changes > 0
    );
  }

  /** True when a first message with this base key and signed prekey id was already accepted. */
  hasSeenPrekeyMessage(baseKey: Uint8Array, spkId: number): boolean {
    return (
      this.ctx.stmt("SELECT 1 FROM seen_prekey_messages WHERE base_key = ? AND spk_id = ?").get(baseKey, spkId) !==
      undefined
    );
  }

  /**
   * Forgets the first messages made with signed prekey `spkId`, once that key is deleted (a
   * message for a deleted key cannot be decrypted anyway). Returns how many were forgotten.
   */
  forgetPrekeyMessages(spkId: number): number {
    return this.ctx.stmt("DELETE FROM seen_prekey_messages WHERE spk_id = ?").run(spkId).changes;
  }
}
