/**
 * Crash-safe file replacement for the small files of a profile (key.json, export files): write
 * a temporary file next to the target with the final mode, fsync it, rename it over the
 * target, fsync the folder. A crash at any moment leaves either the old file or the new one,
 * never a mix or a truncated file.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Makes the entries of `dir` (a rename, a new file) durable. Best effort where folders cannot be opened. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms and file systems refuse to fsync a folder; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes all of `data` to a new file at `path` with `mode`, fsynced; fails if it exists. */
export function writeNewFileSync(path: string, data: Uint8Array, mode: number): void {
  const fd = openSync(path, "wx", mode);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Atomically replaces (or creates) `path` with `data`, with file mode `mode` (0600 for secrets).
 * When `exclusive`, throws the file system's EEXIST error if `path` already exists, without
 * touching it (used when creating a keystore): the complete temporary file is hard-linked into
 * place, which is atomic and fails on an existing name, then its temporary name is removed.
 */
export function writeFileAtomic(path: string, data: Uint8Array, mode: number, exclusive = false): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeNewFileSync(tmp, data, mode);
    if (exclusive) linkSync(tmp, path);
    else renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDir(dir);
}
