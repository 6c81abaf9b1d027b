/**
 * `smsg device list | rename | remove`: the devices of this account (SECURITY.md §17). Each
 * subcommand lives in its own module (device-list.ts, device-rename.ts, device-remove.ts).
 */
import type { Argv } from "yargs";
import { deviceListCommand } from "./device-list.js";
import { deviceRemoveCommand } from "./device-remove.js";
import { deviceRenameCommand } from "./device-rename.js";

/** Mounts `device` and its subcommands. */
export function deviceCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command("device", "This account's devices: list, rename, remove", (a) =>
    [deviceListCommand, deviceRenameCommand, deviceRemoveCommand]
      .reduce((acc: Argv<T>, mount) => mount(acc), a)
      .demandCommand(1, "say list, rename or remove"),
  );
}
