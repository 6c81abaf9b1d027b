/**
 * `smsg chat open USER | list | close CHAT | reopen CHAT`: direct chats on the relay. CHAT is a
 * chat id, a chat name, or the other member of a direct chat.
 */
import type { Argv } from "yargs";
import { findChat, openDirectChat, refreshChats, setChatClosed } from "../engine/chats.js";
import type { ChatListItem, ChatRecord } from "../store/index.js";
import { type ProfileArgs, withOnlineAccount, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine, terminalSafe } from "./output.js";

/** The JSON fields of a chat. */
function chatJson(c: ChatRecord): Record<string, unknown> {
  return { chat: c.id, kind: c.kind, peer: c.peer, name: c.name, closed: c.closed };
}

/** How a chat is named for people: its name, else its peer. */
function chatTitle(c: ChatRecord): string {
  if (c.name !== null) return terminalSafe(c.name);
  return c.peer ?? `group ${c.id}`;
}

function listLine(c: ChatListItem): string {
  const flags = [c.kind === "group" ? "group" : "direct", ...(c.closed ? ["closed"] : []), ...(c.unread > 0 ? [`${c.unread} unread`] : [])];
  return `${String(c.id).padStart(6)}  ${chatTitle(c).padEnd(32)} ${flags.join(", ")}`;
}

/** Mounts `chat` and its subcommands. */
export function chatCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command("chat", "Open, list, close and reopen chats", (c) =>
    c
      .command(
        "open <user>",
        "Open the direct chat with USER (checks and pins their identity key)",
        (a) => withProfileOptions(a).positional("user", { type: "string", demandOption: true }),
        (argv) =>
          runCommand(() =>
            withOnlineAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
              const { chat, pinnedNow } = await openDirectChat(acct, online.relay, argv.user);
              if (argv.json) printJson("chat", { ...chatJson(chat), key_pinned_now: pinnedNow });
              else {
                printLine(`chat ${chat.id} with ${chat.peer}${chat.closed ? " (closed)" : ""}`);
                if (pinnedNow) printLine(`${chat.peer}'s identity key is pinned now; compare safety numbers with smsg verify ${chat.peer}`);
              }
            }),
          ),
      )
      .command(
        "list",
        "List your chats with their unread counts",
        (a) => withProfileOptions(a).option("closed", { type: "boolean", default: true, describe: "Include closed chats (--no-closed hides them)" }),
        (argv) =>
          runCommand(() =>
            withOnlineAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
              await refreshChats(acct, online.relay);
              const chats = acct.store.chats.list({ includeClosed: argv.closed });
              if (argv.json) for (const ch of chats) printJson("chat", { ...chatJson(ch), unread: ch.unread });
              else if (chats.length === 0) printLine("no chats yet: smsg chat open USER");
              else for (const ch of chats) printLine(listLine(ch));
            }),
          ),
      )
      .command(
        "close <chat>",
        "Close a chat: nothing can be sent in it until it is reopened",
        (a) => withProfileOptions(a).positional("chat", { type: "string", demandOption: true }),
        (argv) => runCommand(() => setClosed(argv as ProfileArgs & { chat: string }, true)),
      )
      .command(
        "reopen <chat>",
        "Reopen a closed chat",
        (a) => withProfileOptions(a).positional("chat", { type: "string", demandOption: true }),
        (argv) => runCommand(() => setClosed(argv as ProfileArgs & { chat: string }, false)),
      )
      .demandCommand(1, "Say open, list, close or reopen."),
  );
}

async function setClosed(argv: ProfileArgs & { chat: string }, closed: boolean): Promise<void> {
  await withOnlineAccount(argv, async (acct, online) => {
    const chat = await findChat(acct, online.relay, argv.chat);
    const after = await setChatClosed(acct, online.relay, chat, closed);
    if (argv.json) printJson(closed ? "chat_closed" : "chat_reopened", chatJson(after));
    else printLine(`chat ${after.id} ${closed ? "closed" : "reopened"}`);
  });
}
