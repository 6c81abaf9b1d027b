/**
 * `smsg login RELAY_LINK NAME [--passphrase] [--account-passphrase-file F]`: makes this machine
 * a new device of the account NAME with the account passphrase (SECURITY.md §18.6 "Log-in on a
 * new machine"; client/engine/login.ts). The profile is written like `join`'s, in the folder
 * `--profile` / SMSG_HOME selects; `--passphrase` protects it (§16.1, the profile's own
 * passphrase, asked as for `join`); the ACCOUNT passphrase comes from
 * `--account-passphrase-file`, SMSG_ACCOUNT_PASSPHRASE or a prompt (account-passphrase-input.ts).
 */
import { existsSync } from "node:fs";
import { join as joinPath } from "node:path";
import type { Argv } from "yargs";
import { type LoginResult, logInNewDevice } from "../engine/login.js";
import { KEYSTORE_FILE } from "../profile/paths.js";
import {
  type AccountPassphraseArgs,
  accountPassphraseForLogin,
  announceDerivation,
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
import { newPassphrase } from "./join.js";
import { printJson, printLine } from "./output.js";

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** The result as one line (SECURITY.md §17.6 "What a new device sees": no earlier history). */
function resultLine(r: LoginResult, dir: string): string {
  return (
    `${r.resumed ? "finished logging in" : "logged in"} to ${r.relayHost}:${r.relayPort} as ${r.username}, ` +
    `device ${r.deviceId}; profile in ${dir}; from the account's backup: ${plural(r.contacts, "contact")}, ` +
    `${plural(r.chats, "chat")}. Messages reach this device from now on; earlier ones stay on the devices that had them`
  );
}

/** Mounts `login`. */
export function loginCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "login <link> <name>",
    "Make this machine a new device of your account, with the account passphrase (smsg://HOST:PORT/RELAYKEY NAME)",
    (a) =>
      withAccountPassphraseOption(withNewProfilePassphraseOption(withProfileOptions(a)))
        .positional("link", {
          type: "string",
          demandOption: true,
          describe: "The relay link, as smsg whoami prints it on a device of the account",
        })
        .positional("name", { type: "string", demandOption: true, describe: "Your username" }),
    (argv) =>
      runCommand(async () => {
        const dir = profileDirOf(argv);
        // A folder an earlier run left unconfirmed is opened with its passphrase, not given a new one.
        const resuming = existsSync(joinPath(dir, KEYSTORE_FILE));
        const profilePassphrase = !argv.passphrase
          ? undefined
          : resuming
            ? (givenPassphrase(argv) ?? (await promptHidden("Passphrase: ", "profile")))
            : await newPassphrase(argv);
        const r = await logInNewDevice({
          dir,
          link: argv.link,
          username: argv.name,
          passphrase: () => accountPassphraseForLogin(argv as ProfileArgs & AccountPassphraseArgs),
          profilePassphrase,
          onDerive: () => announceDerivation(argv.json),
        });
        if (argv.json)
          printJson("logged_in", {
            username: r.username,
            device: r.deviceId,
            is_admin: r.isAdmin,
            relay: `${r.relayHost}:${r.relayPort}`,
            profile: dir,
            prekeys: r.oneTimePrekeys,
            contacts: r.contacts,
            chats: r.chats,
            resumed: r.resumed,
          });
        else printLine(resultLine(r, dir));
      }),
  );
}
