/**
 * Our prekeys (SECURITY.md §4.2): `signed_prekeys` and `one_time_prekeys`, by key id. Row key
 * of the sealed `private` column: [id].
 */
import { UsageError } from "../../src/errors.js";
import { type StoreContext, bit } from "./context.js";
import { blob } from "./sqlite.js";
import type { OneTimePrekeyRecord, SignedPrekeyRecord } from "./types.js";

interface SignedRow {
  id: number;
  private: Uint8Array;
  public: Uint8Array;
  signature: Uint8Array;
  created_at: number;
  current: number;
}

interface OneTimeRow {
  id: number;
  private: Uint8Array;
  public: Uint8Array;
  published: number;
  created_at: number;
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new UsageError("a prekey id is a u32");
}

/** Signed and one-time prekeys (store.prekeys). */
export class PrekeysTable {
  constructor(private readonly ctx: StoreContext) {}

  private signed(r: SignedRow): SignedPrekeyRecord {
    return {
      id: r.id,
      privateKey: this.ctx.sealer.open("signed_prekeys", "private", [r.id], blob(r.private)),
      publicKey: blob(r.public).slice(),
      signature: blob(r.signature).slice(),
      createdAt: r.created_at,
      current: r.current === 1,
    };
  }

  private oneTime(r: OneTimeRow): OneTimePrekeyRecord {
    return {
      id: r.id,
      privateKey: this.ctx.sealer.open("one_time_prekeys", "private", [r.id], blob(r.private)),
      publicKey: blob(r.public).slice(),
      published: r.published === 1,
      createdAt: r.created_at,
    };
  }

  // -- signed prekeys ------------------------------------------------------------------------

  /**
   * Stores a signed prekey (replacing one with the same id). With `current`, it becomes the
   * current one and the previous current one is kept as an old key.
   */
  putSigned(k: {
    id: number;
    privateKey: Uint8Array;
    publicKey: Uint8Array;
    signature: Uint8Array;
    current: boolean;
  }): void {
    checkId(k.id);
    this.ctx.tx(() => {
      if (k.current) this.ctx.stmt("UPDATE signed_prekeys SET current = 0 WHERE current = 1 AND id <> ?").run(k.id);
      this.ctx
        .stmt(
          `INSERT OR REPLACE INTO signed_prekeys (id, private, public, signature, created_at, current)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(
          k.id,
          this.ctx.sealer.seal("signed_prekeys", "private", [k.id], k.privateKey),
          k.publicKey,
          k.signature,
          this.ctx.now(),
          bit(k.current),
        );
    });
  }

  /** The signed prekey with this id, or undefined. */
  getSigned(id: number): SignedPrekeyRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM signed_prekeys WHERE id = ?").get(id) as SignedRow | undefined;
    return r && this.signed(r);
  }

  /** The current signed prekey, or undefined. */
  currentSigned(): SignedPrekeyRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM signed_prekeys WHERE current = 1").get() as SignedRow | undefined;
    return r && this.signed(r);
  }

  /** Every signed prekey, oldest first. */
  listSigned(): SignedPrekeyRecord[] {
    return (this.ctx.stmt("SELECT * FROM signed_prekeys ORDER BY created_at, id").all() as SignedRow[]).map((r) =>
      this.signed(r),
    );
  }

  /** Deletes a signed prekey (an old one past its grace period). Returns whether it existed. */
  deleteSigned(id: number): boolean {
    return this.ctx.stmt("DELETE FROM signed_prekeys WHERE id = ?").run(id).changes > 0;
  }

  /**
   * Reserves and returns a fresh signed prekey id: never one this store handed out before,
   * even if that key was deleted since (ids are remembered in `meta`).
   */
  allocateSignedId(): number {
    return this.allocate("next_signed_prekey_id", "signed_prekeys", 1);
  }

  // -- one-time prekeys ----------------------------------------------------------------------

  /** Stores new one-time prekeys, unpublished, in one transaction. Throws on a duplicate id. */
  putOneTime(keys: readonly { id: number; privateKey: Uint8Array; publicKey: Uint8Array }[]): void {
    this.ctx.tx(() => {
      const now = this.ctx.now();
      const ins = this.ctx.stmt(
        "INSERT INTO one_time_prekeys (id, private, public, published, created_at) VALUES (?, ?, ?, 0, ?)",
      );
      for (const k of keys) {
        checkId(k.id);
        ins.run(k.id, this.ctx.sealer.seal("one_time_prekeys", "private", [k.id], k.privateKey), k.publicKey, now);
      }
    });
  }

  /** The one-time prekey with this id, or undefined. */
  getOneTime(id: number): OneTimePrekeyRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM one_time_prekeys WHERE id = ?").get(id) as OneTimeRow | undefined;
    return r && this.oneTime(r);
  }

  /**
   * Removes and returns a one-time prekey. Call it in the same transaction that stores the
   * session its first message created (SECURITY.md §5: delete only after the first message
   * decrypted), so a crash keeps both or neither.
   */
  takeOneTime(id: number): OneTimePrekeyRecord | undefined {
    return this.ctx.tx(() => {
      const k = this.getOneTime(id);
      if (k) this.ctx.stmt("DELETE FROM one_time_prekeys WHERE id = ?").run(id);
      return k;
    });
  }

  /** Deletes a one-time prekey. Returns whether it existed. */
  deleteOneTime(id: number): boolean {
    return this.ctx.stmt("DELETE FROM one_time_prekeys WHERE id = ?").run(id).changes > 0;
  }

  /** One-time prekeys not yet uploaded, in id order, up to `limit`. */
  unpublishedOneTime(limit = 1000): OneTimePrekeyRecord[] {
    const rows = this.ctx
      .stmt("SELECT * FROM one_time_prekeys WHERE published = 0 ORDER BY id LIMIT ?")
      .all(limit) as OneTimeRow[];
    return rows.map((r) => this.oneTime(r));
  }

  /** Marks one-time prekeys as uploaded (after the relay confirmed). */
  markPublished(ids: readonly number[]): void {
    this.ctx.tx(() => {
      const upd = this.ctx.stmt("UPDATE one_time_prekeys SET published = 1 WHERE id = ?");
      for (const id of ids) upd.run(id);
    });
  }

  /** How many one-time prekeys we hold (all, or only published / unpublished ones). */
  countOneTime(published?: boolean): number {
    const r =
      published === undefined
        ? this.ctx.stmt("SELECT count(*) AS n FROM one_time_prekeys").get()
        : this.ctx.stmt("SELECT count(*) AS n FROM one_time_prekeys WHERE published = ?").get(bit(published));
    return (r as { n: number }).n;
  }

  /**
   * Reserves `count` consecutive fresh one-time prekey ids and returns the first: never ids
   * this store handed out before, even for keys already used and deleted, so a late first
   * message can never pick a newer key with a recycled id.
   */
  allocateOneTimeIds(count: number): number {
    return this.allocate("next_one_time_prekey_id", "one_time_prekeys", count);
  }

  /** Reserves `count` ids from the counter `key` in meta (starting above any id in `table`). */
  private allocate(key: string, table: "signed_prekeys" | "one_time_prekeys", count: number): number {
    if (!Number.isInteger(count) || count < 1) throw new UsageError("count must be a positive integer");
    return this.ctx.tx(() => {
      const stored = this.ctx.stmt("SELECT value FROM meta WHERE key = ?").get(key) as { value: number } | undefined;
      const max = (this.ctx.stmt(`SELECT max(id) AS m FROM ${table}`).get() as { m: number | null }).m;
      const first = Math.max(stored?.value ?? 1, (max ?? 0) + 1);
      if (first + count - 1 > 0xffffffff) throw new UsageError("prekey ids exhausted");
      this.ctx.stmt("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, first + count);
      return first;
    });
  }
}
