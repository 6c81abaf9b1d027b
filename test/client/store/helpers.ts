/** Fixtures for the local store tests: temporary profiles, a fixed data key, a fake clock, child processes. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRng } from "../../../crypto/rng.js";
import { utf8 } from "../../../crypto/bytes.js";
import { ClientStore, type ClientStoreOptions } from "../../../client/store/index.js";

/** The error `fn` throws; fails the test when it returns normally. */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error, none was thrown");
}

/** A new empty folder under the system temp dir. */
export function tempDir(prefix = "smsg-store-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fixed 32-byte data key (tests only). */
export function testKey(n = 1): Uint8Array {
  return seededRng(utf8(`store test data key ${n}`))(32);
}

/** A clock that starts at `start` and moves 1 ms per call. */
export function fakeClock(start = 1_700_000_000_000): () => number {
  let t = start;
  return () => t++;
}

/** Opens a store with a test key and a deterministic clock and RNG. */
export function openTestStore(dir: string, key = testKey(), opts: ClientStoreOptions = {}): ClientStore {
  return ClientStore.open(dir, key, { now: fakeClock(), rng: seededRng(utf8(`nonces ${dir}`)), ...opts });
}

/** A 128-byte IdentityPublic-shaped blob (not a valid identity: the store does not verify). */
export function fakeIdentity(n: number): Uint8Array {
  return seededRng(utf8(`fake identity number ${n}`))(128);
}

/** Every byte of every file of the profile folder (the database, its WAL, key.json), concatenated. */
export function profileBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
}

/** The child process script (child-writer.ts). */
export const CHILD_SCRIPT = fileURLToPath(new URL("./child-writer.ts", import.meta.url));
const REGISTER = fileURLToPath(new URL("./ts-register.mjs", import.meta.url));

/** A running child-writer.ts, with its stdout split into lines as they arrive. */
export interface Child {
  readonly proc: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line for which `pred` is true. */
  waitFor(pred: (line: string) => boolean): Promise<string>;
  /** Resolves with the exit code, or the signal's name. */
  readonly exited: Promise<number | string>;
}

/** Spawns `node child-writer.ts ...args` (TypeScript through ts-register.mjs). */
export function spawnChild(args: string[]): Child {
  const proc = spawn(process.execPath, ["--import", REGISTER, CHILD_SCRIPT, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let buf = "";
  let stderr = "";
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<number | string>((resolve) =>
    proc.on("close", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    proc,
    lines,
    exited,
    waitFor(pred) {
      const hit = lines.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        void exited.then((code) =>
          reject(new Error(`child exited (${code}) before the expected line; stderr: ${stderr}`)),
        );
      });
    },
  };
}

/** SQL that takes a schema-9 store back to schema 8 (a backup key without its record's material). */
export const UNDO_V9 = [
  "ALTER TABLE account DROP COLUMN backup_params;",
  "ALTER TABLE account DROP COLUMN backup_digest;",
  "ALTER TABLE account DROP COLUMN backup_key_dropped;",
  "PRAGMA user_version = 8;",
].join(" ");

/**
 * SQL that takes a store of the current schema back to schema 7 (the outbox before per-device
 * copies), keeping every entry that has one envelope.
 */
export const UNDO_V8 = [
  UNDO_V9,
  "DROP TABLE outbox_copies;",
  `CREATE TABLE outbox_v6 (
     idem       BLOB    PRIMARY KEY CHECK (length(idem) = 16),
     chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
     message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
     envelope   BLOB    NOT NULL,
     recipient  TEXT,
     created_at INTEGER NOT NULL,
     attempts   INTEGER NOT NULL DEFAULT 0
   ) STRICT;`,
  `INSERT INTO outbox_v6 SELECT idem, chat_id, message_id, envelope, recipient, created_at, attempts FROM outbox
     WHERE envelope IS NOT NULL ORDER BY rowid;`,
  "DROP TABLE outbox;",
  "ALTER TABLE outbox_v6 RENAME TO outbox;",
  "PRAGMA user_version = 7;",
].join(" ");

/**
 * SQL that takes a store of the current schema back to schema 5 (before SECURITY.md §17),
 * keeping every row: what a profile made before devices looked like, so tests can open one
 * with this client.
 */
export const UNDO_V6 = [
  UNDO_V8,
  "DROP TABLE device_info;",
  "DROP TABLE device_lists;",
  "ALTER TABLE account DROP COLUMN device_id;",
  "ALTER TABLE account DROP COLUMN account_identity;",
  "ALTER TABLE account DROP COLUMN account_signing_seed;",
  "ALTER TABLE account DROP COLUMN backup_key;",
  "DROP INDEX sessions_current;",
  "ALTER TABLE sessions DROP COLUMN peer_device;",
  "CREATE UNIQUE INDEX sessions_current ON sessions (peer) WHERE current = 1;",
  `CREATE TABLE sender_keys_v5 (
     chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
     sender     TEXT    NOT NULL,
     key_id     INTEGER NOT NULL,
     state      BLOB    NOT NULL,
     own        INTEGER NOT NULL DEFAULT 0 CHECK (own IN (0, 1)),
     created_at INTEGER NOT NULL,
     PRIMARY KEY (chat_id, sender, key_id)
   ) STRICT;`,
  "INSERT INTO sender_keys_v5 SELECT chat_id, sender, key_id, state, own, created_at FROM sender_keys ORDER BY rowid;",
  "DROP TABLE sender_keys;",
  "ALTER TABLE sender_keys_v5 RENAME TO sender_keys;",
  "DROP INDEX messages_sender_seq;",
  "ALTER TABLE messages DROP COLUMN sender_device;",
  "CREATE INDEX messages_sender_seq ON messages (chat_id, sender, sender_seq) WHERE sender_seq IS NOT NULL;",
  "PRAGMA user_version = 5;",
].join(" ");
