/** A local profile: its folder, keystore and export files. Re-exports only. */
export {
  DEFAULT_PROFILE,
  KEYSTORE_FILE,
  PROFILE_FILES,
  PROFILE_NAME_PATTERN,
  STORE_FILE,
  type ProfileEnv,
  type ProfileSelector,
  dataHome,
  ensureProfileDir,
  resolveProfileDir,
  validateProfileName,
} from "./paths.js";
export { PassphraseRequiredError, ProfileExistsError, ProfileNotFoundError, WrongPassphraseError } from "./errors.js";
export { PASSPHRASE_ENV, envPassphrase, passphraseBytes } from "./passphrase.js";
export {
  ARGON2_MAX,
  DATA_KEY_BYTES,
  KEYSTORE_LABEL,
  KEYSTORE_VERSION,
  type KeystoreOptions,
  type KeystoreProtection,
  changePassphrase,
  createKeystore,
  decodeKeystore,
  encodeKeystore,
  isPassphraseError,
  keystoreProtection,
  unlockKeystore,
} from "./keystore.js";
export {
  EXPORT_HEADER_BYTES,
  EXPORT_MAGIC,
  type ExportEntry,
  type ExportOptions,
  type ImportOptions,
  decodeExport,
  encodeExport,
  exportProfile,
  importProfile,
  snapshotProfile,
} from "./export.js";
export { createProfile, openProfile } from "./open.js";
