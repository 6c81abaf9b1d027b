/**
 * What every table class of the store shares: the connection, its prepared statements, the
 * sealer, the clock, and nested transactions. Internal to client/store/.
 */
import type { Sealer } from "./sealed.js";
import type { Database, Statement, TransactionFn } from "./sqlite.js";

/**
 * The tables whose rows `cached` may keep, and the tables whose writes change them: a write to
 * device_info changes what DeviceListsTable.devices returns. No foreign key cascades into these
 * tables and no trigger writes to them (schema.ts), so a write to any other table leaves them.
 */
const CACHED_FAMILY: Readonly<Record<string, string>> = {
  contacts: "contacts",
  chats: "chats",
  device_lists: "device_lists",
  device_info: "device_lists",
};

/** The table a writing statement writes to (INSERT / REPLACE / UPDATE / DELETE), or undefined. */
const WRITE_TARGET =
  /^\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+(\w+)/i;

/**
 * Writes a table class keeps in memory until its transaction commits (SessionsTable: a
 * session advanced by every frame of a sync page is written once, docs/ARCHITECTURE.md §4.1).
 * `tx` saves its state as a transaction or savepoint begins and restores it when that one
 * rolls back, so a rolled-back savepoint leaves nothing of itself here either; `flush` runs
 * inside the outermost transaction just before COMMIT (a failing flush rolls the whole
 * transaction back); `discard` runs when the outermost transaction has ended, committed or not.
 */
export interface DeferredWrites<S> {
  save(): S;
  restore(saved: S): void;
  flush(): void;
  discard(): void;
}

/** The connection and helpers the table classes use. */
export class StoreContext {
  private readonly statements = new Map<string, Statement>();
  /**
   * Rows read inside the current transaction, per cached table family then key (`cached`).
   * Emptied when the outermost transaction begins and ends, when any transaction or savepoint
   * is rolled back, and (per family) before every write to the family's tables.
   */
  private readonly readCache = new Map<string, Map<string, unknown>>();
  /**
   * One transaction function for every `tx`, made once: it runs the function it is given.
   * better-sqlite3 builds four wrappers per `db.transaction(fn)`, which cost more than the
   * SAVEPOINT itself when every frame of a sync page nests a few (docs/ARCHITECTURE.md §4.1).
   */
  private readonly runInTx: TransactionFn<[fn: () => unknown], unknown>;
  /** What `deferring` registered (one per table class that defers writes). */
  private readonly deferred: DeferredWrites<unknown>[] = [];

  constructor(
    readonly db: Database,
    readonly sealer: Sealer,
    /** Milliseconds since the epoch, for created_at / updated_at columns. */
    readonly now: () => number,
  ) {
    this.runInTx = db.transaction((fn: () => unknown) => fn());
  }

  /**
   * The prepared statement for `sql`, prepared once per connection. A statement that writes
   * forgets what `cached` holds of the table it writes (everything, for a write whose table it
   * cannot tell), before it runs.
   */
  stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (!s.readonly) s = this.forgetting(s, sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** `s`, which writes, made to empty the read cache it concerns before each run. */
  private forgetting(s: Statement, sql: string): Statement {
    const table = WRITE_TARGET.exec(sql)?.[1]?.toLowerCase();
    const forget =
      // (A table named with its schema, main.x, is not told apart: everything is forgotten.)
      table === undefined || table === "main" || table === "temp"
        ? () => this.readCache.clear()
        : CACHED_FAMILY[table] !== undefined
          ? () => this.readCache.delete(CACHED_FAMILY[table]!)
          : undefined;
    if (forget === undefined) return s;
    return {
      readonly: false,
      run: (...params) => (forget(), s.run(...params)),
      get: (...params) => (forget(), s.get(...params)),
      all: (...params) => (forget(), s.all(...params)),
    };
  }

  /**
   * `load()`, kept for the rest of the current transaction under (`family`, `key`): a sync page
   * reads the same contact, chat and device list for each of its frames (docs/ARCHITECTURE.md
   * §4.1, "Receiving a sync page"). Only inside a transaction, where BEGIN IMMEDIATE holds the
   * write lock so no other process changes a row; outside one it always loads. `family` is a
   * key of CACHED_FAMILY, so that the family's writes forget it. The value is shared by every
   * caller of the transaction: it must not be changed.
   */
  cached<T>(family: string, key: string, load: () => T): T {
    if (!this.db.inTransaction) return load();
    let rows = this.readCache.get(family);
    if (rows?.has(key)) return rows.get(key) as T;
    const value = load();
    if (rows === undefined) this.readCache.set(family, (rows = new Map()));
    rows.set(key, value);
    return value;
  }

  /** Registers writes kept until commit (DeferredWrites); call it once per table class, at construction. */
  deferring<S>(d: DeferredWrites<S>): void {
    this.deferred.push(d as DeferredWrites<unknown>);
  }

  /**
   * Runs `fn` in the caller's transaction without a savepoint of its own, or in a new one when
   * there is none: for a write of one statement that nothing can leave half-done (a savepoint
   * would only cost), which still needs the write lock held from a read it depends on (next-id.ts).
   */
  inTx<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.tx(fn);
  }

  /**
   * Runs `fn` in a transaction: BEGIN IMMEDIATE at the top level (so a writer waits for the
   * write lock up front, under the busy timeout, instead of failing on upgrade), a SAVEPOINT
   * when already inside one. `fn` must be synchronous. Throwing rolls it back and rethrows;
   * the deferred writes (DeferredWrites) made inside it are forgotten with it.
   */
  tx<T>(fn: () => T): T {
    const outermost = !this.db.inTransaction;
    if (outermost) {
      this.readCache.clear();
      // Nothing kept belongs to a transaction that is not open (see the catch below).
      for (const d of this.deferred) d.discard();
    }
    const saved = this.deferred.map((d) => d.save());
    try {
      return this.runInTx.immediate(
        outermost
          ? () => {
              const r = fn();
              // (Not when SQLite already rolled the transaction back on its own: the writes would
              // then go out one by one, outside any transaction; COMMIT fails instead.)
              if (this.db.inTransaction) for (const d of this.deferred) d.flush();
              return r;
            }
          : fn,
      ) as T;
    } catch (e) {
      // Rolled back: what was read after a write it undid is no longer what the store holds.
      this.readCache.clear();
      // A savepoint rolled back: what was kept before it is kept again. SQLite ended the whole
      // transaction on its own (SQLITE_FULL, IOERR, NOMEM): nothing kept belongs to anything now,
      // and a later transaction must not commit it.
      if (this.db.inTransaction) this.deferred.forEach((d, i) => d.restore(saved[i]));
      else for (const d of this.deferred) d.discard();
      throw e;
    } finally {
      if (outermost) {
        this.readCache.clear();
        for (const d of this.deferred) d.discard();
      }
    }
  }
}

/** 0/1 of a boolean, for INTEGER columns. */
export function bit(b: boolean): number {
  return b ? 1 : 0;
}
