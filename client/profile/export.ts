/**
 * `smsg export` / `smsg import`: the whole profile as one passphrase-encrypted file, for moving
 * to a new machine. The file:
 *
 * ```
 * magic   "SMSGEXP1"                                     8 bytes, ASCII
 * salt                                                   16 bytes
 * t       u32be   Argon2id passes
 * memKiB  u32be   Argon2id memory
 * nonce                                                  24 bytes
 * sealed  XChaCha20-Poly1305(key   = Argon2id(NFC-UTF-8(passphrase), salt, t, memKiB, 32),
 *                            nonce, payload,
 *                            ad    = the 56 header bytes above)         ciphertext || tag
 *
 * payload = u32be(n) || n × ( u32be(len(name)) || name (UTF-8) || u32be(len(data)) || data )
 * ```
 *
 * The payload holds exactly `key.json` (as is: a passphrase-protected profile still needs its
 * own passphrase after import) and `store.sqlite` (a consistent snapshot taken with SQLite's
 * serialize, which sees committed WAL content; a running `smsg listen` may keep writing).
 * The export passphrase is separate from the profile's. Salt and nonce are fresh per export.
 * Import decrypts and checks everything before writing anything, writes the profile into a
 * temporary sibling folder, checks the database there, then renames it into place, so a wrong
 * passphrase, a damaged file or a crash never leaves a half-imported profile, and never
 * touches an existing one unless `overwrite` is given. (With `overwrite`, the old folder is
 * first renamed to `.<name>.replaced-<tag>` beside it and deleted once the new one is in
 * place: a crash between those two renames leaves the old profile there, whole.)
 *
 * Both directions hold the whole profile in memory (the database image, then its ciphertext).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Reader, concat, u32be, utf8 } from "../../crypto/bytes.js";
import {
  ARGON2_PROFILE,
  type Argon2Params,
  XCHACHA_NONCE_BYTES,
  wipe,
  xchachaDecrypt,
  xchachaEncrypt,
} from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { CodecError, CryptoVerificationError, UsageError } from "../../src/errors.js";
import { BUSY_TIMEOUT_MS } from "../store/client-store.js";
import { SCHEMA_VERSION } from "../store/schema.js";
import { openDatabase } from "../store/sqlite.js";
import { fsyncDir, writeFileAtomic, writeNewFileSync } from "./atomic-file.js";
import { ProfileExistsError, ProfileNotFoundError, WrongPassphraseError } from "./errors.js";
import { ARGON2_SALT_BYTES, checkArgon2Params, keystoreProtectionOf, readKeystoreFile } from "./keystore.js";
import { passphraseKey } from "./passphrase.js";
import { KEYSTORE_FILE, PROFILE_FILES, STORE_FILE } from "./paths.js";

/** The first 8 bytes of an export file. */
export const EXPORT_MAGIC = "SMSGEXP1";

/** Length of the header (magic, salt, t, memKiB, nonce), which is also the AEAD's associated data. */
export const EXPORT_HEADER_BYTES = 8 + ARGON2_SALT_BYTES + 4 + 4 + XCHACHA_NONCE_BYTES;

/** The most entries a payload may declare. */
const MAX_ENTRIES = 16;

/** Largest file in a payload (what a u32 length can say). */
const MAX_ENTRY_BYTES = 0xffffffff;

/** The files that may appear in a profile folder; import refuses to replace a folder holding anything else. */
const PROFILE_FOLDER_ENTRIES = new Set([
  ...PROFILE_FILES,
  `${STORE_FILE}-wal`,
  `${STORE_FILE}-shm`,
  `${STORE_FILE}-journal`,
]);

/** One file of the payload. */
export interface ExportEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

/** Options of exportProfile / encodeExport. */
export interface ExportOptions {
  /** Argon2id cost; ARGON2_PROFILE unless a test injects a smaller one. */
  readonly params?: Argon2Params;
  /** Replace an existing output file. */
  readonly overwrite?: boolean;
  /** Told before each step (`step` of `steps`, from 1), for a progress bar. */
  readonly onStep?: StepListener;
}

/** Told before each step of an export or import: `step` (from 1) of `steps`, and what it does. */
export type StepListener = (step: number, steps: number, what: string) => void;

/** Options of importProfile. */
export interface ImportOptions {
  /** Replace an existing profile in the destination folder. */
  readonly overwrite?: boolean;
  /** Told before each step (`step` of `steps`, from 1), for a progress bar. */
  readonly onStep?: StepListener;
}

/** The payload container of `entries` (file comment). */
export function encodePayload(entries: readonly ExportEntry[]): Uint8Array {
  if (entries.length > MAX_ENTRIES) throw new UsageError("too many files to export");
  const parts: Uint8Array[] = [u32be(entries.length)];
  for (const e of entries) {
    const name = utf8(e.name);
    parts.push(u32be(name.length), name, u32be(e.data.length), e.data);
  }
  return concat(...parts);
}

/**
 * The entries of a payload. Throws CodecError for a truncated or trailing payload, an unknown
 * or repeated file name, or a missing profile file.
 */
export function decodePayload(payload: Uint8Array): ExportEntry[] {
  const r = new Reader(payload, "export payload");
  const n = r.u32();
  if (n > MAX_ENTRIES) throw new CodecError("export payload: too many entries");
  const out: ExportEntry[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    let name: string;
    try {
      name = new TextDecoder("utf-8", { fatal: true }).decode(r.varBytes(255));
    } catch (err) {
      if (err instanceof CodecError) throw err;
      throw new CodecError("export payload: file name is not UTF-8");
    }
    if (!PROFILE_FILES.includes(name)) throw new CodecError(`export payload: unexpected file ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new CodecError(`export payload: ${name} appears twice`);
    seen.add(name);
    out.push({ name, data: r.varBytes(MAX_ENTRY_BYTES) });
  }
  r.end();
  for (const f of PROFILE_FILES) if (!seen.has(f)) throw new CodecError(`export payload: ${f} is missing`);
  return out;
}

/**
 * An export file of `entries` under `passphrase`. Draws 16 bytes of salt, then 24 of nonce,
 * from `rng`.
 */
export function encodeExport(
  entries: readonly ExportEntry[],
  passphrase: string,
  rng: Rng,
  params: Argon2Params = ARGON2_PROFILE,
): Uint8Array {
  const salt = rng(ARGON2_SALT_BYTES);
  const nonce = rng(XCHACHA_NONCE_BYTES);
  const header = concat(utf8(EXPORT_MAGIC), salt, u32be(params.t), u32be(params.memKiB), nonce);
  const key = passphraseKey(passphrase, salt, params);
  const payload = encodePayload(entries);
  try {
    return concat(header, xchachaEncrypt(key, nonce, payload, header));
  } finally {
    wipe(key, payload);
  }
}

/**
 * The entries of an export file. Throws CodecError when it is not an export file (magic,
 * length, Argon2id cost out of ARGON2_MAX) and WrongPassphraseError when it does not decrypt:
 * a wrong passphrase or a damaged file, which the AEAD cannot tell apart.
 */
export function decodeExport(file: Uint8Array, passphrase: string): ExportEntry[] {
  if (file.length < EXPORT_HEADER_BYTES + 16) throw new CodecError("not a SocketMessenger export file (too short)");
  const r = new Reader(file, "export file");
  const magic = new TextDecoder().decode(r.bytes(8));
  if (magic !== EXPORT_MAGIC) throw new CodecError("not a SocketMessenger export file");
  const salt = r.bytes(ARGON2_SALT_BYTES);
  const params = checkArgon2Params(r.u32(), r.u32(), "export file");
  const nonce = r.bytes(XCHACHA_NONCE_BYTES);
  const header = file.subarray(0, EXPORT_HEADER_BYTES);
  const key = passphraseKey(passphrase, salt, params);
  let payload: Uint8Array;
  try {
    payload = xchachaDecrypt(key, nonce, r.rest(), header);
  } catch (err) {
    if (err instanceof CryptoVerificationError) throw new WrongPassphraseError("export file");
    throw err;
  } finally {
    wipe(key);
  }
  try {
    return decodePayload(payload).map((e) => ({ name: e.name, data: e.data.slice() }));
  } finally {
    wipe(payload);
  }
}

/**
 * The profile's files as export entries: key.json as is, and a consistent snapshot of
 * store.sqlite (committed WAL content included). Needs no data key: sealed columns stay sealed.
 * Throws ProfileNotFoundError when either file is missing.
 */
export function snapshotProfile(profileDir: string): ExportEntry[] {
  const keyJson = readKeystoreFile(profileDir);
  const storePath = join(profileDir, STORE_FILE);
  if (!existsSync(storePath)) throw new ProfileNotFoundError(profileDir);
  const db = openDatabase(storePath, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  try {
    const image = db.serialize();
    return [
      { name: KEYSTORE_FILE, data: utf8(keyJson) },
      { name: STORE_FILE, data: new Uint8Array(image.buffer, image.byteOffset, image.byteLength) },
    ];
  } finally {
    db.close();
  }
}

/**
 * Writes the profile in `profileDir` to `outFile` (mode 0600, atomically) encrypted under
 * `passphrase`. Throws ProfileNotFoundError, or UsageError when `outFile` exists and
 * `overwrite` is not set.
 */
export function exportProfile(
  profileDir: string,
  outFile: string,
  passphrase: string,
  rng: Rng,
  opts: ExportOptions = {},
): void {
  opts.onStep?.(1, 3, "reading the profile");
  const snapshot = snapshotProfile(profileDir);
  opts.onStep?.(2, 3, "deriving the key from the passphrase and encrypting");
  const bytes = encodeExport(snapshot, passphrase, rng, opts.params);
  opts.onStep?.(3, 3, "writing the file");
  try {
    writeFileAtomic(outFile, bytes, 0o600, !opts.overwrite);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      throw new UsageError(`${outFile} already exists (overwrite it explicitly)`);
    throw err;
  }
}

/** Checks an imported database file: SQLite's quick_check and a schema this client knows. */
function checkImportedStore(path: string): void {
  const db = openDatabase(path, { fileMustExist: true });
  try {
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new CodecError("the exported database is damaged");
    const version = db.pragma("user_version", { simple: true });
    if (typeof version !== "number" || version < 1 || version > SCHEMA_VERSION) {
      throw new CodecError(
        `the exported database has schema ${String(version)}; this client knows 1..${SCHEMA_VERSION}`,
      );
    }
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(`the exported database does not open: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

/**
 * Imports the export file `inFile` as the profile in `profileDir`. Decrypts and validates
 * everything first, then writes into a temporary sibling folder and renames it into place.
 * Throws WrongPassphraseError or CodecError (nothing written), ProfileExistsError when
 * `profileDir` already holds a profile and `overwrite` is not set (nothing written), and
 * UsageError when `profileDir` holds files that are not a profile's (never replaced).
 * With `overwrite`, the old profile is removed once the new one is in place. Do not import
 * over a profile that a running `smsg listen` has open.
 */
export function importProfile(inFile: string, profileDir: string, passphrase: string, opts: ImportOptions = {}): void {
  const dest = resolve(profileDir);
  opts.onStep?.(1, 4, "deriving the key from the passphrase and decrypting");
  const entries = decodeExport(new Uint8Array(readFileSync(inFile)), passphrase);
  try {
    const keyJson = entries.find((e) => e.name === KEYSTORE_FILE)!;
    keystoreProtectionOf(new TextDecoder().decode(keyJson.data));

    const existing = existsSync(dest) ? readdirSync(dest) : undefined;
    if (existing) {
      const foreign = existing.filter((f) => !PROFILE_FOLDER_ENTRIES.has(f));
      if (foreign.length > 0) {
        throw new UsageError(
          `${dest} holds files that are not a profile's (${foreign.join(", ")}); refusing to replace it`,
        );
      }
      if (!opts.overwrite && (existing.includes(KEYSTORE_FILE) || existing.includes(STORE_FILE)))
        throw new ProfileExistsError(dest);
    }

    const parent = dirname(dest);
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    const tag = randomBytes(6).toString("hex");
    const tmp = join(parent, `.${basename(dest)}.import-${tag}`);
    mkdirSync(tmp, { mode: 0o700 });
    try {
      opts.onStep?.(2, 4, "writing the profile");
      for (const e of entries) writeNewFileSync(join(tmp, e.name), e.data, 0o600);
      fsyncDir(tmp);
      opts.onStep?.(3, 4, "checking its database");
      checkImportedStore(join(tmp, STORE_FILE));
      opts.onStep?.(4, 4, "moving it into place");
      if (existing) {
        const old = join(parent, `.${basename(dest)}.replaced-${tag}`);
        renameSync(dest, old);
        renameSync(tmp, dest);
        fsyncDir(parent);
        rmSync(old, { recursive: true, force: true });
      } else {
        renameSync(tmp, dest);
      }
      fsyncDir(parent);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    for (const e of entries) wipe(e.data);
  }
}
