/**
 * The backup file: the dump's JSON lines (relay/backup/dump.ts), gzipped. It holds the relay's
 * private key and every ciphertext and routing record, so it is created with mode 0600, under a
 * temporary name next to FILE, and renamed to FILE only once the dump's last line arrived and
 * every table's row count matched: a backup that failed half-way never looks like a backup.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { createGunzip, createGzip } from "node:zlib";
import { SmsgError, UsageError } from "../../src/errors.js";
import { BACKUP_FORMAT, BACKUP_VERSION, type BackupHeader, type BackupTrailer } from "./dump.js";

/** A backup's lines in order: checks their structure and counts rows per table. */
export class BackupReader {
  header: BackupHeader | undefined;
  trailer: BackupTrailer | undefined;
  sequences: Record<string, { last_value: string; is_called: boolean }> = {};
  table: { name: string; columns: string[] } | undefined;
  readonly counted: Record<string, number> = {};

  /** Takes the next line; says what it was. Throws SmsgError on anything out of place. */
  take(line: string): "header" | "table" | "row" | "sequences" | "end" {
    if (this.trailer) throw bad("there is data after the end of the backup");
    if (!this.header) {
      const h = parse(line) as Partial<BackupHeader>;
      if (h.format !== BACKUP_FORMAT) throw bad("it does not start like a relay backup");
      if (h.version !== BACKUP_VERSION)
        throw bad(`it is format version ${String(h.version)}, this relay reads version ${BACKUP_VERSION}`);
      if (typeof h.relay_key !== "string" || Buffer.from(h.relay_key, "base64").length !== 32)
        throw bad("it holds no relay key");
      this.header = h as BackupHeader;
      return "header";
    }
    if (line.startsWith('{"table":')) {
      const t = parse(line) as { table?: unknown; columns?: unknown };
      if (typeof t.table !== "string" || !Array.isArray(t.columns)) throw bad("a table header is damaged");
      this.table = { name: t.table, columns: t.columns.map(String) };
      this.counted[t.table] = 0;
      return "table";
    }
    if (line.startsWith('{"sequences":')) {
      this.sequences = (parse(line) as { sequences: BackupReader["sequences"] }).sequences;
      this.table = undefined;
      return "sequences";
    }
    if (line.startsWith('{"end":true')) {
      const t = parse(line) as BackupTrailer;
      for (const [name, n] of Object.entries(t.rows))
        if (this.counted[name] !== n)
          throw bad(`table ${name} should have ${n} rows, it has ${this.counted[name] ?? 0}`);
      this.trailer = t;
      return "end";
    }
    if (!this.table) throw bad("a row comes before its table");
    this.counted[this.table.name]! += 1;
    return "row";
  }

  /** Throws unless the last line was the trailer. */
  finish(): BackupTrailer {
    if (!this.trailer) throw bad("it ends before its last line (the backup is incomplete)");
    return this.trailer;
  }
}

function parse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw bad("a line is not JSON");
  }
}

function bad(why: string): SmsgError {
  return new SmsgError("BACKUP_INVALID", `not a usable relay backup: ${why}`);
}

export interface WrittenBackup {
  readonly file: string;
  readonly bytes: number;
  readonly rows: Record<string, number>;
}

/**
 * Writes a backup to `file` from `produce`, which calls `write` with each line in order.
 * Refuses an existing `file` unless `force`.
 */
export async function writeBackupFile(
  file: string,
  force: boolean,
  produce: (write: (line: string) => Promise<void>) => Promise<unknown>,
): Promise<WrittenBackup> {
  if (existsSync(file) && !force) throw new UsageError(`${file} exists: choose another file, or pass --force`);
  const tmp = `${file}.partial-${randomBytes(4).toString("hex")}`;
  const out = createWriteStream(tmp, { mode: 0o600, flags: "wx" });
  const gzip = createGzip();
  gzip.pipe(out);
  const reader = new BackupReader();
  try {
    await once(out, "open");
    await produce(async (line) => {
      reader.take(line);
      if (!gzip.write(`${line}\n`)) await once(gzip, "drain");
    });
    reader.finish();
    gzip.end();
    await once(out, "close");
    renameSync(tmp, file);
    return { file, bytes: out.bytesWritten, rows: reader.counted };
  } catch (e) {
    gzip.destroy();
    out.destroy();
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The lines of a backup file, in order (unchecked: feed them to a BackupReader). */
export async function* readBackupLines(file: string): AsyncGenerator<string> {
  if (!existsSync(file)) throw new UsageError(`${file} does not exist`);
  const gunzip = createGunzip();
  const lines = createInterface({ input: createReadStream(file).pipe(gunzip), crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line !== "") yield line;
  } catch (e) {
    if (e instanceof SmsgError) throw e;
    throw bad(`it cannot be read (${e instanceof Error ? e.message : String(e)})`);
  }
}
