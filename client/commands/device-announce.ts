/**
 * After a device command changed our list or a name: tell our other devices and our contacts
 * (SECURITY.md §17.7, client/engine/device-announce.ts), and say what did not go out. The change
 * itself is done when this runs; an announcement that fails stays queued in the outbox and goes
 * with the next command that connects, so a failure here is a warning, not the command's error.
 */
import { announceDeviceList } from "../engine/device-announce.js";
import type { Account } from "../engine/open-account.js";
import type { RelayClient } from "../relay-client.js";
import { warnOnEvent } from "./common.js";
import { errorSentence } from "./exit.js";
import { warn } from "./output.js";

export async function announceListChange(acct: Account, relay: RelayClient): Promise<void> {
  try {
    const a = await announceDeviceList(acct, relay);
    a.events.forEach(warnOnEvent);
    for (const f of a.failed) warn(`the device list was not delivered in chat ${f.chat}: ${f.reason}`);
  } catch (e) {
    warn(
      `your other devices and contacts were not told yet (it goes with the next command that connects): ${errorSentence(e)}`,
    );
  }
}
