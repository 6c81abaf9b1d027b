/**
 * `smsg device list`: the devices of this account (SECURITY.md §17.2, §17.7): id, name, when
 * this profile first saw it listed, when the relay last saw it, its fingerprint, and which one
 * this is. It logs in and takes the relay's current list, checked under the account key
 * (§17.4): what it prints is the list this profile accepted, never the relay's word alone.
 */
import type { Argv } from "yargs";
import type { OwnDevice } from "../engine/own-devices.js";
import { refreshOwnDevices } from "../engine/own-devices.js";
import { type ProfileArgs, warnOnEvent, withOnlineAccount, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine, shortTime, terminalSafe } from "./output.js";

/** The fields of a `device` JSON line (README "JSON output"). */
export function deviceJson(d: OwnDevice): Record<string, unknown> {
  return {
    id: d.id,
    name: d.name,
    current: d.current,
    added: d.addedAt,
    last_seen: d.lastSeen,
    fingerprint: d.fingerprint,
  };
}

/** One device for people: `2  Laptop (this device)  fingerprint …  added …  last seen …`. */
export function deviceLine(d: OwnDevice): string {
  const name = d.name === null ? "(no name)" : terminalSafe(d.name);
  return (
    `${d.id}  ${name}${d.current ? " (this device)" : ""}  fingerprint ${d.fingerprint}` +
    `  added ${shortTime(d.addedAt)}  last seen ${d.lastSeen === null ? "never" : shortTime(d.lastSeen)}`
  );
}

/** Prints `devices` as `device` lines or for people. */
export function printDevices(devices: readonly OwnDevice[], json: boolean): void {
  for (const d of devices) {
    if (json) printJson("device", deviceJson(d));
    else printLine(deviceLine(d));
  }
}

/** Mounts `device list`. */
export function deviceListCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "list",
    "List this account's devices (name, fingerprint, when added and last seen; logs in)",
    (a) => withProfileOptions(a),
    (argv) =>
      runCommand(() =>
        withOnlineAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
          const { devices, events } = await refreshOwnDevices(acct, online.relay);
          events.forEach(warnOnEvent);
          printDevices(devices, argv.json);
        }),
      ),
  );
}
