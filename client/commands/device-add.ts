/**
 * `smsg device add LINK [--name NAME] [--passphrase]`: makes this machine a new device of the
 * account that printed LINK with `smsg device link` (SECURITY.md §17.6): a new profile (in
 * `--profile` / SMSG_HOME, which must not hold one yet), its own keys, the account's contacts
 * and chats from the linking device, and **no earlier messages** (§17.6 "What a new device
 * sees"). It shows the code and this device's fingerprint and asks whether the linking device
 * shows the same code; like `device link`, it needs a terminal and has no `--yes`.
 */
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { addThisDevice } from "../engine/device-link-new.js";
import { systemRng } from "../../src/system-rng.js";
import { type ProfileArgs, profileDirOf, withNewProfilePassphraseOption, withProfileOptions } from "./common.js";
import { askYesNo, canAsk } from "./confirm.js";
import { LINK_NEEDS_TERMINAL } from "./device-link.js";
import { runCommand } from "./exit.js";
import { newPassphrase } from "./join.js";
import { printJson, printLine } from "./output.js";

interface AddArgs extends ProfileArgs {
  readonly link: string;
  readonly name?: string | undefined;
  readonly passphrase: boolean;
}

/** Mounts `device add`. */
export function deviceAddCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "add <link>",
    "Make this machine a device of your account, from the link smsg device link printed",
    (a) =>
      withNewProfilePassphraseOption(withProfileOptions(a))
        .positional("link", { type: "string", demandOption: true, describe: "The device link" })
        .option("name", { type: "string", describe: "This device's name (sent end to end to your other devices)" }),
    (argv) =>
      runCommand(async () => {
        const args = argv as AddArgs & typeof argv;
        if (!canAsk()) throw new UsageError(LINK_NEEDS_TERMINAL);
        const dir = profileDirOf(args);
        const profilePassphrase = args.passphrase ? await newPassphrase(args) : undefined;
        process.stderr.write("Connecting to the linking device…\n");
        const added = await addThisDevice(
          { dir, link: args.link, name: args.name, profilePassphrase, rng: systemRng },
          {
            confirm: (code, fingerprint) => {
              process.stderr.write(`This device's fingerprint: ${fingerprint}\nCode: ${code}\n`);
              return askYesNo("Does the existing device show the same code?", LINK_NEEDS_TERMINAL);
            },
          },
        );
        if (args.json)
          printJson("device_added", {
            username: added.username,
            id: added.deviceId,
            fingerprint: added.fingerprint,
            relay: `${added.relayHost}:${added.relayPort}`,
            profile: dir,
          });
        else
          printLine(
            `this machine is device ${added.deviceId} of ${added.username} on ${added.relayHost}:${added.relayPort}; ` +
              `profile in ${dir} (no earlier messages: they were encrypted to the devices of then)`,
          );
      }),
  );
}
