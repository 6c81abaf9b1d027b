/**
 * Failures of the machine's own storage while a command reads or writes the profile, in one
 * sentence a person can act on: SQLite's result codes (better-sqlite3's SqliteError `code`) and
 * Node's file system errors (`code` ENOSPC, EROFS, …). Every write to the store is one
 * transaction, so the write that failed changed nothing: what was being received stays at the
 * relay (it was not acknowledged), what was being written was not sent. A command of several
 * steps (a group change) keeps the steps before it. README lists the exit code (EXIT.storage).
 */

/** The sentence for a storage failure, or undefined when `err` is not one. */
export function storageFailureSentence(err: unknown): string | undefined {
  const code = typeof err === "object" && err !== null && "code" in err ? (err as { code: unknown }).code : undefined;
  if (typeof code !== "string") return undefined;
  const unchanged = "what was being written was not stored";
  if (code.startsWith("SQLITE_FULL") || code === "ENOSPC" || code === "EDQUOT") {
    return `the disk holding the profile is full: ${unchanged}; free some space and run the command again`;
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return `another smsg process kept the profile locked for too long: ${unchanged}; run the command again`;
  }
  if (code.startsWith("SQLITE_READONLY") || code === "EROFS") {
    return `the profile cannot be written (a read-only file system or its permissions): ${unchanged}`;
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return "the profile's database (store.sqlite) is damaged: restore the profile from an export (smsg import)";
  }
  if (code.startsWith("SQLITE_IOERR") || code === "EIO") {
    return `the disk reported an input/output error while the profile was used: ${unchanged}`;
  }
  if (code.startsWith("SQLITE_CANTOPEN"))
    return "the profile's database (store.sqlite) cannot be opened: check the folder's permissions";
  return undefined;
}
