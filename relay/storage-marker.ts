/**
 * A data folder remembers which storage its relay uses (`<data>/storage.json`, written at the
 * relay's first start), so an operator command never guesses: on a folder whose relay uses an
 * external PostgreSQL it does not silently create an empty embedded database, and a folder
 * with an embedded database is not pointed at another server by mistake. See
 * docs/ARCHITECTURE.md, Relay storage.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SmsgError } from "../src/errors.js";
import { PG_DIR } from "./embedded/embedded-postgres.js";

export const MARKER_FILE = "storage.json";
/** Where relays before the embedded PostgreSQL kept their PGlite database. */
export const PGLITE_DIR = "db";

/** embedded: the relay's own PostgreSQL in `<data>/pg`; postgresql: a server named by --database-url. */
export type StorageKind = "embedded" | "postgresql";

/** What the folder holds, from its marker or, for folders made before markers, from its files. */
export type FolderStorage = StorageKind | "pglite" | "none" | "unknown-external";

export function readMarker(dataDir: string): StorageKind | undefined {
  const path = join(dataDir, MARKER_FILE);
  if (!existsSync(path)) return undefined;
  let storage: unknown;
  try {
    storage = (JSON.parse(readFileSync(path, "utf8")) as { storage?: unknown }).storage;
  } catch {
    storage = undefined;
  }
  if (storage === "embedded" || storage === "postgresql") return storage;
  throw new SmsgError(
    "STORAGE_MARKER",
    `${path} is damaged: it should say {"v":1,"storage":"embedded"} or "postgresql"`,
  );
}

/** Writes the marker atomically (a crash leaves the old one or the new one). */
export function writeMarker(dataDir: string, storage: StorageKind): void {
  const path = join(dataDir, MARKER_FILE);
  writeFileSync(`${path}.tmp`, `${JSON.stringify({ v: 1, storage })}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/**
 * What storage the folder belongs to. Folders from before the marker: a PGlite database in
 * db/ is "pglite" (also when a move to pg/ was interrupted); a cluster in pg/ is "embedded"; a relay key with neither means the relay
 * used an external PostgreSQL ("unknown-external"); an empty folder is "none".
 */
export function folderStorage(dataDir: string): FolderStorage {
  const marked = readMarker(dataDir);
  if (marked !== undefined) return marked;
  // A PGlite folder still in db/ was not moved yet (the move renames it only after the marker).
  if (existsSync(join(dataDir, PGLITE_DIR, "PG_VERSION"))) return "pglite";
  if (existsSync(join(dataDir, PG_DIR, "PG_VERSION"))) return "embedded";
  if (existsSync(join(dataDir, "relay.key"))) return "unknown-external";
  return "none";
}
