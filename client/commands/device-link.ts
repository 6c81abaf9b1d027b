/**
 * `smsg device link`: adds a new machine to this account (SECURITY.md §17.6). Prints a one-time
 * link (valid 5 minutes) for `smsg device add LINK` on the new machine, then shows the code both
 * machines compute and asks whether the new one shows the same. Only a yes adds it.
 *
 * There is deliberately no `--yes`: comparing the code with one's own eyes is what stops
 * someone who got hold of the link (or runs the relay) from adding their own device. So it
 * needs a terminal; a script cannot link a device, and is refused before any link is opened.
 */
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { linkNewDevice } from "../engine/device-link-existing.js";
import { announceListChange } from "./device-announce.js";
import { type ProfileArgs, withOnlineAccount, withProfileOptions } from "./common.js";
import { askYesNo, canAsk } from "./confirm.js";
import { runCommand } from "./exit.js";
import { printJson, printLine, shortTime, terminalSafe, warn } from "./output.js";

export const LINK_NEEDS_TERMINAL =
  "linking a device asks you to compare a code shown on both machines, and stdin is not a terminal: " +
  "run it on a terminal (there is no --yes: the comparison is what keeps others from adding a device)";

/** Mounts `device link`. */
export function deviceLinkCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "link",
    "Add a new machine to this account: prints a link for smsg device add, then asks you to compare a code",
    (a) => withProfileOptions(a),
    (argv) =>
      runCommand(async () => {
        if (!canAsk()) throw new UsageError(LINK_NEEDS_TERMINAL);
        await withOnlineAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
          const linked = await linkNewDevice(acct, online.relay, {
            onLink: (link, expiresAt) => {
              if (argv.json) printJson("device_link", { link, expires_at: expiresAt });
              else printLine(link);
              process.stderr.write(
                `On the new machine, run: smsg device add LINK (this link, valid until ${shortTime(expiresAt)}).\n` +
                  "Waiting for the new device…\n",
              );
            },
            confirm: (d) => {
              process.stderr.write(
                `The new device${d.name === null ? "" : ` "${terminalSafe(d.name)}"`} (fingerprint ${d.fingerprint}) ` +
                  `answered.\nCode: ${d.code}\n`,
              );
              return askYesNo("Does the new device show the same code?", LINK_NEEDS_TERMINAL);
            },
            onOmitted: (o) =>
              warn(
                `the new device does not get ${o.departedChats.length} group(s) you left ` +
                  `and the group state of ${o.closedGroupStates.length} closed chat(s): they did not fit (SECURITY.md §17.6.1)`,
              ),
          });
          if (argv.json)
            printJson("device_linked", {
              id: linked.deviceId,
              name: linked.name,
              fingerprint: linked.fingerprint,
              version: linked.version,
            });
          else
            printLine(
              `device ${linked.deviceId}${linked.name === null ? "" : ` (${terminalSafe(linked.name)})`} ` +
                `was added to ${acct.username}'s account`,
            );
          await announceListChange(acct, online.relay);
        });
      }),
  );
}
