/**
 * `smsg relay restore FILE`: a backup into a new, empty data folder (and, with
 * --database-url, an empty PostgreSQL database), in one transaction: the relay key and
 * endpoint files, then every table (PostgreSQL parses the rows itself with
 * json_populate_recordset, so values come back exactly as dumped), then the sequences, so new
 * ids continue above every id a client has already seen.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SmsgError, UsageError } from "../../src/errors.js";
import type { Logger } from "../logger.js";
import { type OpenedStorage, openDatabase } from "../open-database.js";
import { RELAY_KEY_FILE } from "../relay-key.js";
import { type Db, type Tx, backfillFirstDevices, listMigrations, orphanMessageCount } from "../store/index.js";
import { BackupReader, readBackupLines } from "./backup-file.js";
import { columnsOf, tablesInDependencyOrder } from "./dump.js";

/** Rows (or bytes of row text) sent per INSERT. */
const BATCH_ROWS = 500;
const BATCH_CHARS = 4 * 1024 * 1024;

export interface RestoreInput {
  readonly file: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly endpointFile: string;
  /** The embedded server's user when running as root (--db-user). */
  readonly dbUser?: string | undefined;
  readonly log: Logger;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Refuses a data folder that holds anything. */
function checkEmptyFolder(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new UsageError(`${dir} is not empty: restore only into a new or empty data folder`);
}

/** Refuses a database with any row in any relay table (a migrated but empty one is fine). */
async function checkEmptyDatabase(db: Db): Promise<void> {
  for (const t of await tablesInDependencyOrder(db)) {
    const [r] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${ident(t)} LIMIT 1) x`);
    if ((r?.n ?? 0) > 0)
      throw new UsageError(`the database already holds relay data (table ${t}): restore only into an empty database`);
  }
}

export async function restoreBackup(input: RestoreInput): Promise<{ rows: Record<string, number> }> {
  const { file, dataDir } = input;
  checkEmptyFolder(dataDir);
  const lines = readBackupLines(file);
  const reader = new BackupReader();
  const first = await lines.next();
  if (first.done) throw new SmsgError("BACKUP_INVALID", `not a usable relay backup: ${file} is empty`);
  reader.take(first.value);
  const header = reader.header!;
  const known = new Set(listMigrations().map((m) => m.version));
  const unknown = header.schema.filter((v) => !known.has(v));
  if (unknown.length > 0)
    throw new SmsgError(
      "BACKUP_NEWER",
      `the backup was made by a newer relay (schema migration ${unknown.join(", ")}): restore it with that version`,
    );

  const createdFolder = !existsSync(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let opened: OpenedStorage | undefined;
  try {
    // The database first: on an empty folder the storage choice reads a relay key alone as
    // "external PostgreSQL" (relay/storage-marker.ts), so the key is written after it.
    opened = await openDatabase(
      { dataDir, databaseUrl: input.databaseUrl, dbUser: input.dbUser, allowUnsafeDurability: true },
      input.log,
      "serve",
    );
    writeFileSync(join(dataDir, RELAY_KEY_FILE), Buffer.from(header.relay_key, "base64"), { mode: 0o600, flag: "wx" });
    if (header.endpoint)
      writeFileSync(join(dataDir, input.endpointFile), `${JSON.stringify(header.endpoint)}\n`, { mode: 0o600 });
    const { db } = opened;
    await checkEmptyDatabase(db);
    await db.transaction(async (tx) => {
      await load(tx, lines, reader);
      // A backup made before migrations/0006_devices.sql has no device rows: its accounts get
      // device 1 as the migration gave them (a newer backup has them all; this adds none). The
      // prekeys' device foreign key is checked at commit, after this.
      await backfillFirstDevices(tx);
      // The schema no longer has foreign keys on messages (migrations/0004_…sql): check here.
      const orphans = await orphanMessageCount(tx);
      if (orphans > 0)
        throw new SmsgError(
          "BACKUP_INVALID",
          `not a usable relay backup: ${orphans} of its messages belong to a chat or account it does not hold`,
        );
    });
    const trailer = reader.finish();
    return { rows: trailer.rows };
  } catch (e) {
    await opened?.close().catch(() => undefined);
    opened = undefined;
    // Leave nothing that looks like a relay: the folder was empty (or absent) before.
    if (createdFolder) rmSync(dataDir, { recursive: true, force: true });
    else for (const f of readdirSync(dataDir)) rmSync(join(dataDir, f), { recursive: true, force: true });
    throw e;
  } finally {
    await opened?.close();
  }
}

/** Inserts every table's rows and sets the sequences, inside `tx`. */
async function load(tx: Tx, lines: AsyncGenerator<string>, reader: BackupReader): Promise<void> {
  const tables = new Set(await tablesInDependencyOrder(tx));
  let table: { name: string; columns: string[] } | undefined;
  let batch: string[] = [];
  let chars = 0;
  const flush = async () => {
    if (!table || batch.length === 0) return;
    const cols = table.columns.map(ident).join(", ");
    await tx.query(
      `INSERT INTO ${ident(table.name)} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::${ident(table.name)}, $1::json)`,
      [`[${batch.join(",")}]`],
    );
    batch = [];
    chars = 0;
  };
  for await (const line of lines) {
    const kind = reader.take(line);
    if (kind === "row") {
      batch.push(line);
      chars += line.length;
      if (batch.length >= BATCH_ROWS || chars >= BATCH_CHARS) await flush();
      continue;
    }
    await flush();
    if (kind === "table") {
      table = reader.table!;
      if (!tables.has(table.name)) throw new SmsgError("BACKUP_INVALID", `this relay has no table ${table.name}`);
      const present = new Set(await columnsOf(tx, table.name));
      const missing = table.columns.filter((c) => !present.has(c));
      if (missing.length > 0)
        throw new SmsgError("BACKUP_INVALID", `this relay's table ${table.name} has no column ${missing.join(", ")}`);
    } else if (kind === "sequences") {
      table = undefined;
      for (const [seq, s] of Object.entries(reader.sequences))
        await tx.query("SELECT setval($1::regclass, $2::bigint, $3)", [ident(seq), s.last_value, s.is_called]);
    } else if (kind === "end") break;
  }
  await flush();
}
