/**
 * A `Db` over PGlite (PostgreSQL compiled to wasm, inside this process). The relay no longer
 * runs on it: its storage is the embedded PostgreSQL (relay/embedded/). This driver is kept to
 * read the data folders of earlier versions, which kept their data in PGlite (`<data>/db`), so
 * relay/embedded/from-pglite.ts can move them; the tests use it to make such folders.
 *
 * PGlite is one connection: queries and transactions are serialised by PGlite's own mutex
 * (its `transaction` API), and LISTEN/NOTIFY only reaches this process.
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Db, SqlParam, Tx } from "./db.js";

/** How to open the embedded database. */
export interface PgliteDriverOptions {
  /** Folder holding the database files; created when missing. Undefined: in memory. */
  readonly dataDir?: string;
  /** An already opened PGlite to use instead (injected); `close()` closes it. */
  readonly pglite?: PGlite;
}

function queryable(target: PGlite | Transaction): Tx {
  return {
    async query<T extends object>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
      const result = await target.query<T>(sql, params === undefined ? undefined : [...params]);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
  };
}

/**
 * Opens (creating if needed) an embedded database and returns it as a `Db`. Throws when the
 * data folder cannot be opened (for example, another process holds it).
 */
export async function openPgliteDriver(options: PgliteDriverOptions = {}): Promise<Db> {
  const db = options.pglite ?? new PGlite(options.dataDir);
  await db.waitReady;
  const direct = queryable(db);

  return {
    kind: "pglite",
    query: direct.query,
    exec: direct.exec,
    transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(queryable(tx)));
    },
    async listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>> {
      const unlisten = await db.listen(channel, cb);
      return () => unlisten();
    },
    async notify(channel: string, payload: string): Promise<void> {
      await db.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    async close(): Promise<void> {
      if (!db.closed) await db.close();
    },
  };
}
