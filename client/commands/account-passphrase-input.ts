/**
 * Getting the ACCOUNT passphrase (SECURITY.md §18: log-in on a new machine), which is another
 * secret than the PROFILE passphrase (§16.1: it unlocks this machine's profile folder). So it
 * has its own names: `--account-passphrase-file` and SMSG_ACCOUNT_PASSPHRASE, never
 * `--passphrase-file` or SMSG_PASSPHRASE (the profile's, common.ts), and a prompt that says
 * "account passphrase".
 */
import type { Argv } from "yargs";
import { requireStrongPassphrase } from "../../crypto/passphrase-strength.js";
import { UsageError } from "../../src/errors.js";
import { promptHidden, readPassphraseFile } from "./common.js";

/** The environment variable scripts use to give the account passphrase without a prompt. */
export const ACCOUNT_PASSPHRASE_ENV = "SMSG_ACCOUNT_PASSPHRASE";

/** The option that reads the account passphrase from a file. */
export interface AccountPassphraseArgs {
  readonly "account-passphrase-file"?: string | undefined;
}

/** Adds `--account-passphrase-file` to a command. */
export function withAccountPassphraseOption<T>(y: Argv<T>) {
  return y.option("account-passphrase-file", {
    type: "string",
    describe:
      "Read the ACCOUNT passphrase (passphrase log-in, not the profile's) from this file (first line); " +
      "else SMSG_ACCOUNT_PASSPHRASE, else a prompt",
  });
}

/** The advice shown before a new account passphrase is typed (SECURITY.md §18.7, §18.8). */
export const ACCOUNT_PASSPHRASE_ADVICE =
  "The account passphrase lets a new machine log in to your account with only the relay link and your " +
  "username. Whoever copies the relay's database can try guesses offline, so use at least 7 random words, " +
  "or 20 random characters mixing letters, digits and symbols; never a famous phrase, a song line or a " +
  "passphrase you use elsewhere (those are guessed first, whatever their length).\n";

/** The account passphrase given without asking: the file, else SMSG_ACCOUNT_PASSPHRASE; undefined when neither. */
export function givenAccountPassphrase(argv: AccountPassphraseArgs): string | undefined {
  const file = argv["account-passphrase-file"];
  if (file !== undefined) return readPassphraseFile(file);
  const env = process.env[ACCOUNT_PASSPHRASE_ENV];
  return env === undefined || env === "" ? undefined : env;
}

/** The account passphrase to log in with (never checked by the strength rule: §18.7). */
export async function accountPassphraseForLogin(argv: AccountPassphraseArgs): Promise<string> {
  return givenAccountPassphrase(argv) ?? (await promptHidden("Account passphrase: ", "account"));
}

/**
 * A new account passphrase: given, or typed twice on a terminal after the advice. Throws
 * WeakPassphraseError (the rule's reason and advice, §18.7) before anything is sent, UsageError
 * when the two typed ones differ, PassphraseRequiredError without a source.
 */
export async function newAccountPassphrase(argv: AccountPassphraseArgs): Promise<string> {
  let passphrase = givenAccountPassphrase(argv);
  if (passphrase === undefined) {
    if (process.stdin.isTTY) process.stderr.write(ACCOUNT_PASSPHRASE_ADVICE);
    const first = await promptHidden("New account passphrase: ", "new account");
    requireStrongPassphrase(first);
    const again = await promptHidden("Repeat it: ", "new account");
    if (first !== again) throw new UsageError("the two account passphrases differ; nothing was changed");
    passphrase = first;
  }
  requireStrongPassphrase(passphrase);
  return passphrase;
}

/** Says, on a terminal, that the Argon2id of §18.2 is about to take a few seconds. */
export function announceDerivation(json: boolean): void {
  if (!json && process.stderr.isTTY)
    process.stderr.write("deriving the account passphrase's keys (Argon2id, 256 MiB: a few seconds)…\n");
}
