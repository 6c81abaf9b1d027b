/**
 * `smsg passphrase set|change|remove`: the account passphrase of SECURITY.md §18 (log-in on a
 * new machine with `smsg login`), not the profile's. `set` and `change` are the same request
 * with a new salt (§18.6): any device of the account may replace a forgotten passphrase.
 */
import type { Argv } from "yargs";
import { removeAccountPassphrase, setAccountPassphrase } from "../engine/account-passphrase.js";
import { closeAccount, connectAccount } from "../engine/open-account.js";
import {
  type AccountPassphraseArgs,
  announceDerivation,
  newAccountPassphrase,
  withAccountPassphraseOption,
} from "./account-passphrase-input.js";
import { type ProfileArgs, openAccountOf, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { omissionText, printJson, printLine, warn } from "./output.js";

type Action = "set" | "change" | "remove";

/** Runs one action with the profile's account logged in (no sync: nothing else is needed). */
async function run(action: Action, argv: ProfileArgs & AccountPassphraseArgs): Promise<void> {
  // The new passphrase is read and checked (§18.7) before the profile is opened or the relay reached.
  const passphrase = action === "remove" ? undefined : await newAccountPassphrase(argv);
  const acct = await openAccountOf(argv);
  try {
    const { relay } = await connectAccount(acct);
    try {
      if (passphrase === undefined) await removeAccountPassphrase(acct, relay);
      else {
        const r = await setAccountPassphrase(acct, relay, passphrase, {
          onDerive: () => announceDerivation(argv.json),
        });
        const left = omissionText(r.omitted);
        if (left !== null) warn(`the backup a new machine logs in with leaves out ${left}`);
      }
    } finally {
      relay.close();
    }
    if (argv.json) printJson("account_passphrase", { username: acct.username, action });
    else
      printLine(
        passphrase === undefined
          ? `the account passphrase of ${acct.username} was removed: passphrase log-in is off`
          : `the account passphrase of ${acct.username} was ${action === "set" ? "set" : "changed"}: ` +
              `a new machine can log in with smsg login and this passphrase`,
      );
  } finally {
    closeAccount(acct);
  }
}

/** Mounts `passphrase set|change|remove`. */
export function passphraseCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  const sub = (action: Action, describe: string) => (a: Argv<T>) =>
    a.command(
      action,
      describe,
      (b) => withAccountPassphraseOption(withProfileOptions(b)),
      (argv) => runCommand(() => run(action, argv as ProfileArgs & AccountPassphraseArgs & typeof argv)),
    );
  return y.command("passphrase", "The account passphrase for logging in on a new machine (smsg login)", (a) =>
    [
      sub("set", "Set the account passphrase (SMSG_ACCOUNT_PASSPHRASE, --account-passphrase-file, or typed)"),
      sub("change", "Replace the account passphrase (the old one is not needed)"),
      sub("remove", "Remove the account passphrase: passphrase log-in is off"),
    ]
      .reduce((acc: Argv<T>, mount) => mount(acc), a)
      .demandCommand(1, "say set, change or remove"),
  );
}
