/**
 * The interactive mode: `smsg` with no command, or `smsg open CHAT`. Incoming messages are
 * printed as they arrive (`[HH:MM] Sender (@user): text`); a typed line is sent in the open chat;
 * lines starting with "/" are commands (/help lists them; "//text" sends "/text").
 *
 * On a terminal it uses node:readline with a prompt, and redraws the prompt (with what was
 * typed so far) after printing an incoming line. In a pipe it reads stdin line by line and prints
 * plain lines; at end of input it waits until every message sent was acknowledged by the relay,
 * then exits (with the exit code of the last failed send, if one failed). `--json` prints JSON
 * lines (the `listen --json` events, `sent`, history `message`s, …) for bots.
 *
 * The engine does the work (client/engine/interactive.ts: the listener for incoming messages and
 * reconnection, sendText for outgoing ones).
 */
import { type Interface, clearLine, createInterface, cursorTo } from "node:readline";
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { normalizeUsername } from "../../src/wire/username.js";
import { findOrOpenChat, setChatClosed } from "../engine/chats.js";
import { KeyChangedError } from "../engine/errors.js";
import type { EngineEvent } from "../engine/events.js";
import { InteractiveSession } from "../engine/interactive.js";
import { type Account, closeAccount } from "../engine/open-account.js";
import { checkIdentity, safetyNumbersWith } from "../engine/sessions.js";
import { displayText, senderLabel } from "../protocol/text-rules.js";
import { type ChatRecord, ChatNotFoundError, MAX_HISTORY_PAGE } from "../store/index.js";
import { type ProfileArgs, displayNameOf, openAccountOf, withProfileOptions } from "./common.js";
import { errorSentence, exitCodeOf, runCommand } from "./exit.js";
import { flaggedByKeyChange, otherDeviceOf, visibleHistory } from "./history.js";
import { safetyNumberLines } from "./safety-number-lines.js";
import {
  type JsonEventType,
  eventJson,
  eventLine,
  messageJson,
  messageLine,
  messageTime,
  printJson,
  statusJson,
} from "./output.js";

/** What /help prints. */
export const INTERACTIVE_HELP = [
  "Type a line to send it in the open chat (start it with // to send a line beginning with /).",
  "/open CHAT      open a chat: a chat id, a chat name, or a user (opens the direct chat)",
  "/close          close the open chat on the relay (nothing can be sent in it until",
  "                smsg chat reopen CHAT) and leave it",
  "/history [N]    the last N messages of the open chat (default 20)",
  "/members        the members of the open chat",
  "/verify [USER]  the safety number with USER (default: the other member of the open chat)",
  "/help           this list",
  "/quit           leave (Ctrl-D too); messages being sent are acknowledged first",
];

/** `HH:MM` local time. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** How a chat is named in the prompt and in lines from other chats. */
function chatTitle(c: ChatRecord): string {
  if (c.name !== null) return displayText(c.name).replace(/\n/g, " ");
  return c.peer ?? `chat ${c.id}`;
}

/** The options of the interactive mode. */
interface InteractiveArgs extends ProfileArgs {
  readonly chat?: string | undefined;
  readonly plain: boolean;
  readonly bell: boolean;
}

/**
 * The full-screen UI (client/tui/) runs when stdin and stdout are a terminal, unless --plain or
 * --json: bots and scripts always get line mode.
 */
function wantsTui(args: InteractiveArgs): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !args.json && !args.plain;
}

/** The terminal bell is off with --no-bell or SMSG_NO_BELL set (to anything but ""). */
function bellWanted(args: InteractiveArgs): boolean {
  return args.bell && !process.env["SMSG_NO_BELL"];
}

/** One interactive run (see the file comment). */
class InteractiveUi {
  private current: ChatRecord | undefined;
  private rl: Interface | undefined;
  private chain: Promise<void> = Promise.resolve();
  private quitting = false;
  private readonly tty: boolean;
  private readonly names: (u: string) => string | null | undefined;
  readonly session: InteractiveSession;

  constructor(
    private readonly acct: Account,
    private readonly json: boolean,
  ) {
    this.tty = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !json;
    this.names = displayNameOf(acct);
    this.session = new InteractiveSession(acct, {
      onEvent: (e) => this.onEvent(e),
      onSent: (s) => {
        if (this.json)
          this.emitJson("sent", {
            chat: s.chat,
            id: s.id,
            relay_msg: s.relayMsg,
            ts: s.ts,
            seq: s.seq,
            duplicate: s.duplicate,
          });
        else this.note(`message #${s.id} in ${this.titleOf(s.chat)}, written earlier, was delivered`);
      },
      onStatus: (s) => {
        if (this.json) this.emitJson(...statusJson(s));
        else if (s.state === "listening")
          this.note(`connected as ${acct.username} to ${acct.relayHost}:${acct.relayPort}`);
        else this.note(`disconnected (${s.reason}); retrying in ${Math.round(s.retryInMs / 100) / 10} s`);
      },
      onWarning: (e) => this.note(`warning: ${errorSentence(e)}`),
    });
  }

  /** Prints a line of output above the prompt (terminal) or as a line (pipe). */
  private out(line: string): void {
    if (this.tty && this.rl) {
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
      process.stdout.write(`${line}\n`);
      if (!this.quitting) this.rl.prompt(true);
    } else {
      process.stdout.write(`${line}\n`);
    }
  }

  /** A JSON line (`--json`). */
  private emitJson(type: JsonEventType, fields: Record<string, unknown> = {}): void {
    printJson(type, fields);
  }

  /** A status or warning: above the prompt on a terminal, on stderr otherwise. */
  private note(text: string): void {
    if (this.tty) this.out(`-- ${text}`);
    else process.stderr.write(`smsg: ${text}\n`);
  }

  private fail(err: unknown): void {
    this.note(errorSentence(err));
  }

  private onEvent(e: EngineEvent): void {
    if (this.json) return this.emitJson(e.type, eventJson(e));
    if (e.type === "message") {
      const where = this.current?.id === e.chat ? "" : `[${this.titleOf(e.chat)}] `;
      const label = senderLabel(e.from, this.names(e.from) ?? undefined);
      const flag = e.keyChanged ? "  (⚠ sent with an unverified new key)" : "";
      this.out(`[${messageTime(e.senderTs, e.ts, clockTime)}] ${where}${label}: ${displayText(e.body)}${flag}`);
      if (this.current?.id === e.chat) this.acct.store.chats.markRead(e.chat, e.relayMsg);
      return;
    }
    this.out(eventLine(e, this.names));
  }

  private titleOf(chatId: number): string {
    const c = this.acct.store.isOpen ? this.acct.store.chats.get(chatId) : undefined;
    return c ? chatTitle(c) : `chat ${chatId}`;
  }

  private prompt(): string {
    return this.current ? `${chatTitle(this.current)}> ` : "> ";
  }

  /** Opens the view on CHAT: known locally, known to the relay, or a user to open a direct chat with. */
  async open(arg: string): Promise<void> {
    let chat: ChatRecord;
    try {
      chat = this.acct.store.resolveChat(arg);
    } catch (e) {
      if (!(e instanceof ChatNotFoundError)) throw e;
      chat = await this.session.withRelay(async (relay) => {
        try {
          const opened = await findOrOpenChat(this.acct, relay, arg);
          if (opened.pinnedNow && !this.json)
            this.note(`${opened.chat.peer}'s identity key is pinned now; compare safety numbers with /verify`);
          return opened.chat;
        } catch (err) {
          if (!(err instanceof KeyChangedError)) throw err;
          this.fail(err);
          return this.acct.store.resolveChat(arg);
        }
      });
    }
    this.current = chat;
    if (this.json)
      this.emitJson("open", { chat: chat.id, kind: chat.kind, peer: chat.peer, name: chat.name, closed: chat.closed });
    else
      this.note(
        `chat ${chat.id} with ${chatTitle(chat)}${chat.closed ? " (closed: smsg chat reopen to write again)" : ""}`,
      );
    this.rl?.setPrompt(this.prompt());
  }

  private sendLine(text: string): void {
    const chat = this.current;
    if (!chat) {
      const e = new UsageError("no chat is open: /open CHAT first (/help lists the commands)");
      this.fail(e);
      if (!this.tty) process.exitCode = exitCodeOf(e);
      return;
    }
    this.session.send(chat, text).then(
      (r) => {
        // What the send learnt on the way (device lists, a member added unannounced), as `smsg send` tells it.
        for (const e of r.events ?? []) this.onEvent(e);
        for (const w of r.warnings ?? []) this.note(w);
        if (this.json) {
          this.emitJson("sent", {
            chat: chat.id,
            id: r.queued.messageId,
            relay_msg: r.sent.relayMsg,
            ts: r.sent.ts,
            seq: r.queued.seq,
            duplicate: r.sent.duplicate,
          });
        } else if (!this.tty) this.out(`sent #${r.queued.messageId}`);
      },
      (e: unknown) => {
        this.fail(e);
        if (!this.tty) process.exitCode = exitCodeOf(e);
      },
    );
  }

  private history(nArg: string | undefined): void {
    const chat = this.needChat();
    const n = nArg === undefined ? 20 : Number(nArg);
    if (!Number.isInteger(n) || n < 1 || n > MAX_HISTORY_PAGE)
      throw new UsageError(`/history takes a number 1..${MAX_HISTORY_PAGE}`);
    const page = visibleHistory(this.acct, chat.id, n);
    for (const m of page.messages) {
      const flagged = flaggedByKeyChange(this.acct, chat, m);
      const from = otherDeviceOf(this.acct, m);
      if (this.json) this.emitJson("message", messageJson(m, flagged, from));
      else this.out(messageLine(m, flagged, this.names, from));
    }
    if (this.json) this.emitJson("history_end", { chat: chat.id, more: page.more });
    else if (page.messages.length === 0) this.out("(no messages)");
    const newestIn = Math.max(
      0,
      ...page.messages.filter((m) => m.direction === "in" && m.relayMsgId !== null).map((m) => m.relayMsgId!),
    );
    if (newestIn > 0) this.acct.store.chats.markRead(chat.id, newestIn);
  }

  private members(): void {
    const chat = this.needChat();
    let list = this.acct.store.members.list(chat.id).map((m) => ({ username: m.username, role: m.role as string }));
    if (list.length === 0 && chat.peer !== null) {
      list = [this.acct.username, chat.peer].sort().map((u) => ({ username: u, role: "member" }));
    }
    for (const m of list) {
      if (this.json) this.emitJson("member", { chat: chat.id, user: m.username, role: m.role });
      else
        this.out(
          senderLabel(m.username, this.names(m.username) ?? undefined) +
            (m.role === "member" ? "" : ` (${m.role})`) +
            (m.username === this.acct.username ? " (you)" : ""),
        );
    }
  }

  private async verify(userArg: string | undefined): Promise<void> {
    const user = userArg !== undefined ? normalizeUsername(userArg) : this.needChat().peer;
    if (user === null || user === undefined) throw new UsageError("say whom: /verify USER");
    if (user === this.acct.username) throw new UsageError("that is you: compare your fingerprint with smsg whoami");
    let contact = this.acct.store.contacts.get(user);
    if (!contact) {
      await this.session.withRelay((relay) =>
        checkIdentity(this.acct, relay, user).catch((e: unknown) => {
          if (!(e instanceof KeyChangedError)) throw e;
        }),
      );
      contact = this.acct.store.contacts.get(user);
      if (!contact) throw new UsageError(`no identity key known for ${user}`);
    }
    const numbers = safetyNumbersWith(this.acct, contact);
    if (this.json) {
      this.emitJson("safety_number", {
        user,
        safety_number: numbers.pinned.replace(/\s/g, ""),
        pending_safety_number: numbers.pending === null ? null : numbers.pending.replace(/\s/g, ""),
        verified: contact.verified,
        key_changed: contact.keyChanged,
      });
      return;
    }
    for (const l of safetyNumberLines(user, numbers, contact).flatMap((t) => t.split("\n"))) this.out(l);
  }

  private async close(): Promise<void> {
    const chat = this.needChat();
    await this.session.settled();
    const after = await this.session.withRelay((relay) => setChatClosed(this.acct, relay, chat, true));
    this.current = undefined;
    this.rl?.setPrompt(this.prompt());
    if (this.json)
      this.emitJson("chat_closed", {
        chat: after.id,
        kind: after.kind,
        peer: after.peer,
        name: after.name,
        closed: after.closed,
      });
    else this.note(`chat ${after.id} closed (smsg chat reopen ${after.id} reopens it)`);
  }

  private needChat(): ChatRecord {
    if (!this.current) throw new UsageError("no chat is open: /open CHAT first");
    return this.acct.store.chats.get(this.current.id) ?? this.current;
  }

  /** Handles one input line. */
  private async line(raw: string): Promise<void> {
    const text = raw.replace(/\r$/, "");
    if (text.trim() === "") return;
    if (!text.startsWith("/") || text.startsWith("//")) {
      this.sendLine(text.startsWith("//") ? text.slice(1) : text);
      return;
    }
    const [cmd, ...args] = text.trim().split(/\s+/);
    // Commands see the effect of every line typed before them.
    await this.session.settled();
    switch (cmd) {
      case "/help":
        if (this.json) process.stderr.write(`${INTERACTIVE_HELP.join("\n")}\n`);
        else for (const l of INTERACTIVE_HELP) this.out(l);
        return;
      case "/quit":
      case "/exit":
        this.rl?.close();
        return;
      case "/open":
        if (args[0] === undefined) throw new UsageError("say which chat: /open CHAT");
        return this.open(args.join(" "));
      case "/close":
        return this.close();
      case "/history":
        return this.history(args[0]);
      case "/members":
        return this.members();
      case "/verify":
        return this.verify(args[0]);
      default:
        throw new UsageError(`unknown command ${cmd ?? ""}: /help lists them (//text sends a line starting with /)`);
    }
  }

  /** Reads lines until /quit or end of input; resolves once everything has been sent and closed. */
  async run(): Promise<void> {
    const rl = createInterface({
      input: process.stdin,
      ...(this.tty ? { output: process.stdout, terminal: true } : { terminal: false }),
    });
    this.rl = rl;
    rl.setPrompt(this.prompt());
    if (this.tty) {
      this.out("-- /help lists the commands; Ctrl-D or /quit leaves");
      rl.prompt();
    }
    const ended = new Promise<void>((resolve) => rl.once("close", resolve));
    rl.on("line", (l) => {
      this.chain = this.chain
        .then(() => this.line(l))
        .catch((e: unknown) => this.fail(e))
        .then(() => {
          if (this.tty && !this.quitting) rl.prompt();
        });
    });
    if (this.tty) rl.on("SIGINT", () => rl.close());
    // SIGTERM (and Ctrl-C in a pipe) leave as end of input does: pending sends are acknowledged first.
    const onSignal = () => rl.close();
    process.once("SIGTERM", onSignal);
    if (!this.tty) process.once("SIGINT", onSignal);
    void ended.then(() => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    });
    const fatal = this.session.finished.then(
      () => undefined,
      (e: unknown) => e,
    );
    const first = await Promise.race([ended.then(() => undefined), fatal]);
    this.quitting = true;
    if (first !== undefined) {
      rl.close();
      throw first;
    }
    await this.chain;
    if (this.tty) process.stdout.write("\n");
    await this.session.close();
  }
}

async function interactive(args: InteractiveArgs): Promise<void> {
  // Loaded only here, so one-shot commands never load ink and React; while the profile opens.
  const tui = wantsTui(args)
    ? import("../tui/run.js").then((m) => {
        void m.loadRenderer().catch(() => undefined); // a failure shows when runTui awaits it
        return m;
      })
    : undefined;
  tui?.catch(() => undefined); // when opening the profile fails first, nobody awaits it
  const acct = await openAccountOf(args);
  if (tui) {
    try {
      const { runTui } = await tui;
      await runTui(acct, { chat: args.chat, bell: bellWanted(args) });
    } finally {
      closeAccount(acct);
    }
    return;
  }
  const ui = new InteractiveUi(acct, args.json);
  try {
    if (args.chat !== undefined) {
      try {
        await ui.open(args.chat);
      } catch (e) {
        await ui.session.close();
        throw e;
      }
    } else if (!args.json) {
      const chats = acct.store.chats.list({ includeClosed: false });
      if (!process.stdin.isTTY)
        process.stderr.write(
          `smsg: no chat is open (/open CHAT)${chats.length > 0 ? `; chats: ${chats.map((c) => chatTitle(c)).join(", ")}` : ""}\n`,
        );
    }
    await ui.run();
  } finally {
    await ui.session.close();
    closeAccount(acct);
  }
}

/** Adds `--plain` and `--no-bell`. */
function withInteractiveOptions<T>(y: Argv<T>) {
  return withProfileOptions(y)
    .option("plain", {
      type: "boolean",
      default: false,
      describe: "Line mode on a terminal too (no full-screen UI)",
    })
    .option("bell", {
      type: "boolean",
      default: true,
      describe: "Ring the terminal bell for a message out of view or mentioning you (--no-bell, or SMSG_NO_BELL=1)",
    });
}

/** Mounts `open CHAT` and the default command (`smsg` alone). */
export function interactiveCommands<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y
    .command(
      "$0",
      "Interactive mode: the full-screen UI on a terminal (--plain: live messages and a prompt)",
      (a) => withInteractiveOptions(a),
      (argv) => runCommand(() => interactive(argv as InteractiveArgs)),
    )
    .command(
      "open <chat>",
      "Interactive mode in CHAT: the full-screen UI with CHAT open (--plain: line mode, /help for commands)",
      (a) =>
        withInteractiveOptions(a).positional("chat", {
          type: "string",
          demandOption: true,
          describe: "Chat id, chat name, or a user",
        }),
      (argv) => runCommand(() => interactive(argv as InteractiveArgs)),
    );
}
