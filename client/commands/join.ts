/**
 * `smsg join INVITE_LINK --name NAME [--display-name "Full Name"] [--passphrase]
 * [--account-passphrase]`: creates the profile and the account on the relay of the invite
 * (client/engine/join.ts); `--passphrase` protects the profile (SECURITY.md §16.1),
 * `--account-passphrase` then sets the account passphrase for log-in on a new machine (§18.6).
 */
import type { Argv } from "yargs";
import { SmsgError, UsageError } from "../../src/errors.js";
import { setAccountPassphrase } from "../engine/account-passphrase.js";
import { joinRelay } from "../engine/join.js";
import { closeAccount, connectAccount, openLocalAccount } from "../engine/open-account.js";
import {
  type AccountPassphraseArgs,
  announceDerivation,
  newAccountPassphrase,
  withAccountPassphraseOption,
} from "./account-passphrase-input.js";
import {
  type ProfileArgs,
  givenPassphrase,
  profileDirOf,
  promptHidden,
  withNewProfilePassphraseOption,
  withProfileOptions,
} from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine } from "./output.js";

/** The passphrase for a new profile: given (file, SMSG_PASSPHRASE) or typed twice on a terminal. */
export async function newPassphrase(argv: ProfileArgs): Promise<string> {
  const given = givenPassphrase(argv);
  if (given !== undefined) return given;
  const first = await promptHidden("New passphrase: ", "new profile");
  const again = await promptHidden("Repeat it: ", "new profile");
  if (first !== again) throw new UsageError("the two passphrases differ; nothing was created");
  if (first === "") throw new UsageError("a passphrase cannot be empty");
  return first;
}

/**
 * Sets the account passphrase right after the join, on a connection of its own. A failure here
 * keeps the account (it exists on the relay): the sentence says so and how to retry.
 */
async function setAfterJoin(
  dir: string,
  profilePassphrase: string | undefined,
  accountPassphrase: string,
  argv: ProfileArgs & AccountPassphraseArgs,
): Promise<void> {
  const acct = openLocalAccount({ dir, passphrase: profilePassphrase });
  try {
    const { relay } = await connectAccount(acct);
    try {
      await setAccountPassphrase(acct, relay, accountPassphrase, { onDerive: () => announceDerivation(argv.json) });
    } finally {
      relay.close();
    }
  } catch (e) {
    if (e instanceof SmsgError)
      throw new SmsgError(
        e.code,
        `joined as ${acct.username}, but the account passphrase was not set: ${e.message} ` +
          "(retry with smsg passphrase set)",
        { cause: e },
      );
    throw e;
  } finally {
    closeAccount(acct);
  }
}

/** Mounts `join`. */
export function joinCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "join <link>",
    "Create your account on a relay from an invite link (smsg://…)",
    (a) =>
      withAccountPassphraseOption(withNewProfilePassphraseOption(withProfileOptions(a)))
        .positional("link", { type: "string", demandOption: true, describe: "The invite link" })
        .option("name", {
          type: "string",
          demandOption: true,
          describe: "Your username: 3 to 32 of a-z, 0-9, '_', '.', '-'",
        })
        .option("display-name", { type: "string", describe: "Your name as your contacts see it (sent end to end)" })
        .option("account-passphrase", {
          type: "boolean",
          default: false,
          describe:
            "Then set the account passphrase for smsg login on a new machine " +
            "(SMSG_ACCOUNT_PASSPHRASE, --account-passphrase-file, or typed)",
        }),
    (argv) =>
      runCommand(async () => {
        const dir = profileDirOf(argv);
        const passphrase = argv.passphrase ? await newPassphrase(argv) : undefined;
        // Asked (and checked, §18.7) before the join, so a refused one creates no account.
        const accountPassphrase = argv["account-passphrase"] ? await newAccountPassphrase(argv) : undefined;
        const r = await joinRelay({
          dir,
          link: argv.link,
          username: argv.name,
          displayName: argv["display-name"],
          passphrase,
        });
        if (accountPassphrase !== undefined) await setAfterJoin(dir, passphrase, accountPassphrase, argv);
        if (argv.json) {
          printJson("joined", {
            username: r.username,
            is_admin: r.isAdmin,
            relay: `${r.relayHost}:${r.relayPort}`,
            profile: dir,
            prekeys: r.oneTimePrekeys,
          });
        } else {
          printLine(
            `joined ${r.relayHost}:${r.relayPort} as ${r.username}${r.isAdmin ? " (relay admin)" : ""}; profile in ${dir}`,
          );
        }
      }),
  );
}
