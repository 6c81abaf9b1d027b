/**
 * Between the engine and the terminal UI's view model: engine events, connection status and
 * send results become actions (ui-store.ts), and the view model's effects are carried out with
 * the engine and the local store (interactive session, history pages, read marks, slash
 * commands). The slash commands do what line mode's do (client/commands/interactive.ts), with
 * their output as lines in the open chat.
 */
import { UsageError } from "../../src/errors.js";
import { normalizeUsername } from "../../src/wire/username.js";
import { displayNameOf } from "../commands/common.js";
import { errorSentence } from "../commands/exit.js";
import { flaggedByKeyChange, gapsBefore, visibleHistory } from "../commands/history.js";
import { gapLine } from "../commands/output.js";
import { findOrOpenChat, setChatClosed } from "../engine/chats.js";
import { KeyChangedError, QueuedOfflineError, UserUnknownError } from "../engine/errors.js";
import { InteractiveSession } from "../engine/interactive.js";
import type { Account } from "../engine/open-account.js";
import { acceptNewIdentity, checkIdentity, confirmIdentity, safetyNumbersWith } from "../engine/sessions.js";
import { displayText, senderLabel } from "../protocol/text-rules.js";
import { type ChatRecord, ChatNotFoundError, MAX_HISTORY_PAGE } from "../store/index.js";
import type { Item } from "./state.js";
import type { UiStore } from "./ui-store.js";
import { type Effect, itemOfRecord, mentions } from "./view-model.js";

/** Messages loaded per page (opening a chat, PageUp). */
export const PAGE_SIZE = 50;

/** How a chat is named in the list (as line mode names it). */
export function chatTitle(c: ChatRecord): string {
  if (c.name !== null) return displayText(c.name).replace(/\n/g, " ");
  return c.peer ?? `chat ${c.id}`;
}

/** Options of the controller. */
export interface ControllerOptions {
  /** Ring the terminal bell (undefined: never). */
  readonly bell?: () => void;
  /** Passed on to the listener (tests). */
  readonly minBackoffMs?: number;
}

/** How a quit ended: how many messages stay queued for the next run. */
export interface QuitResult {
  readonly queued: number;
}

/** Runs one terminal UI session of `acct` (see the file comment). */
export class TuiController {
  readonly session: InteractiveSession;
  private readonly names: (u: string) => string | null | undefined;
  private quitting = false;
  private resolveQuit: (r: QuitResult) => void = () => undefined;
  private readonly quit = new Promise<QuitResult>((resolve) => (this.resolveQuit = resolve));
  private ticker: NodeJS.Timeout | undefined;
  /** Commands run one at a time, in the order typed. */
  private commands: Promise<void> = Promise.resolve();

  constructor(
    private readonly acct: Account,
    private readonly store: UiStore,
    private readonly opts: ControllerOptions = {},
  ) {
    this.names = displayNameOf(acct);
    store.onEffect = (e) => this.run(e);
    this.loadLocal();
    this.session = new InteractiveSession(acct, {
      onEvent: (event) => {
        if (event.type === "chat_event") this.refreshChats();
        store.dispatch({ type: "engine", event });
        if (
          event.type === "chat_event" &&
          (event.event === "added" || event.event === "removed" || event.event === "left")
        )
          this.loadMembers(event.chat);
      },
      onSent: (s) => {
        store.dispatch({ type: "sent", chat: s.chat, id: s.id, ts: s.ts });
        store.dispatch({ type: "queued", queued: this.queuedCount() });
      },
      onStatus: (status) => {
        this.syncedOnce(status.state === "listening");
        store.dispatch({ type: "status", status, now: Date.now(), queued: this.queuedCount() });
        this.tickWhile(status.state === "disconnected");
      },
      onWarning: (e) =>
        store.dispatch({ type: "notice", chat: null, text: `warning: ${errorSentence(e)}`, warn: true }),
      ...(opts.minBackoffMs !== undefined ? { minBackoffMs: opts.minBackoffMs } : {}),
    });
  }

  /** What the UI shows before the relay answers: chats, names, pending key changes, queued messages. */
  private loadLocal(): void {
    const contacts = this.acct.store.contacts.list();
    const names: Record<string, string | null> = { [this.acct.username]: this.acct.displayName };
    for (const c of contacts) names[c.username] = c.displayName;
    this.store.dispatch({ type: "names", names });
    this.store.dispatch({ type: "keyChanged", users: contacts.filter((c) => c.keyChanged).map((c) => c.username) });
    this.refreshChats();
    this.store.dispatch({ type: "queued", queued: this.queuedCount() });
  }

  private refreshChats(): void {
    if (!this.acct.store.isOpen) return;
    const chats = this.acct.store.chats.list({ includeClosed: true });
    const titles: Record<number, string> = {};
    const counts: Record<number, { unread: number; mentions: number }> = {};
    for (const c of chats) {
      titles[c.id] = chatTitle(c);
      if (c.unread > 0) counts[c.id] = this.unreadOf(c);
    }
    this.store.dispatch({ type: "chats", chats, titles, counts });
  }

  /**
   * Unread messages of `chat` as the UI counts them: texts and undecryptable messages from
   * others past the read mark (the store's count also has key hand-overs and other control
   * rows), and how many of them mention us. Looks at the newest MAX_HISTORY_PAGE at most.
   */
  private unreadOf(chat: ChatRecord & { unread: number }): { unread: number; mentions: number } {
    const page = visibleHistory(this.acct, chat.id, Math.min(MAX_HISTORY_PAGE, chat.unread));
    const unread = page.messages.filter(
      (m) => m.direction === "in" && m.relayMsgId !== null && m.relayMsgId > chat.lastReadMsg,
    );
    const me = this.acct.username;
    return {
      unread: unread.length,
      mentions: unread.filter((m) => m.body !== null && mentions(displayText(m.body), me)).length,
    };
  }

  /** Texts waiting to be sent: outbox entries carrying a message, and group texts stored offline. */
  private queuedCount(): number {
    if (!this.acct.store.isOpen) return 0;
    const ids = new Set(this.acct.store.outbox.list().flatMap((o) => (o.messageId === null ? [] : [o.messageId])));
    return ids.size + this.acct.store.messages.deferredTexts().length;
  }

  /** A countdown in the status bar while disconnected (one redraw of that row a second). */
  private tickWhile(on: boolean): void {
    if (on && !this.ticker) {
      this.ticker = setInterval(() => this.store.dispatch({ type: "tick", now: Date.now() }), 1000);
      this.ticker.unref();
    } else if (!on && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  /** Opens `arg` (a chat id, name or user) at start; throws what resolving it throws. */
  async openArg(arg: string): Promise<void> {
    let chat: ChatRecord;
    try {
      chat = await this.resolveChat(arg);
    } catch (e) {
      // A group's name is end-to-end encrypted: a group we were added to while away is known by
      // name only once the listener's first sync brought its signed state. Look again then.
      if (!(e instanceof ChatNotFoundError || e instanceof UserUnknownError)) throw e;
      if (!(await this.firstSync)) throw e;
      try {
        chat = this.acct.store.resolveChat(arg);
      } catch {
        throw e;
      }
    }
    this.refreshChats();
    this.store.dispatch({ type: "open", chat: chat.id });
  }

  private syncedOnce: (ok: boolean) => void = () => undefined;
  /** True once the listener connected (and synced) the first time; false when its first try failed. */
  private readonly firstSync = new Promise<boolean>((resolve) => (this.syncedOnce = resolve));

  /** Opens the chat with the newest activity, if there is one. */
  openNewest(): void {
    const first = this.store.getState().chats[0];
    if (first) this.store.dispatch({ type: "open", chat: first.id });
  }

  /**
   * Resolves when the user quits (after sends in flight settled), rejects when the listener
   * stops for good (login refused, a damaged store).
   */
  async finished(): Promise<QuitResult> {
    return Promise.race([this.quit, this.session.finished.then(() => this.quit)]);
  }

  /** Stops listening and closes the connections (waits for sends in flight). */
  async close(): Promise<void> {
    this.tickWhile(false);
    await this.commands.catch(() => undefined);
    await this.session.close();
  }

  private notice(text: string, warn = false): void {
    this.store.dispatch({ type: "notice", chat: this.store.getState().open, text, warn });
  }

  /** Carries out one effect of the view model. */
  private run(e: Effect): void {
    switch (e.type) {
      case "bell":
        this.opts.bell?.();
        return;
      case "markRead":
        if (this.acct.store.isOpen) this.acct.store.chats.markRead(e.chat, e.upto);
        return;
      case "markAllRead":
        this.markAllRead(e.chat);
        return;
      case "refreshChats":
        this.refreshChats();
        return;
      case "load":
        this.loadPage(e.chat, undefined);
        this.loadMembers(e.chat);
        return;
      case "loadOlder":
        this.loadPage(e.chat, e.before);
        return;
      case "send":
        this.send(e.chat, e.text, e.key);
        return;
      case "command":
        this.commands = this.commands
          .then(() => this.command(e.name, e.args))
          .catch((err: unknown) => this.notice(errorSentence(err), true));
        return;
      case "quit":
        void this.quitNow(e.now);
        return;
    }
  }

  /** Quits as /quit does (`now`: without waiting for sends in flight). */
  requestQuit(now: boolean): void {
    void this.quitNow(now);
  }

  /** The user quit without waiting for sends in flight (a second Ctrl-C while waiting). */
  get leftNow(): boolean {
    return this.quitNowAsked;
  }

  private quitNowAsked = false;

  private async quitNow(now: boolean): Promise<void> {
    if (now) this.quitNowAsked = true;
    if (this.quitting && !now) return;
    if (!this.quitting) {
      this.quitting = true;
      this.store.dispatch({ type: "quitting" });
      if (!now) await Promise.race([this.session.settled(), this.quit.then(() => undefined)]);
    }
    this.resolveQuit({ queued: this.queuedCount() });
  }

  /** A page of `chat` (the newest, or the one before local id `before`), with its gaps, into the view. */
  private loadPage(chat: number, before: number | undefined, limit = PAGE_SIZE): void {
    const record = this.acct.store.chats.get(chat);
    if (!record) return;
    const page = visibleHistory(this.acct, chat, limit, before);
    const gaps = gapsBefore(page.messages, !page.more, undefined, this.acct.deviceId);
    const items: Item[] = [];
    for (const m of page.messages) {
      const gap = gaps.get(m.id);
      if (gap)
        items.push({
          kind: "notice",
          key: `g${m.id}`,
          text: gapLine(m.sender, gap[0], gap[1], this.names),
          warn: true,
        });
      items.push(itemOfRecord(m, this.acct.username, flaggedByKeyChange(this.acct, record, m)));
    }
    this.store.dispatch({ type: "page", chat, items, more: page.more, older: before !== undefined });
    if (before === undefined) this.markAllRead(chat);
  }

  /** Moves `chat`'s read mark over its newest incoming message. */
  private markAllRead(chat: number): void {
    if (!this.acct.store.isOpen) return;
    const page = this.acct.store.messages.history(chat, { limit: PAGE_SIZE });
    const newestIn = Math.max(
      0,
      ...page.messages.filter((m) => m.direction === "in" && m.relayMsgId !== null).map((m) => m.relayMsgId!),
    );
    if (newestIn > 0) this.acct.store.chats.markRead(chat, newestIn);
  }

  private members(chat: ChatRecord): { username: string; role: string }[] {
    const list = this.acct.store.members.list(chat.id).map((m) => ({ username: m.username, role: m.role as string }));
    if (list.length === 0 && chat.peer !== null)
      return [this.acct.username, chat.peer].sort().map((u) => ({ username: u, role: "member" }));
    return list;
  }

  private loadMembers(chat: number): void {
    const record = this.acct.store.isOpen ? this.acct.store.chats.get(chat) : undefined;
    if (record) this.store.dispatch({ type: "members", chat, members: this.members(record).map((m) => m.username) });
  }

  private send(chatId: number, text: string, key: string): void {
    const chat = this.acct.store.chats.get(chatId);
    if (!chat) return;
    this.session.send(chat, text).then(
      (r) => {
        this.store.dispatch({ type: "sent", chat: chatId, key, id: r.queued.messageId, ts: r.sent.ts });
        // What the send learnt on the way (a contact's device list changed, refused, …), shown as `smsg send` warns of it.
        for (const event of r.events ?? []) this.store.dispatch({ type: "engine", event });
        for (const w of r.warnings ?? []) this.store.dispatch({ type: "notice", chat: chatId, text: w, warn: true });
      },
      (err: unknown) => {
        const queued = err instanceof QueuedOfflineError;
        this.store.dispatch({
          type: "sendFailed",
          chat: chatId,
          key,
          id: queued ? err.messageId : null,
          queued,
          reason: queued ? "(queued: sent when the relay answers)" : errorSentence(err),
        });
        if (err instanceof KeyChangedError) this.refreshKeyChanges();
        if (!queued) this.store.dispatch({ type: "notice", chat: chatId, text: errorSentence(err), warn: true });
        this.store.dispatch({ type: "queued", queued: this.queuedCount() });
      },
    );
  }

  private refreshKeyChanges(): void {
    const users = this.acct.store.contacts
      .list()
      .filter((c) => c.keyChanged)
      .map((c) => c.username);
    this.store.dispatch({ type: "keyChanged", users });
  }

  /** The chat `arg` names: known here, known to the relay, or a user to open a direct chat with. */
  private async resolveChat(arg: string): Promise<ChatRecord> {
    try {
      return this.acct.store.resolveChat(arg);
    } catch (e) {
      if (!(e instanceof ChatNotFoundError)) throw e;
    }
    return this.session.withRelay(async (relay) => {
      try {
        const opened = await findOrOpenChat(this.acct, relay, arg);
        if (opened.pinnedNow)
          this.store.dispatch({
            type: "notice",
            chat: null,
            text: `${opened.chat.peer}'s identity key is pinned now; compare safety numbers with /verify`,
            warn: false,
          });
        return opened.chat;
      } catch (err) {
        if (!(err instanceof KeyChangedError)) throw err;
        this.refreshKeyChanges();
        return this.acct.store.resolveChat(arg);
      }
    });
  }

  private openRecord(): ChatRecord {
    const open = this.store.getState().open;
    const chat = open === null ? undefined : this.acct.store.chats.get(open);
    if (!chat) throw new UsageError("no chat is open: /open CHAT first");
    return chat;
  }

  /** A slash command (the view model handles /help and /quit itself). */
  private async command(name: string, args: readonly string[]): Promise<void> {
    await this.session.settled(); // commands see the effect of every line typed before them
    switch (name) {
      case "/open": {
        if (args.length === 0) throw new UsageError("say which chat: /open CHAT");
        const chat = await this.resolveChat(args.join(" "));
        this.refreshChats();
        this.store.dispatch({ type: "open", chat: chat.id });
        if (chat.closed) this.notice("this chat is closed: smsg chat reopen to write again");
        return;
      }
      case "/close": {
        const chat = this.openRecord();
        const after = await this.session.withRelay((relay) => setChatClosed(this.acct, relay, chat, true));
        this.notice(`chat ${after.id} closed (smsg chat reopen ${after.id} reopens it)`);
        this.refreshChats();
        this.store.dispatch({ type: "left", chat: chat.id });
        return;
      }
      case "/history": {
        const chat = this.openRecord();
        const n = args[0] === undefined ? 20 : Number(args[0]);
        if (!Number.isInteger(n) || n < 1 || n > MAX_HISTORY_PAGE)
          throw new UsageError(`/history takes a number 1..${MAX_HISTORY_PAGE}`);
        this.loadPage(chat.id, undefined, Math.max(n, PAGE_SIZE));
        this.notice(`the last ${n} messages are above (PageUp scrolls back)`);
        return;
      }
      case "/members": {
        const chat = this.openRecord();
        const list = this.members(chat);
        this.notice(
          `members: ${list
            .map((m) => {
              const label = senderLabel(m.username, this.names(m.username) ?? undefined);
              const role = m.role === "member" ? "" : ` (${m.role})`;
              return `${label}${role}${m.username === this.acct.username ? " (you)" : ""}`;
            })
            .join(", ")}`,
        );
        return;
      }
      case "/verify":
        return this.verify(args);
    }
  }

  /** `/verify [USER] [--confirm | --accept-new-key]` (as `smsg verify`). */
  private async verify(args: readonly string[]): Promise<void> {
    const flags = args.filter((a) => a.startsWith("--"));
    const users = args.filter((a) => !a.startsWith("--"));
    for (const f of flags)
      if (f !== "--confirm" && f !== "--accept-new-key")
        throw new UsageError(`/verify takes --confirm or --accept-new-key, not ${f}`);
    if (flags.length > 1) throw new UsageError("give --confirm or --accept-new-key, not both");
    const user = users[0] !== undefined ? normalizeUsername(users[0]) : this.openRecord().peer;
    if (user === null) throw new UsageError("say whom: /verify USER");
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
    if (flags[0] === "--confirm") {
      confirmIdentity(this.acct.store, user);
      this.refreshKeyChanges();
      this.notice(`${user} is verified: sending to them works again`);
      return;
    }
    if (flags[0] === "--accept-new-key") {
      if (!contact.keyChanged) throw new UsageError(`${user}'s key has not changed; nothing to accept`);
      acceptNewIdentity(this.acct.store, user);
      this.refreshKeyChanges();
      this.notice(`${user}'s new key is accepted (not verified): sending to them works again`);
      return;
    }
    const numbers = safetyNumbersWith(this.acct, contact);
    const head =
      numbers.pending !== null
        ? `⚠ ${user}'s identity key CHANGED. Safety number with the NEW key:`
        : `Safety number with ${user}${contact.verified ? " (verified)" : ""}:`;
    this.notice(head, numbers.pending !== null);
    for (const l of (numbers.pending ?? numbers.pinned).split("\n")) this.notice(l);
    this.notice(`If it matches what ${user} sees: /verify ${user} --confirm`);
  }
}
