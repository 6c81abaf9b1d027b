/**
 * better-sqlite3 with the small typed surface the client uses. The package ships no types and
 * `@types/better-sqlite3` is not a dependency, so this file loads it with `createRequire` (it is
 * a CommonJS native module) and declares exactly the methods we call. Nothing else in the
 * client imports better-sqlite3.
 */
import { createRequire } from "node:module";

/** A bound parameter: SQLite's value types (blobs as Uint8Array; better-sqlite3 returns Buffer). */
export type SqlValue = number | bigint | string | Uint8Array | null;

/** What Statement.run returns. */
export interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/** A prepared statement (better-sqlite3 `Statement`). */
export interface Statement {
  /** True when the statement does not write to the database. */
  readonly readonly: boolean;
  run(...params: SqlValue[]): RunResult;
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

/** A function wrapped by `Database.transaction` (its arguments passed through); the variants choose BEGIN's mode. */
export interface TransactionFn<A extends unknown[], T> {
  (...args: A): T;
  deferred(...args: A): T;
  immediate(...args: A): T;
  exclusive(...args: A): T;
}

/** A connection (better-sqlite3 `Database`). */
export interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): Database;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], T>(fn: (...args: A) => T): TransactionFn<A, T>;
  serialize(options?: { attached?: string }): Uint8Array;
  close(): Database;
  readonly inTransaction: boolean;
  readonly open: boolean;
  readonly name: string;
}

/** Options of `new Database(...)`. `timeout` is SQLite's busy timeout in milliseconds. */
export interface DatabaseOptions {
  readonly readonly?: boolean;
  readonly fileMustExist?: boolean;
  readonly timeout?: number;
}

type DatabaseConstructor = new (filename: string | Uint8Array, options?: DatabaseOptions) => Database;

const require = createRequire(import.meta.url);

/** Opens a SQLite database file (or, given bytes, an in-memory copy of a serialized one). */
export const openDatabase: (filename: string | Uint8Array, options?: DatabaseOptions) => Database = (
  filename,
  options,
) => {
  const Ctor = require("better-sqlite3") as DatabaseConstructor;
  const source =
    filename instanceof Uint8Array ? Buffer.from(filename.buffer, filename.byteOffset, filename.byteLength) : filename;
  return new Ctor(source, options);
};

/** A blob column as a plain Uint8Array view (better-sqlite3 returns Buffers). */
export function blob(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError("expected a blob column");
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** A nullable blob column. */
export function blobOrNull(value: unknown): Uint8Array | null {
  return value === null || value === undefined ? null : blob(value);
}
