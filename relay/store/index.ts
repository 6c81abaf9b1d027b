/**
 * The relay's storage layer: the Db interface, its drivers (pg; PGlite to read old folders),
 * migrations and RelayStore (one module per table; relay-store.ts binds them to a Db).
 */
export {
  checkDurability,
  type Db,
  type DurabilitySetting,
  type Int8,
  type Queryable,
  type SqlParam,
  type Tx,
} from "./db.js";
export { backfillFirstDevices } from "./devices.js";
export { addsExactlyOne, deviceChanges } from "./device-changes.js";
export { orphanMessageCount } from "./integrity.js";
export { listMigrations, migrate, migrationsDir, type Migration } from "./migrate.js";
export { createPgDriver, type PgDriverOptions } from "./pg-driver.js";
export { openPgliteDriver, type PgliteDriverOptions } from "./pglite-driver.js";
export { RelayStore, nextPageAfter } from "./relay-store.js";
export type * from "./types.js";
