/**
 * The one small interface between the relay's store and a database driver. Two drivers
 * implement it: `pg-driver.ts` (PostgreSQL through `pg`: the relay's embedded server and any
 * external one) and `pglite-driver.ts` (PGlite, only to read the folders of earlier versions).
 * The store's SQL is written once against this interface (docs/ARCHITECTURE.md, Relay storage).
 *
 * Row values are normalised identically by both drivers:
 * - `bytea` → `Uint8Array` (never a Node `Buffer`),
 * - `int8` / `bigserial` → `number` when it is a safe integer, otherwise `bigint`,
 * - `timestamptz` → `Date`, `boolean` → `boolean`, `int4` → `number`, `text` → `string`.
 */

/** A value the drivers accept as a query parameter. Arrays become PostgreSQL arrays (cast them: `$1::bigint[]`). */
export type SqlParam = string | number | bigint | boolean | Date | Uint8Array | null | readonly SqlParam[];

/** How an `int8` column arrives: a number when it is a safe integer, otherwise a bigint. */
export type Int8 = number | bigint;

/** Something that runs SQL: the database itself, or an open transaction. */
export interface Queryable {
  /**
   * Runs one statement with `$1`-style parameters and returns its rows.
   * Throws the driver's error (a PostgreSQL error carries its SQLSTATE in `code`).
   */
  query<T extends object>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** A transaction in progress: the same `query`/`exec`, inside BEGIN … COMMIT. */
export type Tx = Queryable;

/** A database connection (pool) as the store sees it. */
export interface Db extends Queryable {
  /** Which driver this is; the store's SQL does not depend on it, tests and logs do. */
  readonly kind: "pg" | "pglite";
  /**
   * Runs `fn` inside BEGIN … COMMIT on one connection and returns its result. If `fn` throws
   * (or COMMIT fails) the transaction is rolled back and the error is rethrown. Inside `fn`
   * use only `tx`: on PGlite, calling the outer `Db` from within a transaction would wait
   * for the transaction forever.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Calls `cb` with the payload of every NOTIFY on `channel` (from any connection, any relay
   * sharing the database). Returns a function that stops this subscription.
   */
  listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Calls `cb` when the connection that LISTENs is lost ("lost") and when it was replaced and
   * every channel listened to again ("restored"): notifications sent in between never arrive,
   * so the relay catches up from the table (relay/fanout.ts). Absent on PGlite (one process).
   */
  onListener?(cb: (state: "lost" | "restored") => void): void;
  /** Sends NOTIFY `channel` with `payload` (at most 8000 bytes: a PostgreSQL limit). */
  notify(channel: string, payload: string): Promise<void>;
  /** Closes every connection this driver opened (an injected pool or PGlite is closed too). */
  close(): Promise<void>;
}

/** A PostgreSQL setting that, when off, lets a crash lose acknowledged messages. */
export type DurabilitySetting = "fsync" | "synchronous_commit";

/**
 * Returns the durability settings that are off on the server behind `db` (`SHOW fsync`,
 * `SHOW synchronous_commit`); `[]` means a committed send survives a crash. The relay acks a
 * send only after its commit, so it refuses to start on a server where this is not empty
 * unless the operator explicitly accepts the risk.
 *
 * Note: PGlite always reports `fsync = off` (it runs with fsync disabled, in memory and on
 * disk alike), one reason the relay no longer runs on it.
 */
export async function checkDurability(db: Queryable): Promise<DurabilitySetting[]> {
  const off: DurabilitySetting[] = [];
  for (const setting of ["fsync", "synchronous_commit"] as const) {
    const rows = await db.query<Record<string, string>>(`SHOW ${setting}`);
    if (rows[0]?.[setting] === "off") off.push(setting);
  }
  return off;
}
