/**
 * `smsg listen [--json]`: stays connected and prints what arrives, until Ctrl-C or SIGTERM.
 * With --json, one JSON line per event, for bots: `message`, `key_change`, `gap`,
 * `undecryptable`, `profile`, `chat_event`, `group_state`, `sent` (a text written earlier that
 * the listener delivered on connecting), and the connection's `listening` / `disconnected`.
 */
import type { Argv } from "yargs";
import { closeAccount } from "../engine/open-account.js";
import { listen } from "../engine/listener.js";
import { type ProfileArgs, displayNameOf, openAccountOf, warnError, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { eventJson, eventLine, printJson, printLine, statusJson } from "./output.js";

/** Mounts `listen`. */
export function listenCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "listen",
    "Print incoming messages as they arrive (reconnects by itself; Ctrl-C stops)",
    (a) => withProfileOptions(a),
    (argv) =>
      runCommand(async () => {
        const acct = await openAccountOf(argv as ProfileArgs);
        const names = displayNameOf(acct);
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        try {
          await listen(acct, {
            signal: stop.signal,
            onEvent: (e) => (argv.json ? printJson(e.type, eventJson(e)) : printLine(eventLine(e, names))),
            onSent: (s) =>
              argv.json
                ? printJson("sent", {
                    chat: s.chat,
                    id: s.id,
                    relay_msg: s.relayMsg,
                    ts: s.ts,
                    seq: s.seq,
                    duplicate: s.duplicate,
                  })
                : printLine(`[chat ${s.chat}] your message #${s.id}, written earlier, was delivered`),
            onStatus: (s) => {
              if (argv.json) printJson(...statusJson(s));
              else if (s.state === "listening")
                process.stderr.write(`smsg: listening as ${acct.username} on ${acct.relayHost}:${acct.relayPort}\n`);
              else
                process.stderr.write(
                  `smsg: disconnected (${s.reason}); retrying in ${Math.round(s.retryInMs / 100) / 10} s\n`,
                );
            },
            onWarning: warnError,
          });
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          closeAccount(acct);
        }
      }),
  );
}
