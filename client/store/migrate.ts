/**
 * Applies the store's migrations (schema.ts). Runs in one IMMEDIATE transaction, so two
 * processes opening a new profile at once cannot both migrate: the second waits (busy
 * timeout), then finds the schema current. `PRAGMA user_version` is written in the same
 * transaction as the migration's tables, so a crash leaves either both or neither.
 */
import { InternalError } from "../../src/errors.js";
import { StoreTooNewError } from "./errors.js";
import { MIGRATIONS, type Migration } from "./schema.js";
import type { Database } from "./sqlite.js";

/** The schema version recorded in the database (0 for a new file). */
export function schemaVersion(db: Database): number {
  const v = db.pragma("user_version", { simple: true });
  if (typeof v !== "number") throw new InternalError("user_version is not a number");
  return v;
}

/**
 * Brings `db` to schema.ts's SCHEMA_VERSION (or `migrations`' last version, for tests) and runs `after`
 * inside the same transaction (used to check or create the key check). Returns the version.
 * Throws StoreTooNewError, changing nothing, when the file is newer than this client.
 */
export function migrate(
  db: Database,
  after: () => void = () => {},
  migrations: readonly Migration[] = MIGRATIONS,
): number {
  const target = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const run = db.transaction(() => {
    const found = schemaVersion(db);
    if (found > target) throw new StoreTooNewError(found, target);
    for (const m of migrations) {
      if (m.version <= found) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
    after();
    return schemaVersion(db);
  });
  return run.immediate();
}
