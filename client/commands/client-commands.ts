/** Every client command, mounted on the `smsg` yargs instance by bin/smsg.ts. */
import type { Argv } from "yargs";
import { chatCommand } from "./chat.js";
import { deviceCommand } from "./device.js";
import { exportCommand } from "./export.js";
import { historyCommand } from "./history.js";
import { importCommand } from "./import.js";
import { interactiveCommands } from "./interactive.js";
import { joinCommand } from "./join.js";
import { listenCommand } from "./listen.js";
import { loginCommand } from "./login.js";
import { passphraseCommand } from "./passphrase.js";
import { sendCommand } from "./send.js";
import { verifyCommand } from "./verify.js";
import { whoamiCommand } from "./whoami.js";

/**
 * Mounts join, login, whoami, chat, send, history, listen, verify, export, import, passphrase, device,
 * open and the default (interactive) command.
 */
export function clientCommands<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return [
    joinCommand,
    loginCommand,
    whoamiCommand,
    chatCommand,
    sendCommand,
    historyCommand,
    listenCommand,
    verifyCommand,
    exportCommand,
    importCommand,
    passphraseCommand,
    deviceCommand,
    interactiveCommands,
  ].reduce((acc: Argv<T>, mount) => mount(acc), y);
}
