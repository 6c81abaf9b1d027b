/**
 * The migration runner (docs/ARCHITECTURE.md §4.3 Migrations). Applies the numbered plain
 * SQL files `migrations/NNNN_name.sql` in numeric order, each in its own transaction together
 * with its row in `schema_migrations`, so a migration is either fully applied and recorded or
 * not at all. Running it again applies nothing.
 *
 * Several relays may start at once on one PostgreSQL: every transaction first takes a
 * transaction-scoped advisory lock, so one runner applies a migration while the others wait
 * and then find it recorded. (PGlite is a single connection, so the lock is trivially free.)
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";
import type { Db, Int8, Tx } from "./db.js";

/** The advisory lock key migrations run under: "smsgmigr" in ASCII. Chat locks use chat ids, far below it. */
const MIGRATION_LOCK_KEY = 0x736d73676d696772n;

/** A migration file: `0001_init.sql` has version 1. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly path: string;
}

/** The `migrations/` folder of the installed package (found from `dist/relay/store/` and from source alike). */
export function migrationsDir(): string {
  return join(packageRoot(), "migrations");
}

const FILE_NAME = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

/**
 * Lists the migrations in `dir`, ordered by version. Files not ending in `.sql` are ignored.
 * Throws when a `.sql` file is not named `NNNN_name.sql`, has version 0, or two files share a
 * version: a misnamed migration must stop the relay, not be skipped silently.
 */
export function listMigrations(dir: string = migrationsDir()): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(".sql")) continue;
    const match = FILE_NAME.exec(file);
    const version = match?.[1] === undefined ? NaN : Number(match[1]);
    if (match === null || !Number.isSafeInteger(version) || version < 1 || version > 2 ** 31 - 1) {
      throw new Error(`migration file ${file} in ${dir} is not named NNNN_name.sql with NNNN >= 1`);
    }
    const clash = migrations.find((m) => m.version === version);
    if (clash !== undefined) throw new Error(`migrations ${clash.name} and ${file} in ${dir} share version ${version}`);
    migrations.push({ version, name: file, path: join(dir, file) });
  }
  return migrations.sort((a, b) => a.version - b.version);
}

async function lockAndPrepare(tx: Tx): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
  await tx.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version    integer     PRIMARY KEY,
       name       text        NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
}

/**
 * Brings the database behind `db` up to the newest migration in `dir` and returns the
 * versions this call applied (`[]` when it was already up to date).
 *
 * Throws when a migration's SQL fails (that migration is rolled back; earlier ones stay
 * applied), or when the database records a version this package does not have (it was
 * migrated by a newer relay, or a file was removed): running old code on a newer schema is
 * refused rather than guessed at.
 */
export async function migrate(db: Db, dir: string = migrationsDir()): Promise<number[]> {
  const migrations = listMigrations(dir);
  const known = new Set(migrations.map((m) => m.version));

  const recorded = await db.transaction(async (tx) => {
    await lockAndPrepare(tx);
    const rows = await tx.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
    return new Set(rows.map((r) => r.version));
  });
  const unknown = [...recorded].filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new Error(
      `the database records migration version(s) ${unknown.join(", ")} that ${dir} does not have: ` +
        "it was migrated by a newer relay; upgrade this relay",
    );
  }

  const applied: number[] = [];
  for (const migration of migrations) {
    if (recorded.has(migration.version)) continue;
    const sql = readFileSync(migration.path, "utf8");
    const didApply = await db.transaction(async (tx) => {
      await lockAndPrepare(tx);
      // Another runner may have applied it while this one waited for the lock.
      const done = await tx.query<{ n: Int8 }>("SELECT count(*) AS n FROM schema_migrations WHERE version = $1", [
        migration.version,
      ]);
      if (Number(done[0]?.n ?? 0) > 0) return false;
      try {
        await tx.exec(sql);
      } catch (err) {
        throw new Error(`migration ${migration.name} failed: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (didApply) applied.push(migration.version);
  }
  return applied;
}
