/**
 * `smsg join INVITE_LINK --name NAME [--display-name "Full Name"] [--passphrase]`: creates the
 * profile and the account on the relay of the invite (client/engine/join.ts).
 */
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { joinRelay } from "../engine/join.js";
import { type ProfileArgs, givenPassphrase, profileDirOf, promptHidden, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine } from "./output.js";

/** The passphrase for a new profile: given (file, SMSG_PASSPHRASE) or typed twice on a terminal. */
async function newPassphrase(argv: ProfileArgs): Promise<string> {
  const given = givenPassphrase(argv);
  if (given !== undefined) return given;
  const first = await promptHidden("New passphrase: ", "new profile");
  const again = await promptHidden("Repeat it: ", "new profile");
  if (first !== again) throw new UsageError("the two passphrases differ; nothing was created");
  if (first === "") throw new UsageError("a passphrase cannot be empty");
  return first;
}

/** Mounts `join`. */
export function joinCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "join <link>",
    "Create your account on a relay from an invite link (smsg://…)",
    (a) =>
      withProfileOptions(a)
        .positional("link", { type: "string", demandOption: true, describe: "The invite link" })
        .option("name", {
          type: "string",
          demandOption: true,
          describe: "Your username: 3 to 32 of a-z, 0-9, '_', '.', '-'",
        })
        .option("display-name", { type: "string", describe: "Your name as your contacts see it (sent end to end)" })
        .option("passphrase", {
          type: "boolean",
          default: false,
          describe: "Protect the profile with a passphrase (SMSG_PASSPHRASE, --passphrase-file, or typed)",
        }),
    (argv) =>
      runCommand(async () => {
        const dir = profileDirOf(argv);
        const passphrase = argv.passphrase ? await newPassphrase(argv) : undefined;
        const r = await joinRelay({
          dir,
          link: argv.link,
          username: argv.name,
          displayName: argv["display-name"],
          passphrase,
        });
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
