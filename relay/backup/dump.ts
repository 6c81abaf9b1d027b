/**
 * A transaction-consistent dump of the relay's database, through the store's own `Db` (plain
 * SQL, so it runs the same on PostgreSQL and on the embedded database): every table inside
 * one REPEATABLE READ, READ ONLY transaction, so the copy is one instant of the relay even
 * while it keeps committing sends. Rows are PostgreSQL's own `row_to_json` text, never parsed
 * here, so every value (bytea, microsecond timestamps, 64-bit ids) comes back exactly.
 *
 * The format, JSON lines (relay/backup/backup-file.ts gzips them):
 *   {"format":"smsg-relay-backup","version":1,"created_at":…,"schema":[1,2],"relay_key":BASE64,"endpoint":…}
 *   {"table":"accounts","columns":["id",…]}   then one row_to_json line per row
 *   … every table, parents before the tables whose foreign keys point at them …
 *   {"sequences":{"accounts_id_seq":{"last_value":"7","is_called":true},…}}
 *   {"end":true,"rows":{"accounts":7,…}}
 * The last line is what tells a complete backup from a truncated one.
 */
import type { Db, Queryable } from "../store/index.js";

export const BACKUP_FORMAT = "smsg-relay-backup";
export const BACKUP_VERSION = 1;

/** Rows read per FETCH from the dump's cursor: bounds memory whatever a table's size. */
const FETCH_ROWS = 1000;

export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: number;
  readonly created_at: string;
  /** The migrations applied to the dumped database. */
  readonly schema: number[];
  /** The relay's 32-byte private Noise key, base64. */
  readonly relay_key: string;
  /** Where clients reach the relay (relay.json), when known. */
  readonly endpoint: { publicHost: string; port: number } | null;
  /** Which storage the dump came from: "pg" or the embedded driver's kind. */
  readonly storage: string;
}

export interface BackupTrailer {
  readonly end: true;
  readonly rows: Record<string, number>;
}

/** The tables of the current schema (without schema_migrations), parents first. */
export async function tablesInDependencyOrder(q: Queryable): Promise<string[]> {
  const tables = (
    await q.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
        ORDER BY c.relname`,
    )
  ).map((r) => r.name);
  const fks = await q.query<{ child: string; parent: string }>(
    `SELECT ch.relname AS child, pa.relname AS parent FROM pg_constraint k
       JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_class pa ON pa.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = ch.relnamespace
      WHERE k.contype = 'f' AND n.nspname = current_schema()`,
  );
  const ordered: string[] = [];
  const placed = new Set<string>();
  const visit = (t: string, path: Set<string>) => {
    if (placed.has(t) || path.has(t)) return; // a cycle (or a self-reference) is placed where it is met
    path.add(t);
    for (const fk of fks) if (fk.child === t && fk.parent !== t) visit(fk.parent, path);
    placed.add(t);
    ordered.push(t);
  };
  for (const t of tables) visit(t, new Set());
  return ordered;
}

/** A table's columns in their order. */
export async function columnsOf(q: Queryable, table: string): Promise<string[]> {
  return (
    await q.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_attribute a
        WHERE a.attrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass
          AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [table],
    )
  ).map((r) => r.name);
}

/** The primary key's columns, to dump rows in a stable order. */
async function primaryKeyOf(q: Queryable, table: string): Promise<string[]> {
  return (
    await q.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)`,
      [table],
    )
  ).map((r) => r.name);
}

/** The sequences of the current schema. */
export async function sequencesOf(q: Queryable): Promise<string[]> {
  return (
    await q.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind = 'S' ORDER BY c.relname`,
    )
  ).map((r) => r.name);
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface DumpInput {
  readonly db: Db;
  /** The relay's private key bytes (relay.key). */
  readonly relayKey: Uint8Array;
  readonly endpoint: { publicHost: string; port: number } | null;
  readonly now: Date;
}

/**
 * Runs the dump and calls `write` with each line (without its newline), in order; `write`
 * may return a promise (backpressure). Resolves with the trailer once everything was read in
 * one snapshot.
 */
export async function dumpDatabase(
  input: DumpInput,
  write: (line: string) => void | Promise<void>,
): Promise<BackupTrailer> {
  return input.db.transaction(async (tx) => {
    // First statement of the transaction: one snapshot for every table, and no writes.
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const schema = (await tx.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")).map(
      (r) => Number(r.version),
    );
    const header: BackupHeader = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      created_at: input.now.toISOString(),
      schema,
      relay_key: Buffer.from(input.relayKey).toString("base64"),
      endpoint: input.endpoint,
      storage: input.db.kind,
    };
    await write(JSON.stringify(header));
    const rows: Record<string, number> = {};
    for (const table of await tablesInDependencyOrder(tx)) {
      await write(JSON.stringify({ table, columns: await columnsOf(tx, table) }));
      const pk = await primaryKeyOf(tx, table);
      const order = pk.length > 0 ? ` ORDER BY ${pk.map(ident).join(", ")}` : "";
      await tx.query(
        `DECLARE smsg_dump NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS j FROM ${ident(table)} t${order}`,
      );
      let n = 0;
      for (;;) {
        const page = await tx.query<{ j: string }>(`FETCH ${FETCH_ROWS} FROM smsg_dump`);
        for (const r of page) await write(r.j);
        n += page.length;
        if (page.length < FETCH_ROWS) break;
      }
      await tx.query("CLOSE smsg_dump");
      rows[table] = n;
    }
    const sequences: Record<string, { last_value: string; is_called: boolean }> = {};
    for (const seq of await sequencesOf(tx)) {
      const [s] = await tx.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text AS last_value, is_called FROM ${ident(seq)}`,
      );
      sequences[seq] = s!;
    }
    await write(JSON.stringify({ sequences }));
    const trailer: BackupTrailer = { end: true, rows };
    await write(JSON.stringify(trailer));
    return trailer;
  });
}
