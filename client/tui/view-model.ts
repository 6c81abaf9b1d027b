/**
 * The terminal UI's view model: `update(state, action)` returns the next state and the effects
 * the controller (controller.ts) is to carry out (send, load a page, mark read, ring the bell,
 * run a slash command, quit). Pure: no store, no network, no terminal, no clock (times come in
 * actions), so every key binding and every engine event is tested on plain data.
 *
 * It keeps the engine's rules visible rather than enforcing them (the engine does): a chat
 * whose peer's key changed shows a banner and refuses to send from the input line until the
 * key is confirmed or accepted; gaps, undecryptable messages and group changes become lines in
 * their chat; a message is never dropped from a view.
 */
import type { ChatEventEvent, EngineEvent, GroupStateEvent } from "../engine/events.js";
import type { ListenStatus } from "../engine/listener.js";
import { chatEventText, departedText, deviceListText, gapLine, groupStateText } from "../commands/output.js";
import { displayText } from "../protocol/text-rules.js";
import type { ChatListItem, MessageRecord } from "../store/index.js";
import type { Key } from "./keys.js";
import { itemRows, messageRoom, openChat } from "./layout.js";
import { EMPTY_VIEW, type ChatEntry, type ChatView, type Item, type State } from "./state.js";
import { complete, edit, insert } from "./input-editing.js";

/** Something for the controller to do. */
export type Effect =
  /** Load the newest page of a chat (and its members) and mark it read. */
  | { readonly type: "load"; readonly chat: number }
  /** Load the page before local message id `before`. */
  | { readonly type: "loadOlder"; readonly chat: number; readonly before: number }
  | { readonly type: "markRead"; readonly chat: number; readonly upto: number }
  /** Mark everything in the chat read (it was opened with its view already loaded). */
  | { readonly type: "markAllRead"; readonly chat: number }
  /** Send `text`; report back with "sent" / "sendFailed" carrying `key`. */
  | { readonly type: "send"; readonly chat: number; readonly text: string; readonly key: string }
  /** A slash command other than /help and /quit. */
  | { readonly type: "command"; readonly name: string; readonly args: readonly string[] }
  | { readonly type: "bell" }
  /** Re-read the chat list from the store (a chat we do not know yet had activity). */
  | { readonly type: "refreshChats" }
  /** Quit: wait for sends in flight (unless `now`), restore the terminal, exit. */
  | { readonly type: "quit"; readonly now: boolean };

/** What can happen to the UI. */
export type Action =
  | { readonly type: "key"; readonly key: Key }
  | { readonly type: "engine"; readonly event: EngineEvent }
  | { readonly type: "status"; readonly status: ListenStatus; readonly now: number; readonly queued: number }
  | { readonly type: "queued"; readonly queued: number }
  | { readonly type: "tick"; readonly now: number }
  | { readonly type: "resize"; readonly cols: number; readonly rows: number }
  /** The chat list as the store has it (at start, after a refresh, after /open or /close). */
  | {
      readonly type: "chats";
      readonly chats: readonly ChatListItem[];
      readonly titles: Readonly<Record<number, string>>;
      /** Unread texts and mentions counted from the store's messages (else the store's unread count is taken). */
      readonly counts?: Readonly<Record<number, { readonly unread: number; readonly mentions: number }>>;
    }
  /** A page of a chat's history (oldest first); `older` when it goes before what is loaded. */
  | {
      readonly type: "page";
      readonly chat: number;
      readonly items: readonly Item[];
      readonly more: boolean;
      readonly older: boolean;
    }
  | { readonly type: "members"; readonly chat: number; readonly members: readonly string[] }
  | { readonly type: "names"; readonly names: Readonly<Record<string, string | null>> }
  /** Users whose key change is pending (at start, and after /verify changed it). */
  | { readonly type: "keyChanged"; readonly users: readonly string[] }
  /** Open this chat (after /open resolved it, or at start). */
  | { readonly type: "open"; readonly chat: number }
  /** The chat was closed here (/close): leave it. */
  | { readonly type: "left"; readonly chat: number }
  /** A send was acknowledged: by the key it was sent with, or (written earlier) by local id. */
  | {
      readonly type: "sent";
      readonly chat: number;
      readonly key?: string;
      readonly id: number;
      readonly ts: number;
    }
  /** A send did not reach the relay: `queued` when it stays in the outbox (sent on reconnect). */
  | {
      readonly type: "sendFailed";
      readonly chat: number;
      readonly key: string;
      readonly id: number | null;
      readonly queued: boolean;
      readonly reason: string;
    }
  /** Output for the user (a command's, a warning): in `chat`'s view, or the system view. */
  | { readonly type: "notice"; readonly chat: number | null; readonly text: string; readonly warn: boolean }
  | { readonly type: "quitting" };

/** The next state and what to do. */
export interface Update {
  readonly state: State;
  readonly effects: readonly Effect[];
}

/** Lines kept per view at most: older ones are dropped from memory (PageUp loads them again). */
export const MAX_VIEW_ITEMS = 2000;

/** True when `body` mentions `me`: "@me" not inside a longer name (case as usernames are: ASCII-insensitive). */
export function mentions(body: string, me: string): boolean {
  const re = /@([A-Za-z0-9][A-Za-z0-9_.-]*)/g;
  for (const m of body.matchAll(re)) {
    const name = m[1]!.replace(/[.-]+$/, "").replace(/[A-Z]/g, (c) => c.toLowerCase());
    const before = m.index === 0 ? "" : body[m.index - 1]!;
    if (name === me && !/[A-Za-z0-9_.-]/.test(before)) return true;
  }
  return false;
}

/** A stored message as an item of a view. */
export function itemOfRecord(m: MessageRecord, me: string, keyChanged: boolean): Item {
  const body = m.body === null ? "" : displayText(m.body);
  return {
    kind: "message",
    key: `m${m.id}`,
    id: m.id,
    from: m.sender,
    ts: m.sentAt,
    senderTs: m.senderTs,
    body,
    out: m.direction === "out",
    status: m.status,
    keyChanged,
    mention: m.direction === "in" && mentions(body, me),
    note: "",
  };
}

/** The note shown after a message with an unusual sequence number. */
function seqNote(status: string, from: string): string {
  if (status === "late") return "  (arrived late)";
  if (status === "duplicate") return `  (⚠ ${from} reused a message number)`;
  if (status === "stale") return "  (⚠ out of order)";
  return "";
}

function viewOf(s: State, chat: number): ChatView {
  return s.views[chat] ?? EMPTY_VIEW;
}

function withView(s: State, chat: number, f: (v: ChatView) => ChatView): State {
  return { ...s, views: { ...s.views, [chat]: f(viewOf(s, chat)) } };
}

function withChat(s: State, chat: number, f: (c: ChatEntry) => ChatEntry): State {
  return { ...s, chats: s.chats.map((c) => (c.id === chat ? f(c) : c)) };
}

/** Newest activity first; a chat without messages by id. */
function ordered(chats: readonly ChatEntry[]): ChatEntry[] {
  return [...chats].sort((a, b) => b.activity - a.activity || a.id - b.id);
}

/** Adds `item` at the end of `chat`'s view if loaded (a view not loaded yet reads it from the store when opened). */
function append(s: State, chat: number | null, item: Item): State {
  if (chat === null || !s.chats.some((c) => c.id === chat)) return { ...s, system: [...s.system, item].slice(-200) };
  const v = viewOf(s, chat);
  if (!v.loaded) return s;
  if (item.kind === "message" && item.id !== null && v.items.some((i) => i.kind === "message" && i.id === item.id))
    return s;
  const items = [...v.items, item];
  const cut = items.length > MAX_VIEW_ITEMS ? items.slice(items.length - MAX_VIEW_ITEMS) : items;
  // Scrolled back: stay on the same rows (the new ones add below).
  const added = s.open === chat && v.scroll > 0 ? rowsOf(s, chat, [item]) : 0;
  return withView(s, chat, (x) => ({
    ...x,
    items: cut,
    more: x.more || cut.length < items.length,
    scroll: x.scroll > 0 ? x.scroll + added : 0,
  }));
}

/** Screen rows `items` take in `chat`'s pane. */
function rowsOf(s: State, chat: number, items: readonly Item[]): number {
  const { width } = messageRoom({ ...s, open: chat });
  let n = 0;
  for (const i of items) n += itemRows(i, width, s).length;
  return n;
}

function notice(s: State, chat: number | null, text: string, warn: boolean): State {
  const next = { ...s, serial: s.serial + 1 };
  return append(next, chat, { kind: "notice", key: `n${next.serial}`, text, warn });
}

/** The chat an engine event about a user belongs to: the direct chat with them. */
function directChatWith(s: State, user: string): number | null {
  return s.chats.find((c) => c.kind === "direct" && c.peer === user)?.id ?? null;
}

/** Opens `chat`: select it, show it, load it if needed, mark it read. */
function openIt(s: State, chat: number): Update {
  const entry = s.chats.find((c) => c.id === chat);
  if (!entry) return { state: s, effects: [{ type: "refreshChats" }] };
  const view = viewOf(s, chat);
  const next: State = withChat({ ...s, open: chat, selected: chat, pane: "chat", help: false }, chat, (c) => ({
    ...c,
    unread: 0,
    mentions: 0,
  }));
  return {
    state: withView(next, chat, (v) => ({ ...v, scroll: 0 })),
    effects: view.loaded ? [{ type: "markAllRead", chat }] : [{ type: "load", chat }],
  };
}

/** Handles an engine event. */
function onEngine(s: State, e: EngineEvent): Update {
  switch (e.type) {
    case "message": {
      const body = displayText(e.body);
      const mention = mentions(body, s.me);
      const item: Item = {
        kind: "message",
        key: `m${e.id}`,
        id: e.id,
        from: e.from,
        ts: e.ts,
        senderTs: e.senderTs,
        body,
        out: false,
        status: "delivered",
        keyChanged: e.keyChanged,
        mention,
        note: seqNote(e.seqStatus, e.from),
      };
      const known = s.chats.some((c) => c.id === e.chat);
      let next = append(s, e.chat, item);
      const inView = s.open === e.chat;
      next = withChat(next, e.chat, (c) => ({
        ...c,
        activity: Math.max(c.activity, e.id),
        unread: inView ? 0 : c.unread + 1,
        mentions: inView ? 0 : c.mentions + (mention ? 1 : 0),
      }));
      next = { ...next, chats: ordered(next.chats) };
      const effects: Effect[] = [];
      if (!known) effects.push({ type: "refreshChats" });
      if (inView) effects.push({ type: "markRead", chat: e.chat, upto: e.relayMsg });
      if (!inView || mention) effects.push({ type: "bell" });
      return { state: next, effects };
    }
    case "undecryptable": {
      const item: Item = {
        kind: "message",
        key: `m${e.id}`,
        id: e.id,
        from: e.from,
        ts: e.ts,
        senderTs: null,
        body: "",
        out: false,
        status: "undecryptable",
        keyChanged: false,
        mention: false,
        note: "",
        reason: displayText(e.reason),
      };
      const inView = s.open === e.chat;
      let next = append(s, e.chat, item);
      next = withChat(next, e.chat, (c) => ({
        ...c,
        activity: Math.max(c.activity, e.id),
        unread: inView ? 0 : c.unread + 1,
      }));
      return {
        state: { ...next, chats: ordered(next.chats) },
        effects: inView ? [{ type: "markRead", chat: e.chat, upto: e.relayMsg }] : [{ type: "bell" }],
      };
    }
    case "key_change": {
      const chat = e.chat ?? directChatWith(s, e.user);
      const next = s.keyChanged.includes(e.user) ? s : { ...s, keyChanged: [...s.keyChanged, e.user] };
      return {
        state: notice(
          next,
          chat,
          `⚠ ${e.user}'s identity key changed: nothing is sent to them until you check it (/verify ${e.user})`,
          true,
        ),
        effects: [{ type: "bell" }],
      };
    }
    case "gap":
      return { state: notice(s, e.chat, gapLine(e.from, e.missingFrom, e.missingTo, nameOf(s)), true), effects: [] };
    case "profile": {
      const next = { ...s, names: { ...s.names, [e.user]: e.displayName } };
      const chat = directChatWith(s, e.user);
      const called = e.displayName === null ? "(no display name)" : displayText(e.displayName);
      return {
        state: chat === null ? next : notice(next, chat, `${e.user} is now called ${called}`, false),
        effects: [],
      };
    }
    case "chat_event":
      return onChatEvent(s, e);
    case "group_state":
      return onGroupState(s, e);
    case "departed":
      // The chat stays readable; the chat list shows the departure once it is re-read.
      return { state: notice(s, e.chat, displayText(departedText(e)), true), effects: [{ type: "refreshChats" }] };
    case "device_list": {
      const warning = e.outcome !== "added" && e.outcome !== "removed";
      return {
        state: notice(s, e.own ? null : directChatWith(s, e.user), displayText(deviceListText(e)), warning),
        effects: warning ? [{ type: "bell" }] : [],
      };
    }
  }
}

function nameOf(s: State): (u: string) => string | null | undefined {
  return (u) => s.names[u];
}

function onChatEvent(s: State, e: ChatEventEvent): Update {
  let next = notice(s, e.chat, `relay: ${chatEventText(e)}`, e.event === "closed" || e.event === "removed");
  if (e.event === "closed" || e.event === "reopened")
    next = withChat(next, e.chat, (c) => ({ ...c, closed: e.event === "closed" }));
  const known = s.chats.some((c) => c.id === e.chat);
  return { state: next, effects: known ? [] : [{ type: "refreshChats" }] };
}

function onGroupState(s: State, e: GroupStateEvent): Update {
  const next = notice(
    { ...s, members: { ...s.members, [e.chat]: [...e.members] } },
    e.chat,
    displayText(groupStateText(e, nameOf(s))),
    e.bootstrap,
  );
  const known = s.chats.some((c) => c.id === e.chat);
  return {
    state: known ? withChat(next, e.chat, (c) => ({ ...c, title: displayText(e.name).replace(/\n/g, " ") })) : next,
    effects: known ? [] : [{ type: "refreshChats" }],
  };
}

/** The slash commands the input line knows (line mode's, client/commands/interactive.ts). */
export const SLASH_COMMANDS = ["/open", "/close", "/history", "/members", "/verify", "/help", "/quit", "/exit"];

/** Enter: open the chat under the list's cursor (input empty), run a command, or send. */
function enter(s: State): Update {
  const raw = s.input.text;
  const cleared = { ...s, input: { text: "", cursor: 0 } };
  if (raw.trim() === "") {
    if (s.selected !== null && (s.selected !== s.open || s.pane === "list")) return openIt(cleared, s.selected);
    return { state: s, effects: [] };
  }
  if (raw.startsWith("/") && !raw.startsWith("//")) {
    const [name, ...args] = raw.trim().split(/\s+/);
    switch (name) {
      case "/help":
        return { state: { ...cleared, help: true }, effects: [] };
      case "/quit":
      case "/exit":
        return { state: cleared, effects: [{ type: "quit", now: false }] };
      default:
        if (!SLASH_COMMANDS.includes(name!))
          return {
            state: { ...s, flash: `unknown command ${name}: /help lists them (//text sends a line starting with /)` },
            effects: [],
          };
        return { state: cleared, effects: [{ type: "command", name: name!, args }] };
    }
  }
  const chat = openChat(s);
  if (!chat)
    return { state: { ...s, flash: "no chat is open: choose one with Up/Down and Enter, or /open USER" }, effects: [] };
  if (chat.peer !== null && s.keyChanged.includes(chat.peer))
    return {
      state: {
        ...s,
        flash: `not sent: ${chat.peer}'s identity key changed (/verify, then /verify --confirm or --accept-new-key)`,
      },
      effects: [],
    };
  const text = raw.startsWith("//") ? raw.slice(1) : raw;
  const serial = s.serial + 1;
  const key = `t${serial}`;
  const now = s.now;
  const item: Item = {
    kind: "message",
    key,
    id: null,
    from: s.me,
    ts: now,
    senderTs: now,
    body: displayText(text),
    out: true,
    status: "pending",
    keyChanged: false,
    mention: false,
    note: "",
  };
  const next = append({ ...cleared, serial }, chat.id, item);
  return { state: next, effects: [{ type: "send", chat: chat.id, text, key }] };
}

/** Scrolls the open chat back (PageUp) or forward (PageDown) by a page. */
function page(s: State, back: boolean): Update {
  const chat = openChat(s);
  if (!chat || s.help) return { state: s, effects: [] };
  const view = viewOf(s, chat.id);
  const { height, total } = messageRoom(s);
  const step = Math.max(1, height - 1);
  const top = Math.max(0, total - height);
  const scroll = back ? Math.min(top, view.scroll + step) : Math.max(0, view.scroll - step);
  const next = withView(s, chat.id, (v) => ({ ...v, scroll }));
  // Near the top with older messages in the store: load the page before the first loaded message.
  const first = view.items.find((i) => i.kind === "message" && i.id !== null);
  if (back && view.more && !view.loading && top - scroll < step && first?.kind === "message" && first.id !== null)
    return {
      state: withView(next, chat.id, (v) => ({ ...v, loading: true })),
      effects: [{ type: "loadOlder", chat: chat.id, before: first.id }],
    };
  return { state: next, effects: [] };
}

/** Moves the list's cursor by `by`. */
function move(s: State, by: number): State {
  if (s.chats.length === 0) return s;
  const at = s.chats.findIndex((c) => c.id === s.selected);
  const to = Math.max(0, Math.min(s.chats.length - 1, (at < 0 ? 0 : at) + by));
  return { ...s, selected: s.chats[to]!.id, pane: "list" };
}

/** Handles a key press. */
function onKey(s0: State, key: Key): Update {
  // Any key but Ctrl-C disarms it; any key but Tab ends a completion; a key clears the flash message.
  const s: State = {
    ...s0,
    flash: null,
    interruptArmed: key.name === "interrupt" ? s0.interruptArmed : false,
    input: key.name === "tab" || !s0.input.completion ? s0.input : { text: s0.input.text, cursor: s0.input.cursor },
  };
  const input = s.input;
  const none = (state: State): Update => ({ state, effects: [] });
  if (s.quitting) {
    if (key.name === "interrupt") return { state: s, effects: [{ type: "quit", now: true }] };
    return none(s);
  }
  switch (key.name) {
    case "text":
      if (key.text === "?" && input.text === "") return none({ ...s, help: !s.help });
      return none({ ...s, input: insert(input, key.text) });
    case "help":
      return none({ ...s, help: !s.help });
    case "newline":
      return none({ ...s, input: insert(input, "\n") });
    case "enter":
      return enter(s);
    case "eof":
      if (input.text === "") return { state: s, effects: [{ type: "quit", now: false }] };
      return none({ ...s, input: edit(input, "delete") });
    case "backspace":
    case "delete":
    case "left":
    case "right":
    case "home":
    case "end":
    case "killLine":
    case "killWord":
      return none({ ...s, input: edit(input, key.name) });
    case "tab":
      return none(complete(s));
    case "up":
      return none(move(s, -1));
    case "down":
      return none(move(s, 1));
    case "nextUnread": {
      const at = s.chats.findIndex((c) => c.id === s.open);
      const order = [...s.chats.slice(at + 1), ...s.chats.slice(0, Math.max(0, at + 1))];
      const next = order.find((c) => c.unread > 0 && c.id !== s.open);
      if (!next) return none({ ...s, flash: "no unread messages" });
      return openIt(s, next.id);
    }
    case "pageUp":
      return page(s, true);
    case "pageDown":
      return page(s, false);
    case "escape": {
      if (s.help) return none({ ...s, help: false });
      const chat = openChat(s);
      const v = chat ? viewOf(s, chat.id) : undefined;
      if (chat && v && v.scroll > 0) return none(withView(s, chat.id, (x) => ({ ...x, scroll: 0 })));
      if (chat && s.pane === "chat") return none({ ...s, pane: "list" });
      return none(s);
    }
    case "interrupt":
      if (s0.interruptArmed) return { state: s, effects: [{ type: "quit", now: false }] };
      return none({
        ...s,
        interruptArmed: true,
        input: { text: "", cursor: 0 },
        flash: "press Ctrl-C again to quit",
      });
  }
}

/** The chat list from store rows (keeping unread and mention counts the UI counted). */
function onChats(
  s: State,
  rows: readonly ChatListItem[],
  titles: Readonly<Record<number, string>>,
  counts: Readonly<Record<number, { readonly unread: number; readonly mentions: number }>>,
): State {
  const chats = rows.map((r): ChatEntry => {
    const old = s.chats.find((c) => c.id === r.id);
    const counted = counts[r.id];
    return {
      id: r.id,
      kind: r.kind,
      title: titles[r.id] ?? `chat ${r.id}`,
      peer: r.peer,
      closed: r.closed,
      unread: r.id === s.open ? 0 : (counted?.unread ?? r.unread),
      mentions: r.id === s.open ? 0 : Math.max(counted?.mentions ?? 0, old?.mentions ?? 0),
      activity: Math.max(r.lastMessageId ?? 0, old?.activity ?? 0),
    };
  });
  const sorted = ordered(chats);
  const selected = sorted.some((c) => c.id === s.selected) ? s.selected : (sorted[0]?.id ?? null);
  return { ...s, chats: sorted, selected };
}

/** The reducer (see the file comment). */
export function update(s: State, a: Action): Update {
  switch (a.type) {
    case "key":
      return onKey(s, a.key);
    case "engine":
      return onEngine(s, a.event);
    case "status":
      return {
        state: {
          ...s,
          now: a.now,
          queued: a.queued,
          conn:
            a.status.state === "listening"
              ? { state: "connected" }
              : { state: "reconnecting", reason: a.status.reason, retryAt: a.now + a.status.retryInMs },
        },
        effects: [],
      };
    case "queued":
      return { state: { ...s, queued: a.queued }, effects: [] };
    case "tick":
      return { state: { ...s, now: a.now }, effects: [] };
    case "resize":
      return { state: { ...s, cols: a.cols, rows: a.rows }, effects: [] };
    case "chats":
      return { state: onChats(s, a.chats, a.titles, a.counts ?? {}), effects: [] };
    case "page": {
      const v = viewOf(s, a.chat);
      const have = new Set(v.items.map((i) => i.key));
      const fresh = a.items.filter((i) => !have.has(i.key));
      const next = withView(s, a.chat, (x) => ({
        ...x,
        items: a.older ? [...fresh, ...x.items] : mergeNewest(x.items, a.items),
        loaded: true,
        more: a.more,
        loading: false,
      }));
      return { state: next, effects: [] };
    }
    case "members":
      return { state: { ...s, members: { ...s.members, [a.chat]: [...a.members] } }, effects: [] };
    case "names":
      return { state: { ...s, names: { ...s.names, ...a.names } }, effects: [] };
    case "keyChanged":
      return { state: { ...s, keyChanged: [...a.users] }, effects: [] };
    case "open":
      return openIt(s, a.chat);
    case "left":
      return { state: { ...s, open: s.open === a.chat ? null : s.open, pane: "list" }, effects: [] };
    case "sent": {
      // Our own message is activity too: the chat moves up the list.
      const next = withChat(markSent(s, a), a.chat, (c) => ({ ...c, activity: Math.max(c.activity, a.id) }));
      return { state: { ...next, chats: ordered(next.chats) }, effects: [] };
    }
    case "sendFailed":
      return {
        state: withView(s, a.chat, (v) => ({
          ...v,
          items: v.items.map((i) =>
            i.key === a.key && i.kind === "message"
              ? { ...i, id: a.id ?? i.id, status: a.queued ? "pending" : "failed", reason: a.reason }
              : i,
          ),
        })),
        effects: [],
      };
    case "notice":
      return { state: notice(s, a.chat, a.text, a.warn), effects: [] };
    case "quitting":
      return { state: { ...s, quitting: true }, effects: [] };
  }
}

/** The newest page as loaded, and what the view had after it (arrived while it loaded), each once. */
function mergeNewest(have: readonly Item[], page: readonly Item[]): Item[] {
  const keys = new Set(page.map((i) => i.key));
  const ids = new Set(page.flatMap((i) => (i.kind === "message" && i.id !== null ? [i.id] : [])));
  const extra = have.filter((i) => !keys.has(i.key) && !(i.kind === "message" && i.id !== null && ids.has(i.id)));
  return [...page, ...extra];
}

function markSent(s: State, a: Extract<Action, { type: "sent" }>): State {
  return withView(s, a.chat, (v) => ({
    ...v,
    items: v.items.map((i) =>
      i.kind === "message" && ((a.key !== undefined && i.key === a.key) || (i.id === a.id && i.out))
        ? { ...i, id: a.id, status: "sent", ts: a.ts }
        : i,
    ),
  }));
}
