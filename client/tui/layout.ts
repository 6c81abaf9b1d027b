/**
 * The screen of the terminal UI as rows of styled text, from the state alone (pure). Every row
 * is exactly `cols` cells wide (text-width.ts measures wide characters, emoji and combining
 * marks), so the renderer only draws them. A wide terminal shows the chat list left and the
 * open chat right; a narrow or low one shows one of the two; one too small for either shows a
 * single line asking for more room.
 */
import { messageTime } from "../commands/output.js";
import { senderLabel } from "../protocol/text-rules.js";
import type { ChatEntry, ChatView, InputState, Item, State } from "./state.js";
import { cellWidth, fitCells, graphemes, truncateCells, wrapCells } from "./text-width.js";

/** How a piece of a row is drawn (app.ts maps these to colours). */
export type Style =
  "plain" | "dim" | "bold" | "warn" | "mention" | "self" | "selected" | "header" | "status" | "statusWarn" | "cursor";

/** A piece of a row. */
export interface Segment {
  readonly text: string;
  readonly style: Style;
}

/** One screen row. */
export type Row = readonly Segment[];

/** Narrower than this, or lower than MIN_SPLIT_ROWS, shows one pane. */
export const MIN_SPLIT_COLS = 60;
export const MIN_SPLIT_ROWS = 8;
/** Lower than this (screen rows) or narrower shows only "enlarge the terminal". */
const MIN_ROWS = 4;
const MIN_COLS = 16;
/** At most this many rows of input are shown (the rest scrolls with the cursor). */
const MAX_INPUT_ROWS = 4;

/** Where everything goes. */
export interface Geometry {
  readonly cols: number;
  /** Screen rows drawn (the terminal's rows). */
  readonly height: number;
  readonly tooSmall: boolean;
  /** Both panes side by side. */
  readonly split: boolean;
  /** Cells of the chat list (0 without split). */
  readonly listWidth: number;
  /** Cells of the message pane (or of the one pane). */
  readonly paneWidth: number;
  /** Rows between the header and the status bar. */
  readonly bodyHeight: number;
  readonly inputRows: number;
}

/** The geometry of `s`'s screen. */
export function geometry(s: State): Geometry {
  const cols = Math.max(1, s.cols);
  const height = Math.max(1, s.rows);
  const tooSmall = height < MIN_ROWS || cols < MIN_COLS;
  const split = !tooSmall && cols >= MIN_SPLIT_COLS && height >= MIN_SPLIT_ROWS;
  const listWidth = split ? Math.min(28, Math.max(16, Math.floor(cols / 4))) : 0;
  const paneWidth = split ? cols - listWidth - 2 : cols; // "│ " between the panes
  // Header, status bar and at least one body row come first.
  const inputRows = tooSmall ? 0 : Math.min(MAX_INPUT_ROWS, inputLines(s.input, cols).length, height - 3);
  const bodyHeight = tooSmall ? 0 : Math.max(1, height - 2 - inputRows);
  return { cols, height, tooSmall, split, listWidth, paneWidth, bodyHeight, inputRows };
}

/** `HH:MM` local time. */
function hhmm(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** How a delivery state is shown after one of our messages. */
function deliveryMark(status: string, reason: string | undefined): string {
  switch (status) {
    case "pending":
      return reason ? ` … ${reason}` : " … (sending)";
    case "sent":
      return " ✓";
    case "failed":
      return ` ✗ not sent${reason ? `: ${reason}` : ""}`;
    default:
      return "";
  }
}

/** `head` then `body` wrapped into rows of `width`: the head styled `headStyle` (when it fits the first row), the rest `bodyStyle`. */
function wrapped(head: string, body: string, width: number, headStyle: Style, bodyStyle: Style): Row[] {
  return wrapCells(head + body, width).map((line, i) => {
    const h = i === 0 && head !== "" && line.startsWith(head) ? head : "";
    return h === ""
      ? [{ text: line, style: bodyStyle }]
      : [
          { text: h, style: headStyle },
          { text: line.slice(h.length), style: bodyStyle },
        ];
  });
}

/** The rows of one item of a chat's view, `width` cells wide at most. */
export function itemRows(item: Item, width: number, s: Pick<State, "names">): Row[] {
  if (item.kind === "notice") return wrapped("", `-- ${item.text}`, width, "dim", item.warn ? "warn" : "dim");
  const label = senderLabel(item.from, s.names[item.from] ?? undefined);
  const head = `${messageTime(item.senderTs, item.ts, hhmm)} ${label}: `;
  if (item.status === "undecryptable")
    return wrapped(
      head,
      `⚠ this message could not be read (${item.reason ?? "could not decrypt"})`,
      width,
      "bold",
      "warn",
    );
  const flags = `${item.keyChanged ? "  (⚠ sent with an unverified new key)" : ""}${item.note}`;
  const body = item.body + (item.out ? deliveryMark(item.status, item.reason) : "") + flags;
  const bodyStyle = item.mention ? "mention" : item.status === "failed" || item.keyChanged ? "warn" : "plain";
  return wrapped(head, body, width, item.out ? "self" : "bold", bodyStyle);
}

/** Every row of a chat's view at `width`, oldest first. */
export function viewRows(view: ChatView, width: number, s: Pick<State, "names">): Row[] {
  const rows: Row[] = [];
  if (view.more) rows.push([{ text: "-- older messages: PageUp", style: "dim" }]);
  else if (view.loaded) rows.push([{ text: "-- start of the chat", style: "dim" }]);
  for (const item of view.items) rows.push(...itemRows(item, width, s));
  return rows;
}

/** The banner of a chat whose peer's identity key changed, or undefined. */
export function keyChangeBanner(s: State, chat: ChatEntry): string | undefined {
  const users = chat.peer !== null ? [chat.peer].filter((u) => s.keyChanged.includes(u)) : [];
  if (users.length === 0) return undefined;
  const u = users[0]!;
  return (
    `⚠ ${u}'s identity key changed. Sending is blocked until you compare safety numbers (/verify) ` +
    "and confirm them (/verify --confirm) or take the new key (/verify --accept-new-key)."
  );
}

/** The open chat's entry, if any. */
export function openChat(s: State): ChatEntry | undefined {
  return s.open === null ? undefined : s.chats.find((c) => c.id === s.open);
}

/** The rows of the open chat's pane (banner on top, newest at the bottom), exactly `height` rows. */
function paneRows(s: State, width: number, height: number): Row[] {
  if (s.help)
    return fill(
      HELP.flatMap((l) => wrapCells(l, width).map((t): Row => [{ text: t, style: "plain" }])),
      height,
      width,
      true,
    );
  const chat = openChat(s);
  if (!chat) {
    const intro: Row[] = [
      [{ text: "No chat is open.", style: "bold" }],
      [{ text: "Up/Down (Ctrl-P/Ctrl-N) choose a chat, Enter opens it.", style: "plain" }],
      [{ text: "/open USER starts a direct chat; ? or F1 lists the keys.", style: "plain" }],
    ];
    const sys = s.system.flatMap((i) => itemRows(i, width, s));
    return fill([...intro, ...sys.slice(-Math.max(0, height - intro.length))], height, width, true);
  }
  const banner = keyChangeBanner(s, chat);
  const top: Row[] = banner ? wrapCells(banner, width).map((t) => [{ text: t, style: "warn" as Style }]) : [];
  const room = Math.max(0, height - top.length);
  const view = s.views[chat.id];
  const all = view ? viewRows(view, width, s) : [[{ text: "loading…", style: "dim" as Style }]];
  const scroll = view ? Math.min(view.scroll, Math.max(0, all.length - room)) : 0;
  const end = all.length - scroll;
  const shown = all.slice(Math.max(0, end - room), end);
  if (scroll > 0 && shown.length > 0)
    shown[shown.length - 1] = [{ text: `-- ${scroll} rows below: PageDown, Esc returns to the newest`, style: "dim" }];
  return [...top, ...fill(shown, room, width, false)];
}

/** `rows` cut or padded (blank rows on top, or at the bottom when `topAligned`) to `height`, each `width` cells. */
function fill(rows: Row[], height: number, width: number, topAligned: boolean): Row[] {
  const fitted = rows.slice(topAligned ? 0 : Math.max(0, rows.length - height)).slice(0, height);
  const blank: Row = [{ text: " ".repeat(width), style: "plain" }];
  const pad = Array.from({ length: height - fitted.length }, () => blank);
  const body = fitted.map((r) => fitRow(r, width));
  return topAligned ? [...body, ...pad] : [...pad, ...body];
}

/** `row` cut or padded to exactly `width` cells. */
export function fitRow(row: Row, width: number): Row {
  const out: Segment[] = [];
  let used = 0;
  for (const seg of row) {
    if (used >= width) break;
    const w = cellWidth(seg.text);
    const text = used + w > width ? truncateCells(seg.text, width - used) : seg.text;
    if (text !== "") out.push({ text, style: seg.style });
    used += cellWidth(text);
  }
  if (used < width) out.push({ text: " ".repeat(width - used), style: out.at(-1)?.style ?? "plain" });
  return out;
}

/** One row of the chat list. */
function listRow(s: State, c: ChatEntry, width: number): Row {
  const marks = `${c.mentions > 0 ? " @" : ""}${c.unread > 0 ? ` ${c.unread}` : ""}${c.closed ? " (closed)" : ""}`;
  const kind = c.kind === "group" ? "#" : " ";
  const titleWidth = Math.max(1, width - 1 - cellWidth(marks) - 1);
  const text = ` ${kind}${fitCells(c.title, titleWidth - 1)}${marks}`;
  const style: Style =
    c.id === s.selected ? "selected" : c.mentions > 0 ? "mention" : c.unread > 0 ? "bold" : c.closed ? "dim" : "plain";
  const head: Segment = { text: c.id === s.open ? "▸" : " ", style: c.id === s.selected ? "selected" : "bold" };
  return fitRow([head, { text: text.slice(1), style }], width);
}

/** The chat list, exactly `height` rows (scrolled so the selected chat shows). */
function listRows(s: State, width: number, height: number): Row[] {
  if (s.chats.length === 0)
    return fill(
      [[{ text: " no chats yet", style: "dim" }], [{ text: " /open USER", style: "dim" }]],
      height,
      width,
      true,
    );
  const at = Math.max(
    0,
    s.chats.findIndex((c) => c.id === s.selected),
  );
  const first = Math.max(0, Math.min(at - height + 1, s.chats.length - height));
  return fill(
    s.chats.slice(first, first + height).map((c) => listRow(s, c, width)),
    height,
    width,
    true,
  );
}

/** The status bar: connection, queued messages, the flash message, the help hint. */
function statusRow(s: State, width: number): Row {
  let conn: string;
  let why = "";
  let style: Style = "status";
  switch (s.conn.state) {
    case "connecting":
      conn = `connecting to ${s.relay}…`;
      break;
    case "connected":
      conn = `connected as @${s.me} to ${s.relay}`;
      break;
    case "reconnecting": {
      const secs = Math.max(0, Math.ceil((s.conn.retryAt - s.now) / 1000));
      conn = `offline: reconnecting in ${secs} s`;
      why = ` (${s.conn.reason})`;
      style = "statusWarn";
    }
  }
  const queued = s.queued > 0 ? ` · ${s.queued} queued` : "";
  const flash = s.quitting ? " · quitting: waiting for messages being sent…" : s.flash ? ` · ${s.flash}` : "";
  const hint = " ? help ";
  const left = truncateCells(` ${conn}${queued}${flash}${why}`, Math.max(0, width - hint.length));
  return fitRow(
    [
      { text: fitCells(left, Math.max(0, width - hint.length)), style },
      { text: hint, style },
    ],
    width,
  );
}

/**
 * The input text as display lines of `width` cells (after the prompt), with the cursor's line
 * and cell: hard-wrapped at grapheme clusters, "\n" starting a line.
 */
export function inputLines(input: InputState, width: number): { text: string; cursorAt: number | null }[] {
  const room = Math.max(1, width - 2);
  const lines: { text: string; cursorAt: number | null }[] = [{ text: "", cursorAt: null }];
  let w = 0;
  let i = 0;
  for (const g of graphemes(input.text)) {
    const line = lines[lines.length - 1]!;
    if (i === input.cursor) line.cursorAt = w;
    i += g.length;
    if (g === "\n") {
      lines.push({ text: "", cursorAt: null });
      w = 0;
      continue;
    }
    const gw = cellWidth(g);
    if (w + gw > room) {
      lines.push({ text: g, cursorAt: null });
      w = gw;
      if (i - g.length === input.cursor) {
        line.cursorAt = null;
        lines[lines.length - 1]!.cursorAt = 0;
      }
      continue;
    }
    line.text += g;
    w += gw;
  }
  if (input.cursor >= input.text.length) {
    const last = lines[lines.length - 1]!;
    if (w >= room) lines.push({ text: "", cursorAt: 0 });
    else last.cursorAt = w;
  }
  return lines;
}

/** The input rows: prompt, text, the cursor as an inverted cell; the rows around the cursor when it is long. */
function inputRows(s: State, width: number, count: number): Row[] {
  const lines = inputLines(s.input, width);
  const cursorLine = Math.max(
    0,
    lines.findIndex((l) => l.cursorAt !== null),
  );
  const first = Math.max(0, Math.min(cursorLine - count + 1, lines.length - count));
  const chat = openChat(s);
  const prompt = chat && keyChangeBanner(s, chat) ? "! " : chat?.closed ? "x " : "> ";
  return lines.slice(first, first + count).map((l, n) => {
    const lead: Segment = { text: n + first === 0 ? prompt : "  ", style: "bold" };
    if (l.cursorAt === null) return fitRow([lead, { text: l.text, style: "plain" }], width);
    const gs = graphemes(l.text);
    let acc = 0;
    let k = 0;
    while (k < gs.length && acc < l.cursorAt) acc += cellWidth(gs[k++]!);
    const under = gs[k] ?? " ";
    return fitRow(
      [
        lead,
        { text: gs.slice(0, k).join(""), style: "plain" },
        { text: under, style: "cursor" },
        { text: gs.slice(k + 1).join(""), style: "plain" },
      ],
      width,
    );
  });
}

/** The header over the panes. */
function headerRow(s: State, g: Geometry): Row {
  const chat = openChat(s);
  const showList = !g.split && (s.pane === "list" || !chat) && !s.help;
  const title = s.help
    ? "Keys"
    : showList || !chat
      ? "Chats"
      : `${chat.kind === "group" ? "#" : "@"}${chat.title}${chat.closed ? " (closed)" : ""}${
          chat.kind === "group" && s.members[chat.id] ? ` · ${s.members[chat.id]!.length} members` : ""
        }`;
  if (!g.split) return fitRow([{ text: ` ${title}`, style: "header" }], g.cols);
  return fitRow(
    [
      { text: fitCells(" Chats", g.listWidth), style: "header" },
      { text: "│ ", style: "dim" },
      { text: fitCells(title, g.paneWidth), style: "header" },
    ],
    g.cols,
  );
}

/** The whole screen of `s`: `geometry(s).height` rows of `cols` cells. */
export function screen(s: State): Row[] {
  const g = geometry(s);
  if (g.tooSmall) {
    const rows: Row[] = [fitRow([{ text: "smsg: enlarge the terminal", style: "warn" }], g.cols)];
    while (rows.length < g.height) rows.push(fitRow([], g.cols));
    return rows;
  }
  const body: Row[] = [];
  if (g.split) {
    const list = listRows(s, g.listWidth, g.bodyHeight);
    const pane = paneRows(s, g.paneWidth, g.bodyHeight);
    for (let i = 0; i < g.bodyHeight; i++) body.push([...list[i]!, { text: "│ ", style: "dim" }, ...pane[i]!]);
  } else if ((s.pane === "list" || s.open === null) && !s.help) body.push(...listRows(s, g.cols, g.bodyHeight));
  else body.push(...paneRows(s, g.cols, g.bodyHeight));
  return [headerRow(s, g), ...body, statusRow(s, g.cols), ...inputRows(s, g.cols, g.inputRows)];
}

/** Rows the open chat's messages may use (the body less the key-change banner). */
export function messageRoom(s: State): { width: number; height: number; total: number } {
  const g = geometry(s);
  const chat = openChat(s);
  const view = chat ? s.views[chat.id] : undefined;
  if (!chat || !view) return { width: g.paneWidth, height: g.bodyHeight, total: 0 };
  const banner = keyChangeBanner(s, chat);
  const height = Math.max(1, g.bodyHeight - (banner ? wrapCells(banner, g.paneWidth).length : 0));
  return { width: g.paneWidth, height, total: viewRows(view, g.paneWidth, s).length };
}

/** The key-binding help screen. */
export const HELP: readonly string[] = [
  "Up/Down, Ctrl-P/Ctrl-N   move in the chat list",
  "Enter (input empty)      open the chat under the cursor",
  "Alt-A                    jump to the next chat with unread messages",
  "PageUp/PageDown          scroll back (older messages load as you go)",
  "Esc                      back to the newest message / to the list / close this help",
  "Enter                    send what you typed (//text sends /text)",
  "Alt+Enter or Ctrl-J      new line in the message",
  "Tab                      complete an @username of the chat's members",
  "Left/Right, Home/End     move in the input (Ctrl-A/Ctrl-E too)",
  "Ctrl-U / Ctrl-W          delete to the start / the word before the cursor",
  "? (input empty) or F1    this help",
  "Ctrl-C twice, Ctrl-D     quit (Ctrl-D with the input empty)",
  "",
  "/open CHAT   /close   /history [N]   /members   /verify [USER] [--confirm | --accept-new-key]",
  "/help   /quit",
];
