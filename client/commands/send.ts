/**
 * `smsg send CHAT [TEXT]`: sends TEXT, or all of stdin when TEXT is absent, in a direct or group chat.
 * When the relay cannot be reached but a session exists, the message is encrypted and queued
 * (exit code "relay unreachable"); the next command that reaches the relay sends it.
 */
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { findOrOpenChat } from "../engine/chats.js";
import { RelayUnreachableError } from "../engine/errors.js";
import { closeAccount } from "../engine/open-account.js";
import { goOnline } from "../engine/online.js";
import { queueTextOffline, sendText } from "../engine/send.js";
import { checkTextBodySize } from "../protocol/app-message.js";
import { type ProfileArgs, openAccountOf, readStdin, warnError, warnOnEvent, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine, syncProgress, warn } from "./output.js";

/** The text to send: the argument, else stdin without its final line break. Throws UsageError when empty or too long. */
export function messageText(arg: string | undefined, stdin: string | undefined): string {
  const text = arg ?? (stdin ?? "").replace(/\r?\n$/, "");
  if (text.trim() === "") throw new UsageError("nothing to send: give TEXT or pipe it on stdin");
  checkTextBodySize(text);
  return text;
}

/** Mounts `send`. */
export function sendCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "send <chat> [text]",
    "Send a message (TEXT, or stdin when TEXT is absent) in a chat",
    (a) =>
      withProfileOptions(a)
        .positional("chat", {
          type: "string",
          demandOption: true,
          describe: "Chat id, chat name, or the other member of a direct chat",
        })
        .positional("text", { type: "string", describe: "The message; read from stdin when absent" }),
    (argv) =>
      runCommand(async () => {
        const args = argv as ProfileArgs & { chat: string; text?: string };
        const acct = await openAccountOf(args);
        try {
          if (args.text === undefined && process.stdin.isTTY)
            process.stderr.write("smsg: type the message, then Ctrl-D on a line of its own\n");
          const body = messageText(args.text, args.text === undefined ? await readStdin() : undefined);
          let online;
          const progress = syncProgress(args.json);
          try {
            online = await goOnline(acct, {
              onEvent: warnOnEvent,
              onWarning: warnError,
              onSyncProgress: progress.onSyncProgress,
            });
          } catch (e) {
            if (!(e instanceof RelayUnreachableError)) throw e;
            queueTextOffline(acct, acct.store.resolveChat(args.chat), body, e);
          } finally {
            progress.done();
          }
          try {
            for (const f of online.flushed.failed)
              warn(`message #${f.messageId ?? "?"} in chat ${f.chat} was not delivered: ${f.reason}`);
            const { chat, pinnedNow } = await findOrOpenChat(acct, online.relay, args.chat);
            if (pinnedNow && !args.json)
              warn(`${chat.peer}'s identity key is pinned now; compare safety numbers with smsg verify ${chat.peer}`);
            const r = await sendText(acct, online.relay, chat, body);
            for (const e of r.events ?? []) warnOnEvent(e);
            for (const w of r.warnings ?? []) warn(w);
            if (args.json) {
              printJson("sent", {
                chat: chat.id,
                id: r.queued.messageId,
                relay_msg: r.sent.relayMsg,
                ts: r.sent.ts,
                seq: r.queued.seq,
                duplicate: r.sent.duplicate,
              });
            } else {
              printLine(`sent #${r.queued.messageId} in chat ${chat.id}`);
            }
            // A first message to someone adds a contact and a chat: the backup carries them (§18.6 "Update").
            await online.backup.refresh();
          } finally {
            online.close();
          }
        } finally {
          closeAccount(acct);
        }
      }),
  );
}
