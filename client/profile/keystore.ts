/**
 * The profile's data key: 32 random bytes that encrypt every secret column of the local store
 * (client/store/sealed.ts). It lives in `<profile>/key.json`, mode 0600, in one of two forms:
 *
 * ```
 * {"version":1,"protection":"none","key":"<64 hex>"}
 * {"version":1,"protection":"argon2id","salt":"<32 hex>","t":3,"memKiB":65536,
 *  "nonce":"<48 hex>","wrapped":"<96 hex>"}
 * ```
 *
 * With a passphrase: `kek = Argon2id(NFC-UTF-8(passphrase), salt, t, memKiB, 32 bytes)`
 * (RFC 9106, one lane, version 0x13) and
 * `wrapped = XChaCha20-Poly1305(kek, nonce, dataKey, ad = L("SMSG-v1 keystore") || u8(1))`
 * (SECURITY.md §2 "AEAD"), ciphertext || tag, 48 bytes. Salt and nonce are fresh from the
 * injected Rng on every write, so changing the passphrase never reuses a nonce under one kek.
 * Without a passphrase the key is stored as is: the folder's permissions are the only
 * protection (SECURITY.md §1, "A stolen or seized device").
 *
 * Every write replaces key.json atomically (atomic-file.ts): a crash or a wrong passphrase
 * never loses the key.
 */
import { LABELS } from "../../crypto/labels.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex, toHex, utf8, concat } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, SmsgError, UsageError } from "../../src/errors.js";
import {
  ARGON2_PROFILE,
  type Argon2Params,
  XCHACHA_KEY_BYTES,
  XCHACHA_NONCE_BYTES,
  wipe,
  xchachaDecrypt,
  xchachaEncrypt,
} from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { writeFileAtomic } from "./atomic-file.js";
import { PassphraseRequiredError, ProfileExistsError, ProfileNotFoundError, WrongPassphraseError } from "./errors.js";
import { passphraseKey } from "./passphrase.js";
import { KEYSTORE_FILE, ensureProfileDir } from "./paths.js";

/** The AEAD label of a wrapped data key (crypto/labels.ts, SECURITY.md §16.1). */
export const KEYSTORE_LABEL = LABELS.keystore;

/** The key.json format version, also the last byte of the AEAD's associated data. */
export const KEYSTORE_VERSION = 1;

/** Length of the data key. */
export const DATA_KEY_BYTES = XCHACHA_KEY_BYTES;

/** Length of an Argon2id salt. */
export const ARGON2_SALT_BYTES = 16;

/**
 * The largest Argon2id cost accepted when reading key.json or an export file, so a crafted file
 * cannot make unlocking allocate unbounded memory or run for hours: 16 passes, 4 GiB.
 */
export const ARGON2_MAX: Argon2Params = { t: 16, memKiB: 4 * 1024 * 1024 };

/** How key.json protects the data key. */
export type KeystoreProtection = "none" | "argon2id";

/** Options of the functions that write key.json. */
export interface KeystoreOptions {
  /** Argon2id cost for a passphrase; ARGON2_PROFILE unless a test injects a smaller one. */
  readonly params?: Argon2Params;
}

/** key.json with protection "none". */
interface PlainKeyFile {
  version: 1;
  protection: "none";
  key: string;
}

/** key.json with protection "argon2id". */
interface WrappedKeyFile {
  version: 1;
  protection: "argon2id";
  salt: string;
  t: number;
  memKiB: number;
  nonce: string;
  wrapped: string;
}

/** The associated data of the wrapped key: L("SMSG-v1 keystore") || u8(version). */
function keystoreAd(): Uint8Array {
  return concat(utf8(KEYSTORE_LABEL), new Uint8Array([KEYSTORE_VERSION]));
}

/**
 * Checks Argon2id parameters read from a file against ARGON2_MAX and libsodium's minimums.
 * Throws CodecError naming `what` otherwise.
 */
export function checkArgon2Params(t: unknown, memKiB: unknown, what: string): Argon2Params {
  if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > ARGON2_MAX.t) {
    throw new CodecError(`${what}: Argon2id passes out of range`);
  }
  if (typeof memKiB !== "number" || !Number.isInteger(memKiB) || memKiB < 8 || memKiB > ARGON2_MAX.memKiB) {
    throw new CodecError(`${what}: Argon2id memory out of range`);
  }
  return { t, memKiB };
}

/**
 * The text of key.json for `dataKey`: wrapped under `passphrase` when one is given, plain
 * otherwise. Draws 16 bytes of salt then 24 of nonce from `rng` when wrapping. Pure apart
 * from `rng`; does not keep or wipe `dataKey`.
 */
export function encodeKeystore(dataKey: Uint8Array, rng: Rng, passphrase?: string, opts: KeystoreOptions = {}): string {
  if (dataKey.length !== DATA_KEY_BYTES) throw new UsageError(`the data key must be ${DATA_KEY_BYTES} bytes`);
  if (passphrase === undefined) {
    const file: PlainKeyFile = { version: KEYSTORE_VERSION, protection: "none", key: toHex(dataKey) };
    return JSON.stringify(file) + "\n";
  }
  const params = opts.params ?? ARGON2_PROFILE;
  const salt = rng(ARGON2_SALT_BYTES);
  const nonce = rng(XCHACHA_NONCE_BYTES);
  const kek = passphraseKey(passphrase, salt, params);
  try {
    const wrapped = xchachaEncrypt(kek, nonce, dataKey, keystoreAd());
    const file: WrappedKeyFile = {
      version: KEYSTORE_VERSION,
      protection: "argon2id",
      salt: toHex(salt),
      t: params.t,
      memKiB: params.memKiB,
      nonce: toHex(nonce),
      wrapped: toHex(wrapped),
    };
    return JSON.stringify(file) + "\n";
  } finally {
    wipe(kek);
  }
}

/** Parses key.json's text into one of its two forms; throws CodecError when it is malformed. */
function parseKeyFile(text: string): PlainKeyFile | WrappedKeyFile {
  const bad = (why: string): never => {
    throw new CodecError(`key.json is malformed: ${why}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return bad("not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return bad("not an object");
  const o = v as Record<string, unknown>;
  if (o["version"] !== KEYSTORE_VERSION) return bad(`unsupported version ${String(o["version"])}`);
  const hexField = (name: string, bytes: number): string => {
    const f = o[name];
    if (typeof f !== "string" || f.length !== bytes * 2 || !/^[0-9a-f]*$/.test(f)) return bad(`field ${name}`);
    return f;
  };
  if (o["protection"] === "none") {
    return { version: 1, protection: "none", key: hexField("key", DATA_KEY_BYTES) };
  }
  if (o["protection"] === "argon2id") {
    const params = checkArgon2Params(o["t"], o["memKiB"], "key.json");
    return {
      version: 1,
      protection: "argon2id",
      salt: hexField("salt", ARGON2_SALT_BYTES),
      t: params.t,
      memKiB: params.memKiB,
      nonce: hexField("nonce", XCHACHA_NONCE_BYTES),
      wrapped: hexField("wrapped", DATA_KEY_BYTES + 16),
    };
  }
  return bad("unknown protection");
}

/** How the key.json text protects its key. Throws CodecError when it is malformed. */
export function keystoreProtectionOf(text: string): KeystoreProtection {
  return parseKeyFile(text).protection;
}

/**
 * The data key in key.json's text. A passphrase given for an unprotected keystore is ignored
 * (so a global SMSG_PASSPHRASE does not break unprotected profiles).
 * Throws PassphraseRequiredError when the key is wrapped and no passphrase is given,
 * WrongPassphraseError when it does not unwrap, CodecError when the text is malformed.
 */
export function decodeKeystore(text: string, passphrase?: string): Uint8Array {
  const file = parseKeyFile(text);
  if (file.protection === "none") return fromHex(file.key);
  if (passphrase === undefined) throw new PassphraseRequiredError();
  const kek = passphraseKey(passphrase, fromHex(file.salt), { t: file.t, memKiB: file.memKiB });
  try {
    return xchachaDecrypt(kek, fromHex(file.nonce), fromHex(file.wrapped), keystoreAd());
  } catch (err) {
    if (err instanceof CryptoVerificationError) throw new WrongPassphraseError();
    throw err;
  } finally {
    wipe(kek);
  }
}

/** Reads `<dir>/key.json`; throws ProfileNotFoundError when it does not exist. */
export function readKeystoreFile(dir: string): string {
  try {
    return readFileSync(join(dir, KEYSTORE_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new ProfileNotFoundError(dir);
    throw err;
  }
}

/**
 * Creates the keystore of a new profile in `dir` (created with mode 0700 if needed): a fresh
 * 32-byte data key from `rng`, written to key.json (mode 0600), wrapped under `passphrase` when
 * one is given. Returns the data key; the caller wipes it when done.
 * Throws ProfileExistsError, without touching anything, when key.json already exists.
 */
export function createKeystore(dir: string, rng: Rng, passphrase?: string, opts: KeystoreOptions = {}): Uint8Array {
  ensureProfileDir(dir);
  const dataKey = rng(DATA_KEY_BYTES);
  const text = encodeKeystore(dataKey, rng, passphrase, opts);
  try {
    writeFileAtomic(join(dir, KEYSTORE_FILE), utf8(text), 0o600, true);
  } catch (err) {
    wipe(dataKey);
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new ProfileExistsError(dir);
    throw err;
  }
  return dataKey;
}

/**
 * The data key of the profile in `dir`. Read-only: never changes anything on disk.
 * Throws ProfileNotFoundError (no key.json), PassphraseRequiredError, WrongPassphraseError,
 * or CodecError (key.json malformed).
 */
export function unlockKeystore(dir: string, passphrase?: string): Uint8Array {
  return decodeKeystore(readKeystoreFile(dir), passphrase);
}

/** How the profile in `dir` protects its key, so the CLI knows whether to ask for a passphrase. */
export function keystoreProtection(dir: string): KeystoreProtection {
  return keystoreProtectionOf(readKeystoreFile(dir));
}

/**
 * Sets, changes or removes the profile's passphrase: unlocks with `oldPassphrase` (undefined
 * when the profile has none), then rewrites key.json atomically with the same data key under
 * `newPassphrase` (undefined removes the protection). The store is not touched: only the data
 * key's wrapping changes. Throws as unlockKeystore does, before writing anything.
 */
export function changePassphrase(
  dir: string,
  rng: Rng,
  oldPassphrase: string | undefined,
  newPassphrase: string | undefined,
  opts: KeystoreOptions = {},
): void {
  const dataKey = unlockKeystore(dir, oldPassphrase);
  try {
    const text = encodeKeystore(dataKey, rng, newPassphrase, opts);
    writeFileAtomic(join(dir, KEYSTORE_FILE), utf8(text), 0o600);
  } finally {
    wipe(dataKey);
  }
}

/** True when `err` is one of the passphrase errors a prompt should answer by asking again. */
export function isPassphraseError(err: unknown): err is SmsgError {
  return err instanceof WrongPassphraseError || err instanceof PassphraseRequiredError;
}
