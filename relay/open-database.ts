/**
 * Opens the relay's database: PostgreSQL through `pg` when a URL is configured, otherwise the
 * embedded PGlite database in `<data>/db`. Applies the migrations, and refuses a PostgreSQL
 * server that could lose acknowledged messages (fsync or synchronous_commit off) unless the
 * operator explicitly accepted that.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SmsgError } from "../src/errors.js";
import type { RelayConfig } from "./config.js";
import type { Logger } from "./logger.js";
import { type Db, checkDurability, createPgDriver, migrate, openPgliteDriver } from "./store/index.js";

export async function openDatabase(
  config: Pick<RelayConfig, "databaseUrl" | "dataDir" | "allowUnsafeDurability">,
  log: Logger,
): Promise<Db> {
  let db: Db;
  if (config.databaseUrl) {
    db = createPgDriver({
      connectionString: config.databaseUrl,
      onListenerLost: (err) => log.warn({ err: err.message }, "lost the LISTEN connection; retrying"),
      onListenerRestored: () => log.info("LISTEN connection restored"),
    });
    try {
      const off = await checkDurability(db);
      if (off.length > 0 && !config.allowUnsafeDurability) {
        throw new SmsgError(
          "UNSAFE_DURABILITY",
          `PostgreSQL has ${off.join(" and ")} off, so an acknowledged message could be lost in a crash; ` +
            "fix the server, or pass --allow-unsafe-durability to accept that risk",
        );
      }
      if (off.length > 0)
        log.warn({ off }, "running with unsafe durability: acknowledged messages may be lost in a crash");
    } catch (e) {
      await db.close().catch(() => undefined);
      if (e instanceof SmsgError) throw e;
      throw new SmsgError(
        "DATABASE_UNREACHABLE",
        `cannot use the database: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  } else {
    const dir = join(config.dataDir, "db");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    db = await openPgliteDriver({ dataDir: dir });
  }
  const applied = await migrate(db);
  if (applied.length > 0) log.info({ applied }, "migrations applied");
  return db;
}
