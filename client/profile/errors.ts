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

/** The keystore is protected by a passphrase and none was given (flag, prompt or SMSG_PASSPHRASE). */
export class PassphraseRequiredError extends SmsgError {
  constructor() {
    super("PASSPHRASE_REQUIRED", "this profile is protected by a passphrase: enter it or set SMSG_PASSPHRASE");
  }
}

/** The profile folder has no keystore (key.json) or no store: the profile was never created. */
export class ProfileNotFoundError extends SmsgError {
  constructor(dir: string) {
    super("PROFILE_NOT_FOUND", `no profile in ${dir}: join a relay first, or import a profile`);
  }
}

/** A profile already exists where a new one would be created or imported. */
export class ProfileExistsError extends SmsgError {
  constructor(dir: string) {
    super("PROFILE_EXISTS", `a profile already exists in ${dir}; refusing to overwrite it`);
  }
}
