/**
 * Where a profile lives (docs/ARCHITECTURE.md §4.1). A profile is one folder per identity holding
 * `key.json` (keystore.ts) and `store.sqlite` (client/store/). Resolution, first match wins:
 *
 * 1. `SMSG_HOME`, when set and non-empty: that folder IS the profile folder (relative paths are
 *    taken from the current directory). `--profile` is then ignored.
 * 2. `--profile NAME` (default "default") under the XDG data dir:
 *    `$XDG_DATA_HOME/socketmessenger/profiles/NAME`, or `$HOME/.local/share/socketmessenger/
 *    profiles/NAME` when XDG_DATA_HOME is unset, empty or relative (the XDG Base Directory
 *    specification says to ignore a relative value).
 *
 * Nothing here reads `process.env` itself: the environment is an argument, so tests pass one.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { UsageError } from "../../src/errors.js";

/** The profile name used when no `--profile` is given. */
export const DEFAULT_PROFILE = "default";

/** The keystore file inside a profile folder (keystore.ts). */
export const KEYSTORE_FILE = "key.json";

/** The SQLite database inside a profile folder (client/store/). */
export const STORE_FILE = "store.sqlite";

/** The files that make up a profile, in the order an export writes them. */
export const PROFILE_FILES: readonly string[] = [KEYSTORE_FILE, STORE_FILE];

/**
 * A profile name: 1 to 64 of ASCII letters, digits, '.', '_' and '-', starting with a letter or
 * digit. So no slash, no "." or "..", no hidden folder and nothing that looks like a flag.
 */
export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The environment variables profile resolution reads. */
export interface ProfileEnv {
  readonly SMSG_HOME?: string | undefined;
  readonly XDG_DATA_HOME?: string | undefined;
  readonly HOME?: string | undefined;
}

/** What to resolve: the `--profile` flag, if given, and the environment. */
export interface ProfileSelector {
  readonly profile?: string | undefined;
  readonly env: ProfileEnv;
}

/** Returns `name` when it is a valid profile name; throws UsageError saying the rule otherwise. */
export function validateProfileName(name: string): string {
  if (!PROFILE_NAME_PATTERN.test(name)) {
    throw new UsageError(
      "invalid profile name: expected 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit",
    );
  }
  return name;
}

/** The data folder of SocketMessenger: `$XDG_DATA_HOME/socketmessenger` or `~/.local/share/socketmessenger`. */
export function dataHome(env: ProfileEnv): string {
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && xdg !== "" && isAbsolute(xdg)) return join(xdg, "socketmessenger");
  const home = env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir();
  return join(home, ".local", "share", "socketmessenger");
}

/**
 * The absolute path of the selected profile folder (see the file comment for the order).
 * Does not touch the disk. Throws UsageError for an invalid profile name, even when SMSG_HOME
 * makes the name irrelevant, so a typo is never silently accepted.
 */
export function resolveProfileDir(sel: ProfileSelector): string {
  const name = validateProfileName(sel.profile ?? DEFAULT_PROFILE);
  const home = sel.env.SMSG_HOME;
  if (home !== undefined && home !== "") return resolve(home);
  return join(dataHome(sel.env), "profiles", name);
}

/**
 * Creates the profile folder (and its parents) if needed and sets its mode to 0700, so other
 * local users cannot list or read it. Returns `dir`.
 */
export function ensureProfileDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}
