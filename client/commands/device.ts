/**
 * `smsg device list | rename | remove | link | add`: the devices of this account (SECURITY.md
 * §17). Each subcommand lives in its own module (device-list.ts, device-rename.ts,
 * device-remove.ts, device-link.ts, device-add.ts).
 */
import type { Argv } from "yargs";
import { deviceAddCommand } from "./device-add.js";
import { deviceLinkCommand } from "./device-link.js";
import { deviceListCommand } from "./device-list.js";
import { deviceRemoveCommand } from "./device-remove.js";
import { deviceRenameCommand } from "./device-rename.js";

/** Mounts `device` and its subcommands. */
export function deviceCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "device",
    "This account's devices: list, rename, remove, link (add a machine), add (on the new machine)",
    (a) =>
      [deviceListCommand, deviceRenameCommand, deviceRemoveCommand, deviceLinkCommand, deviceAddCommand]
        .reduce((acc: Argv<T>, mount) => mount(acc), a)
        .demandCommand(1, "say list, rename, remove, link or add"),
  );
}
