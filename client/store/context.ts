/**
 * What every table class of the store shares: the connection, its prepared statements, the
 * sealer, the clock, and nested transactions. Internal to client/store/.
 */
import type { Sealer } from "./sealed.js";
import type { Database, Statement, TransactionFn } from "./sqlite.js";

/** The connection and helpers the table classes use. */
export class StoreContext {
  private readonly statements = new Map<string, Statement>();
  /**
   * One transaction function for every `tx`, made once: it runs the function it is given.
   * better-sqlite3 builds four wrappers per `db.transaction(fn)`, which cost more than the
   * SAVEPOINT itself when every frame of a sync page nests a few (docs/ARCHITECTURE.md §4.1).
   */
  private readonly runInTx: TransactionFn<[fn: () => unknown], unknown>;

  constructor(
    readonly db: Database,
    readonly sealer: Sealer,
    /** Milliseconds since the epoch, for created_at / updated_at columns. */
    readonly now: () => number,
  ) {
    this.runInTx = db.transaction((fn: () => unknown) => fn());
  }

  /** The prepared statement for `sql`, prepared once per connection. */
  stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * Runs `fn` in a transaction: BEGIN IMMEDIATE at the top level (so a writer waits for the
   * write lock up front, under the busy timeout, instead of failing on upgrade), a SAVEPOINT
   * when already inside one. `fn` must be synchronous. Throwing rolls it back and rethrows.
   */
  tx<T>(fn: () => T): T {
    return this.runInTx.immediate(fn) as T;
  }
}

/** 0/1 of a boolean, for INTEGER columns. */
export function bit(b: boolean): number {
  return b ? 1 : 0;
}
