/**
 * What every table class of the store shares: the connection, its prepared statements, the
 * sealer, the clock, and nested transactions. Internal to client/store/.
 */
import type { Sealer } from "./sealed.js";
import type { Database, Statement } from "./sqlite.js";

/** The connection and helpers the table classes use. */
export class StoreContext {
  private readonly statements = new Map<string, Statement>();

  constructor(
    readonly db: Database,
    readonly sealer: Sealer,
    /** Milliseconds since the epoch, for created_at / updated_at columns. */
    readonly now: () => number,
  ) {}

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
    return this.db.transaction(fn).immediate();
  }
}

/** 0/1 of a boolean, for INTEGER columns. */
export function bit(b: boolean): number {
  return b ? 1 : 0;
}
