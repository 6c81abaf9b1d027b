/**
 * The two storages a relay integration suite runs on: the test file's database on the run's
 * embedded PostgreSQL (the relay's default storage), and (when TEST_DATABASE_URL is set) a throwaway PostgreSQL database smsg_test_<random>
 * created for the file and dropped afterwards. A suite calls `relayStorages()` and registers
 * one `describe.skipIf(s.skip)` per entry, so the same test body runs on both.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type Db, createPgDriver, migrate } from "../../relay/store/index.js";
import { sharedDatabase } from "./harness.js";
import { resetTables } from "./store/harness.js";

export const TEST_DATABASE_URL = process.env["TEST_DATABASE_URL"] ?? "";

/** One storage for a suite: `open` in beforeAll, `fresh` before each relay, `close` in afterAll. */
export interface RelayStorage {
  readonly name: "embedded PostgreSQL" | "PostgreSQL";
  /** True when this storage is not available (PostgreSQL without TEST_DATABASE_URL). */
  readonly skip: boolean;
  open(): Promise<void>;
  /** The database, emptied (every table truncated, ids restarted). */
  fresh(): Promise<Db>;
  close(): Promise<void>;
}

/** Logs, once per suite, why the PostgreSQL variant is skipped. */
export function explainSkip(suite: string): void {
  if (TEST_DATABASE_URL === "") {
    console.log(
      `${suite} on PostgreSQL: skipped, TEST_DATABASE_URL is not set ` +
        "(set it to a server where the user may create databases, e.g. postgres://postgres@127.0.0.1:5432/test)",
    );
  }
}

/** A throwaway database on the TEST_DATABASE_URL server; `drop` removes it (and ends the admin pool). */
export async function createThrowawayDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  const name = `smsg_test_${randomBytes(6).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

function embeddedStorage(): RelayStorage {
  return {
    name: "embedded PostgreSQL",
    skip: false,
    async open() {
      await sharedDatabase();
    },
    fresh: () => sharedDatabase(),
    async close() {},
  };
}

function postgresStorage(): RelayStorage {
  let db: Db | undefined;
  let drop: (() => Promise<void>) | undefined;
  return {
    name: "PostgreSQL",
    skip: TEST_DATABASE_URL === "",
    async open() {
      const created = await createThrowawayDatabase();
      drop = created.drop;
      db = createPgDriver({ connectionString: created.url, max: 10 });
      await migrate(db);
    },
    async fresh() {
      if (db === undefined) throw new Error("the PostgreSQL test database was not created");
      await resetTables(db);
      return db;
    },
    async close() {
      await db?.close();
      await drop?.();
    },
  };
}

/** The embedded PostgreSQL always, external PostgreSQL when TEST_DATABASE_URL is set (skipped otherwise). */
export function relayStorages(): RelayStorage[] {
  return [embeddedStorage(), postgresStorage()];
}
