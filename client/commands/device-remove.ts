/**
 * `smsg device remove ID [--yes]`: removes a device from this account (SECURITY.md §17.7): the
 * account signs its list without that device and the relay then refuses its logins, drops its
 * mailbox and closes its connections; contacts stop encrypting to it. Any device may remove
 * any other, or itself (this profile can then no longer log in). It cannot be undone (a
 * removed id never returns, §17.1), so on a terminal it asks first; without a terminal it
 * needs `--yes`, and refuses otherwise, so a script never removes a device by accident.
 */
import type { Argv } from "yargs";
import { DeviceNotListedError } from "../engine/device-errors.js";
import { refreshOwnDevices, removeOwnDevice } from "../engine/own-devices.js";
import { announceListChange } from "./device-announce.js";
import { UsageError } from "../../src/errors.js";
import { type ProfileArgs, warnOnEvent, withOnlineAccount, withProfileOptions } from "./common.js";
import { askYesNo, canAsk } from "./confirm.js";
import { parseDeviceId } from "./device-args.js";
import { deviceLine } from "./device-list.js";
import { runCommand } from "./exit.js";
import { printJson, printLine } from "./output.js";

interface RemoveArgs extends ProfileArgs {
  readonly id: string;
  readonly yes: boolean;
}

const NO_TERMINAL =
  "smsg device remove asks before removing a device, and stdin is not a terminal: add --yes to remove it without asking";

/** Mounts `device remove`. */
export function deviceRemoveCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "remove <id>",
    "Remove a device from this account (asks first; --yes to skip; logs in)",
    (a) =>
      withProfileOptions(a)
        .positional("id", { type: "string", demandOption: true, describe: "The device's id (smsg device list)" })
        .option("yes", { type: "boolean", default: false, describe: "Remove without asking" }),
    (argv) =>
      runCommand(async () => {
        const args = argv as RemoveArgs & typeof argv;
        // Checked before the profile is opened or the relay reached: a wrong command line changes nothing.
        const id = parseDeviceId(args.id);
        if (!args.yes && !canAsk()) throw new UsageError(NO_TERMINAL);
        await withOnlineAccount(args, async (acct, online) => {
          const { devices, events } = await refreshOwnDevices(acct, online.relay);
          events.forEach(warnOnEvent);
          const device = devices.find((d) => d.id === id);
          if (device === undefined) throw new DeviceNotListedError(id);
          if (!args.yes) {
            process.stderr.write(`${deviceLine(device)}\n`);
            const question = device.current
              ? "Remove THIS device from your account? This profile will no longer be able to log in."
              : `Remove device ${id} from your account? It will no longer be able to log in.`;
            if (!(await askYesNo(question, NO_TERMINAL))) throw new UsageError("not removed: cancelled");
          }
          const removed = await removeOwnDevice(acct, online.relay, id);
          // A device that removed itself has no connection left (the relay closed it, §17.8).
          if (!removed.self) await announceListChange(acct, online.relay);
          if (args.json) printJson("device_removed", { id, version: removed.version, current: removed.self });
          else if (removed.self)
            printLine(
              `this device (device ${id}) was removed from ${acct.username}'s account: it can no longer log in`,
            );
          else printLine(`device ${id} was removed from ${acct.username}'s account`);
        });
      }),
  );
}
