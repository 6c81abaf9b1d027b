/**
 * A `Db` that counts the errors its driver throws (smsg_relay_database_errors_total), and is
 * otherwise the same database. Errors a transaction's own code throws to roll it back (the
 * store's refusals) are not the database's and are not counted.
 */
import type { RelayCounters } from "./metrics.js";
import type { Db, Queryable, SqlParam, Tx } from "./store/index.js";

export function countingDatabaseErrors(db: Db, counters: RelayCounters): Db {
  const counted = new WeakSet<object>();
  const count = (e: unknown): never => {
    if (typeof e === "object" && e !== null && !counted.has(e)) {
      counted.add(e);
      counters.databaseError(e);
    }
    throw e;
  };
  const wrap = (q: Queryable): Tx => ({
    query: <T extends object>(sql: string, params?: readonly SqlParam[]) => q.query<T>(sql, params).catch(count),
    exec: (sql: string) => q.exec(sql).catch(count),
  });
  const direct = wrap(db);
  return {
    // Whatever else a driver offers passes through unchanged.
    ...db,
    query: direct.query,
    exec: direct.exec,
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      let fromFn = false;
      try {
        return await db.transaction((tx) =>
          fn(wrap(tx)).catch((e: unknown) => {
            fromFn = true;
            throw e;
          }),
        );
      } catch (e) {
        // BEGIN or COMMIT failing is the database's; what fn threw was counted (or is not a database error).
        if (!fromFn) count(e);
        throw e;
      }
    },
    listen: (channel, cb) => db.listen(channel, cb).catch(count),
    notify: (channel, payload) => db.notify(channel, payload).catch(count),
  };
}
