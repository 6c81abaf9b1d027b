/**
 * `smsg chat open USER | list | close CHAT | reopen CHAT`: chats on the relay, and groups:
 * `chat create NAME --members a,b | add CHAT USER | remove CHAT USER | leave CHAT | members CHAT`
 * (client/engine/group/membership.ts). CHAT is a chat id, a chat name, or the other member of a direct chat.
 */
import type { Argv } from "yargs";
import { findChat, openDirectChat, refreshChats, setChatClosed } from "../engine/chats.js";
import type { ChatListItem, ChatRecord } from "../store/index.js";
import { addMember, createGroup, groupMembers, leaveGroup, removeMember } from "../engine/group/membership.js";
import { type ProfileArgs, withAccount, withOfflineOption, withOnlineAccount, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine, terminalSafe, warn } from "./output.js";

/** The JSON fields of a chat. `membership`: ours (a group we left or were removed from says so). */
function chatJson(c: ChatRecord): Record<string, unknown> {
  return {
    chat: c.id,
    kind: c.kind,
    peer: c.peer,
    name: c.name,
    closed: c.closed,
    membership: c.departure ?? "member",
    removed_by: c.departure === "removed" ? c.departedBy : null,
  };
}

/** How our standing in a chat is shown in a list: nothing while a member. */
function departureFlag(c: ChatRecord): string[] {
  if (c.departure === "left") return ["you left"];
  if (c.departure === "removed") return [c.departedBy !== null ? `removed by ${c.departedBy}` : "you were removed"];
  return [];
}

/** How a chat is named for people: its name, else its peer. */
function chatTitle(c: ChatRecord): string {
  if (c.name !== null) return terminalSafe(c.name);
  return c.peer ?? `group ${c.id}`;
}

function listLine(c: ChatListItem): string {
  const flags = [
    c.kind === "group" ? "group" : "direct",
    ...departureFlag(c),
    ...(c.closed ? ["closed"] : []),
    ...(c.unread > 0 ? [`${c.unread} unread`] : []),
  ];
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
                if (pinnedNow)
                  printLine(
                    `${chat.peer}'s identity key is pinned now; compare safety numbers with smsg verify ${chat.peer}`,
                  );
              }
            }),
          ),
      )
      .command(
        "list",
        "List your chats with their unread counts",
        (a) =>
          withOfflineOption(withProfileOptions(a)).option("closed", {
            type: "boolean",
            default: true,
            describe: "Include closed chats (--no-closed hides them)",
          }),
        (argv) =>
          runCommand(() =>
            withAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
              if (online) await refreshChats(acct, online.relay);
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
      .command(
        "create <name>",
        "Create a group chat with --members (you become its admin)",
        (a) =>
          withProfileOptions(a)
            .positional("name", { type: "string", demandOption: true })
            .option("members", { type: "string", demandOption: true, describe: "The other members, comma-separated" })
            .option("allow-duplicate-name", {
              type: "boolean",
              default: false,
              describe: "Create it even if one of your chats has this name (then name each by its id)",
            }),
        (argv) =>
          runCommand(() =>
            withOnlineAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
              const members = argv.members
                .split(",")
                .map((m) => m.trim())
                .filter((m) => m !== "");
              const r = await createGroup(acct, online.relay, argv.name, members, {
                allowDuplicateName: argv["allow-duplicate-name"],
              });
              for (const w of r.warnings) warn(w);
              if (argv.json)
                printJson("chat", {
                  ...chatJson(r.chat),
                  members: r.state.members,
                  admins: r.state.admins,
                  epoch: r.state.epoch,
                });
              else
                printLine(`group ${r.chat.id} "${terminalSafe(argv.name)}" created with ${r.state.members.join(", ")}`);
            }),
          ),
      )
      .command(
        "add <chat> <user>",
        "Add USER to a group you administer (signed announcement to every member)",
        (a) =>
          withProfileOptions(a)
            .positional("chat", { type: "string", demandOption: true })
            .positional("user", { type: "string", demandOption: true }),
        (argv) =>
          runCommand(() => changeMember(argv as ProfileArgs & { chat: string; user: string; json: boolean }, "add")),
      )
      .command(
        "remove <chat> <user>",
        "Remove USER from a group you administer (everyone's group key is renewed)",
        (a) =>
          withProfileOptions(a)
            .positional("chat", { type: "string", demandOption: true })
            .positional("user", { type: "string", demandOption: true }),
        (argv) =>
          runCommand(() => changeMember(argv as ProfileArgs & { chat: string; user: string; json: boolean }, "remove")),
      )
      .command(
        "leave <chat>",
        "Leave a group",
        (a) => withProfileOptions(a).positional("chat", { type: "string", demandOption: true }),
        (argv) =>
          runCommand(() =>
            withOnlineAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
              const chat = await findChat(acct, online.relay, argv.chat);
              const left = await leaveGroup(acct, online.relay, chat);
              for (const w of left.warnings) warn(w);
              if (argv.json) printJson("chat_left", { chat: chat.id, heir: left.heir ?? null });
              else printLine(`left chat ${chat.id}${left.heir !== undefined ? `; ${left.heir} is its admin now` : ""}`);
            }),
          ),
      )
      .command(
        "members <chat>",
        "List a chat's members: role, whether an admin's signed announcement lists them, verified keys",
        (a) => withProfileOptions(a).positional("chat", { type: "string", demandOption: true }),
        (argv) =>
          runCommand(() =>
            withOnlineAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
              const chat = await findChat(acct, online.relay, argv.chat);
              const r = await groupMembers(acct, online.relay, chat);
              for (const w of r.warnings) warn(w);
              for (const m of r.members) {
                if (argv.json) {
                  printJson("member", {
                    chat: chat.id,
                    username: m.username,
                    role: m.role,
                    announced: m.announced,
                    listed: m.listed,
                    verified: m.verified,
                  });
                } else {
                  const you = m.username === acct.username;
                  const flags = [
                    m.role,
                    you ? "you" : m.verified ? "verified" : "unverified",
                    ...(m.announced ? [] : ["NOT ANNOUNCED"]),
                    ...(m.listed ? [] : [m.announced ? "left (not at the relay)" : "not at the relay"]),
                  ];
                  printLine(`${m.username.padEnd(33)} ${flags.join(", ")}`);
                }
              }
            }),
          ),
      )
      .demandCommand(1, "Say open, list, close, reopen, create, add, remove, leave or members."),
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

async function changeMember(
  argv: ProfileArgs & { chat: string; user: string; json: boolean },
  op: "add" | "remove",
): Promise<void> {
  await withOnlineAccount(argv, async (acct, online) => {
    const chat = await findChat(acct, online.relay, argv.chat);
    const r =
      op === "add"
        ? await addMember(acct, online.relay, chat, argv.user)
        : await removeMember(acct, online.relay, chat, argv.user);
    for (const w of r.warnings) warn(w);
    if (argv.json)
      printJson(op === "add" ? "member_added" : "member_removed", {
        chat: chat.id,
        username: argv.user,
        epoch: r.state.epoch,
        members: r.state.members,
      });
    else
      printLine(`${op === "add" ? "added" : "removed"} ${argv.user} ${op === "add" ? "to" : "from"} chat ${chat.id}`);
  });
}
