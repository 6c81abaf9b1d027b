/**
 * Opening a profile in one call, the way every `smsg` command starts: read key.json, unwrap the
 * data key (with the passphrase when the profile has one), open the store, wipe the key.
 */
import { rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { wipe } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { ClientStore, type ClientStoreOptions } from "../store/client-store.js";
import { type KeystoreOptions, createKeystore, unlockKeystore } from "./keystore.js";
import { KEYSTORE_FILE, STORE_FILE, ensureProfileDir } from "./paths.js";

/**
 * Opens the existing profile in `dir`. Throws ProfileNotFoundError, PassphraseRequiredError,
 * WrongPassphraseError (nothing is changed on disk), CodecError for a malformed key.json, or
 * what ClientStore.open throws.
 */
export function openProfile(dir: string, passphrase?: string, opts: ClientStoreOptions = {}): ClientStore {
  const key = unlockKeystore(dir, passphrase);
  try {
    return ClientStore.open(dir, key, opts);
  } finally {
    wipe(key);
  }
}

/**
 * Creates a new profile in `dir` (folder 0700, key.json 0600 with a fresh data key from `rng`,
 * wrapped under `passphrase` when given, and an empty store) and returns its open store.
 * Throws ProfileExistsError, changing nothing, when `dir` already has a keystore. If the store
 * cannot be created, the new key.json is removed again so a retry starts clean.
 */
export function createProfile(
  dir: string,
  rng: Rng,
  passphrase?: string,
  opts: { keystore?: KeystoreOptions; store?: ClientStoreOptions } = {},
): ClientStore {
  ensureProfileDir(dir);
  const key = createKeystore(dir, rng, passphrase, opts.keystore);
  try {
    return ClientStore.open(dir, key, { rng, ...opts.store });
  } catch (err) {
    rmSync(join(dir, KEYSTORE_FILE), { force: true });
    throw err;
  } finally {
    wipe(key);
  }
}

/**
 * Removes what createProfile wrote (the keystore, the store and its WAL files), nothing else;
 * with `folderToo`, also the folder when that leaves it empty (it did not exist before).
 */
export function removeProfileFiles(dir: string, folderToo: boolean): void {
  for (const f of [KEYSTORE_FILE, STORE_FILE, `${STORE_FILE}-wal`, `${STORE_FILE}-shm`, `${STORE_FILE}-journal`]) {
    rmSync(join(dir, f), { force: true });
  }
  if (folderToo) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty: someone put something there meanwhile; leave it
    }
  }
}
