/**
 * Moves a relay's data from the PGlite database that earlier versions kept in `<data>/db`
 * into the embedded PostgreSQL: accounts, keys, invites, chats, memberships and queued
 * messages, with their ids and sequence positions, so clients notice nothing
 * (docs/ARCHITECTURE.md, Relay storage).
 *
 * The copy runs in one transaction on the target, which it empties first: an interrupted move
 * leaves nothing half copied and simply runs again (the old folder is only read). Row counts
 * of every table are compared before the commit.
 */
import type { Db, Queryable, SqlParam } from "../store/db.js";
import { orphanMessageCount } from "../store/integrity.js";
import { migrate } from "../store/migrate.js";
import { openPgliteDriver } from "../store/pglite-driver.js";

/** Every table, parents before children (foreign keys). schema_migrations is the target's own. */
const TABLES = [
  "accounts",
  // Device lists and devices (migrations/0006_devices.sql), before the prekeys that name a device.
  "device_lists",
  "devices",
  "invites",
  "admin_tokens",
  "signed_prekeys",
  "one_time_prekeys",
  "chats",
  "chat_members",
  "messages",
  "device_mailboxes",
  "message_copies",
  "device_cursors",
  // Passphrase log-in (migrations/0008_passphrase.sql): empty in a PGlite folder, which predates it.
  "passphrase_records",
  "passphrase_failures",
  "passphrase_decoy",
];

/** Rows per INSERT (well under PostgreSQL's 65535 parameters); messages are read in pages of this many. */
const BATCH = 500;

async function tablesOf(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
      ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
}

async function columnsOf(db: Queryable, table: string): Promise<string[]> {
  const rows = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.column_name);
}

async function count(db: Queryable, table: string): Promise<number> {
  return Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0]?.n ?? 0);
}

async function insertRows(tx: Queryable, table: string, columns: string[], rows: Record<string, unknown>[]) {
  for (let i = 0; i < rows.length; i += BATCH) {
    const chunk = rows.slice(i, i + BATCH);
    const params: SqlParam[] = [];
    const tuples = chunk.map((row) => {
      const slots = columns.map((c) => {
        params.push(row[c] as SqlParam);
        return `$${params.length}`;
      });
      return `(${slots.join(", ")})`;
    });
    await tx.query(
      `INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(", ")}) VALUES ${tuples.join(", ")}`,
      params,
    );
  }
}

async function copyTable(source: Queryable, tx: Queryable, table: string): Promise<void> {
  const columns = await columnsOf(source, table);
  if (columns.includes("id")) {
    // Page by id: messages can be many and large.
    let after: number | bigint = 0;
    for (;;) {
      const rows = await source.query<Record<string, unknown>>(
        `SELECT * FROM ${table} WHERE id > $1 ORDER BY id LIMIT ${BATCH}`,
        [after],
      );
      if (rows.length === 0) break;
      await insertRows(tx, table, columns, rows);
      after = rows[rows.length - 1]!["id"] as number | bigint;
    }
  } else {
    await insertRows(tx, table, columns, await source.query<Record<string, unknown>>(`SELECT * FROM ${table}`));
  }
}

/** Copies every table of `source` into `target` (emptied first), in one transaction. Returns rows per table. */
export async function copyRelayData(source: Db, target: Db): Promise<Record<string, number>> {
  // Bring the old database up to this version's schema first, so both have the same columns.
  await migrate(source);
  await migrate(target);
  const expected = [...TABLES].sort();
  for (const [name, db] of [
    ["the PGlite database", source],
    ["the embedded PostgreSQL", target],
  ] as const) {
    const found = await tablesOf(db);
    if (found.join() !== expected.join()) {
      throw new Error(
        `${name} has tables ${found.join(", ")}, the move knows ${expected.join(", ")}: nothing was moved`,
      );
    }
  }
  const counts: Record<string, number> = {};
  for (const t of TABLES) counts[t] = await count(source, t);
  const sequences = await source.query<{ name: string; value: number | bigint }>(
    `SELECT schemaname || '.' || sequencename AS name, last_value AS value FROM pg_sequences WHERE last_value IS NOT NULL`,
  );
  await target.transaction(async (tx) => {
    await tx.exec(`TRUNCATE ${TABLES.join(", ")} RESTART IDENTITY CASCADE`);
    for (const t of TABLES) await copyTable(source, tx, t);
    for (const s of sequences) await tx.query("SELECT setval($1::regclass, $2)", [s.name, s.value]);
    for (const t of TABLES) {
      const n = await count(tx, t);
      if (n !== counts[t]) throw new Error(`copying ${t} gave ${n} rows instead of ${counts[t]}: nothing was moved`);
    }
    // messages has no foreign keys since migrations/0004_…sql: what they checked, checked here.
    const orphans = await orphanMessageCount(tx);
    if (orphans > 0)
      throw new Error(`${orphans} messages of the PGlite database name a missing chat or account: nothing was moved`);
  });
  return counts;
}

/** Opens the PGlite folder `pgliteDir` (read, and migrated to this version), copies it into `target`, closes it. */
export async function moveFromPglite(pgliteDir: string, target: Db): Promise<Record<string, number>> {
  const source = await openPgliteDriver({ dataDir: pgliteDir });
  try {
    return await copyRelayData(source, target);
  } finally {
    await source.close();
  }
}
