/**
 * `smsg device rename [ID] NAME`: names a device of this account, this one by default
 * (SECURITY.md §17.7). The name is kept in this profile, sealed at rest (§16.2), and never
 * reaches the relay in the clear: devices and contacts learn it inside the encryption, in a
 * `device_list` message. It logs in first, so the id is checked against the account's current
 * list (§17.4), and the name is stored only for a device that list holds.
 */
import type { Argv } from "yargs";
import { refreshOwnDevices, renameOwnDevice } from "../engine/own-devices.js";
import { announceListChange } from "./device-announce.js";
import { checkDeviceName } from "../protocol/device-name.js";
import { type ProfileArgs, warnOnEvent, withOnlineAccount, withProfileOptions } from "./common.js";
import { parseDeviceId } from "./device-args.js";
import { printDevices } from "./device-list.js";
import { runCommand } from "./exit.js";
import { printLine, terminalSafe } from "./output.js";

interface RenameArgs extends ProfileArgs {
  readonly "id-or-name": string;
  readonly name?: string | undefined;
}

/** Mounts `device rename`. */
export function deviceRenameCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "rename <id-or-name> [name]",
    "Name a device: rename NAME (this device) or rename ID NAME (logs in)",
    (a) =>
      withProfileOptions(a)
        .positional("id-or-name", { type: "string", demandOption: true, describe: "NAME, or the device ID" })
        .positional("name", { type: "string", describe: "NAME, when the first is an ID" }),
    (argv) =>
      runCommand(async () => {
        const args = argv as RenameArgs & typeof argv;
        // Checked before the profile is opened: a wrong command line changes nothing.
        const first = args["id-or-name"];
        const id = args.name === undefined ? undefined : parseDeviceId(first);
        const name = checkDeviceName(args.name ?? first);
        await withOnlineAccount(args, async (acct, online) => {
          const target = id ?? acct.deviceId;
          const { devices, events } = await refreshOwnDevices(acct, online.relay);
          events.forEach(warnOnEvent);
          renameOwnDevice(acct, target, name);
          await announceListChange(acct, online.relay);
          const renamed = devices.filter((d) => d.id === target).map((d) => ({ ...d, name }));
          if (args.json) printDevices(renamed, true);
          else printLine(`device ${target} is now named ${terminalSafe(name)}`);
        });
      }),
  );
}
