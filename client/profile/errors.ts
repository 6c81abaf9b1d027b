/**
 * The errors of a local profile: its folder, its keystore (key.json) and its export files.
 * Each is an SmsgError with a stable `code` that the CLI can match on and print as one clear
 * sentence (docs/ARCHITECTURE.md §5.2: errors are one clear sentence and a non-zero exit code).
 * These codes are local: the relay never sends them.
 */
import { SmsgError } from "../../src/errors.js";

/**
 * The passphrase does not unlock the keystore or the export file. Nothing was changed on disk.
 * A damaged file looks the same as a wrong passphrase (the AEAD cannot tell them apart), so
 * the message says both.
 */
export class WrongPassphraseError extends SmsgError {
  constructor(what = "profile") {
    super("WRONG_PASSPHRASE", `wrong passphrase for this ${what} (or the file is damaged); nothing was changed`);
  }
}

/**
 * Which passphrase was needed: the profile's, a new profile's (join --passphrase), an export
 * file's, or the account passphrase of SECURITY.md §18 (log-in on a new machine), which is
 * another secret than the profile's and has its own variable and flag.
 */
export type PassphraseKind = "profile" | "new profile" | "export file" | "account" | "new account";

/** Where each kind of passphrase can come from without a terminal. */
const PASSPHRASE_SOURCES: Readonly<Record<PassphraseKind, string>> = {
  profile:
    "this profile is protected by a passphrase: type it on a terminal, or set SMSG_PASSPHRASE or --passphrase-file",
  "new profile": "--passphrase needs SMSG_PASSPHRASE, --passphrase-file or a terminal to type the new passphrase",
  "export file":
    "the export file's passphrase is needed: type it on a terminal, or set SMSG_EXPORT_PASSPHRASE or --passphrase-file",
  account:
    "the account passphrase is needed: type it on a terminal, or set SMSG_ACCOUNT_PASSPHRASE or --account-passphrase-file",
  "new account":
    "a new account passphrase is needed: type it on a terminal, or set SMSG_ACCOUNT_PASSPHRASE or --account-passphrase-file",
};

/**
 * A passphrase is needed and none was given (no flag, no variable, no terminal to ask on). The
 * sentence names the passphrase that was wanted: an export's is not the profile's.
 */
export class PassphraseRequiredError extends SmsgError {
  constructor(kind: PassphraseKind = "profile") {
    super("PASSPHRASE_REQUIRED", PASSPHRASE_SOURCES[kind]);
  }
}

/** The profile folder has no keystore (key.json) or no store: the profile was never created. */
export class ProfileNotFoundError extends SmsgError {
  constructor(dir: string) {
    super(
      "PROFILE_NOT_FOUND",
      `no profile in ${dir}: join a relay first (smsg join), log in to an account you already have (smsg login), or import a profile`,
    );
  }
}

/** A profile already exists where a new one would be created or imported. */
export class ProfileExistsError extends SmsgError {
  constructor(dir: string) {
    super("PROFILE_EXISTS", `a profile already exists in ${dir}; refusing to overwrite it`);
  }
}
