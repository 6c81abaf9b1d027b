/**
 * Opens the relay's database (docs/ARCHITECTURE.md, Relay storage): an external PostgreSQL
 * when a URL is configured, otherwise the relay's embedded PostgreSQL in `<data>/pg`, which
 * this starts (and `close()` stops). Both are the same driver, SQL and migrations. Refuses a
 * server that could lose acknowledged messages (fsync or synchronous_commit off) unless the
 * operator explicitly accepted that, and follows the data folder's storage marker
 * (storage-marker.ts): a folder never silently gets a second, empty database.
 *
 * A folder from an earlier version, with its data in PGlite (`<data>/db`), is moved into the
 * embedded PostgreSQL by `relay serve` on its first start and by `relay migrate --from-pglite`;
 * the old folder is kept as `<data>/db.pglite-backup`.
 */
import { existsSync, renameSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { type LocalErrorCode, SmsgError } from "../src/errors.js";
import type { RelayConfig } from "./config.js";
import { type EmbeddedPostgres, PG_DIR, startEmbeddedPostgres } from "./embedded/embedded-postgres.js";
import type { Logger } from "./logger.js";
import { PGLITE_DIR, type StorageKind, folderStorage, writeMarker } from "./storage-marker.js";
import { type Db, checkDurability, createPgDriver, migrate } from "./store/index.js";
import { ensureDataDir } from "./data-dir.js";

/** The PGlite folder's name once its data was moved. */
export const PGLITE_BACKUP_DIR = "db.pglite-backup";

/** The relay's open database and how to reach it. */
export interface OpenedStorage {
  readonly db: Db;
  readonly kind: StorageKind;
  /**
   * A URL reaching the same database, for pg, psql or pg_dump (backups). For the embedded
   * server it goes through its Unix socket: postgresql://smsg@/smsg?host=<data>/pg&port=5432.
   */
  readonly connectionString: string;
  /** For the start-up line: "embedded PostgreSQL in <data>/pg" or "PostgreSQL". */
  readonly description: string;
  /** Closes the pool and, for the embedded server, stops it. */
  close(): Promise<void>;
}

/** Who opens the database: the relay itself may create storage and move old data; operator commands only use what exists. */
export type OpenPurpose = "serve" | "migrate" | "operate";

type OpenConfig = Pick<RelayConfig, "databaseUrl" | "dataDir" | "allowUnsafeDurability"> & {
  readonly dbUser?: string | undefined;
  /** Called when the embedded server exits while the relay still uses it. */
  readonly onServerLost?: (detail: string) => void;
};

/** Pool size: the commit shards, reads of many connections at once, and headroom. */
const POOL_SIZE = 10;
/**
 * No statement may run longer than this: one client's expensive request cannot hold a pooled
 * connection (and everyone waiting for one) for long. The relay's queries take milliseconds.
 */
export const STATEMENT_TIMEOUT_MS = 30_000;

function driverFor(poolConfig: pg.PoolConfig, log: Logger): Db {
  return createPgDriver({
    pool: new pg.Pool({ max: POOL_SIZE, statement_timeout: STATEMENT_TIMEOUT_MS, ...poolConfig }),
    onListenerLost: (err) => log.warn({ err: err.message }, "lost the LISTEN connection; retrying"),
    onListenerRestored: () => log.info("LISTEN connection restored"),
  });
}

async function checkSafe(db: Db, config: OpenConfig, log: Logger): Promise<void> {
  const off = await checkDurability(db);
  if (off.length > 0 && !config.allowUnsafeDurability) {
    throw new SmsgError(
      "UNSAFE_DURABILITY",
      `PostgreSQL has ${off.join(" and ")} off, so an acknowledged message could be lost in a crash; ` +
        "fix the server, or pass --allow-unsafe-durability to accept that risk",
    );
  }
  if (off.length > 0) log.warn({ off }, "running with unsafe durability: acknowledged messages may be lost in a crash");
}

function refuse(code: LocalErrorCode, message: string): never {
  throw new SmsgError(code, message);
}

/** Decides the storage from the URL and the folder's marker; throws a sentence when they disagree. */
function chooseStorage(config: OpenConfig, purpose: OpenPurpose): "embedded" | "postgresql" | "from-pglite" {
  const dir = config.dataDir;
  const found = existsSync(dir) ? folderStorage(dir) : "none";
  if (config.databaseUrl) {
    if (found === "embedded" || found === "pglite") {
      refuse(
        "STORAGE_MISMATCH",
        `the relay of ${dir} keeps its data in its embedded database, not in the PostgreSQL of --database-url ` +
          "(or DATABASE_URL); run without it (nothing was changed)",
      );
    }
    return "postgresql";
  }
  switch (found) {
    case "postgresql":
    case "unknown-external":
      return refuse(
        "DATABASE_URL_REQUIRED",
        `the relay of ${dir} keeps its data in an external PostgreSQL: give its URL with --database-url ` +
          "(or DATABASE_URL); nothing was changed",
      );
    case "pglite":
      if (purpose === "operate") {
        return refuse(
          "PGLITE_NOT_MOVED",
          `${dir} holds the PGlite database of an earlier version: start the relay once (smsg relay serve), ` +
            "or run smsg relay migrate --from-pglite, to move it to the embedded PostgreSQL first",
        );
      }
      return "from-pglite";
    case "none":
      if (purpose === "operate") {
        return refuse(
          "NO_RELAY",
          `no relay has run in ${dir} yet (no database there): start it with smsg relay serve --data ${dir}`,
        );
      }
      return "embedded";
    case "embedded":
      return "embedded";
  }
}

/**
 * Opens the database for the data folder and applies the migrations. `purpose` says who asks
 * (see OpenPurpose). Throws a SmsgError with one sentence when it cannot.
 */
export async function openDatabase(config: OpenConfig, log: Logger, purpose: OpenPurpose): Promise<OpenedStorage> {
  const choice = chooseStorage(config, purpose);
  if (choice === "postgresql") {
    const url = config.databaseUrl!;
    const db = driverFor({ connectionString: url }, log);
    try {
      await checkSafe(db, config, log);
      const applied = await migrate(db);
      if (applied.length > 0) log.info({ applied }, "migrations applied");
    } catch (e) {
      await db.close().catch(() => undefined);
      if (e instanceof SmsgError) throw e;
      throw new SmsgError(
        "DATABASE_UNREACHABLE",
        `cannot use the database: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (purpose !== "operate") writeMarker(config.dataDir, "postgresql");
    return { db, kind: "postgresql", connectionString: url, description: "PostgreSQL", close: () => db.close() };
  }

  ensureDataDir(config.dataDir);
  const server: EmbeddedPostgres = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    dbUser: config.dbUser,
    log,
    ...(config.onServerLost ? { onUnexpectedExit: config.onServerLost } : {}),
  });
  const db = driverFor(server.connectionConfig(), log);
  const close = async () => {
    await db.close().catch(() => undefined);
    await server.stop();
  };
  try {
    await checkSafe(db, { ...config, allowUnsafeDurability: false }, log);
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ applied }, "migrations applied");
    if (choice === "from-pglite") await movePglite(config.dataDir, db, log);
    else if (purpose !== "operate") writeMarker(config.dataDir, "embedded");
  } catch (e) {
    await close();
    throw e;
  }
  return {
    db,
    kind: "embedded",
    connectionString: server.connectionString(),
    description: `embedded PostgreSQL in ${join(config.dataDir, PG_DIR)}`,
    close,
  };
}

/** Copies the old PGlite data in, records the folder as embedded, then keeps the old folder aside. */
async function movePglite(dataDir: string, db: Db, log: Logger): Promise<void> {
  const from = join(dataDir, PGLITE_DIR);
  const started = Date.now();
  // Loaded only here: PGlite (wasm) is needed once, to read an old folder.
  const { moveFromPglite } = await import("./embedded/from-pglite.js");
  const counts = await moveFromPglite(from, db);
  writeMarker(dataDir, "embedded");
  let backup = join(dataDir, PGLITE_BACKUP_DIR);
  for (let n = 2; existsSync(backup); n++) backup = join(dataDir, `${PGLITE_BACKUP_DIR}.${n}`);
  renameSync(from, backup);
  log.warn(
    { ms: Date.now() - started, rows: counts, backup },
    "moved the PGlite database into the embedded PostgreSQL",
  );
}
