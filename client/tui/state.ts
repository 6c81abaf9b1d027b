/**
 * The terminal UI's state: what the screen shows, as plain data (no store, no terminal). The
 * reducer (view-model.ts) makes a new one from the old one and an action; the layout
 * (layout.ts) turns one into screen rows. Text from other people is kept here only after
 * displayText (client/protocol/text-rules.ts), so nothing in the state can carry a control
 * character to the terminal.
 */
import type { ChatKind, MessageStatus } from "../store/index.js";

/** A chat in the chat list. */
export interface ChatEntry {
  readonly id: number;
  readonly kind: ChatKind;
  /** How the chat is named (its name, or the other member of a direct chat), terminal-safe. */
  readonly title: string;
  /** The other member of a direct chat. */
  readonly peer: string | null;
  readonly closed: boolean;
  /** Incoming messages not read yet. */
  readonly unread: number;
  /** Of those, the ones that mention us. */
  readonly mentions: number;
  /** The local id of the newest message: the list is ordered by it, newest first. */
  readonly activity: number;
}

/** A text message in a chat's view. */
export interface MessageItem {
  readonly kind: "message";
  /** Unique in the view: `m<local id>`, or `t<n>` for a text typed here and not stored yet. */
  readonly key: string;
  /** The local message id, once stored. */
  readonly id: number | null;
  readonly from: string;
  /** The relay's time (or, not acknowledged yet, when it was written). */
  readonly ts: number;
  /** The sender's clock, when the message carried one. */
  readonly senderTs: number | null;
  /** The text, terminal-safe (displayText). */
  readonly body: string;
  readonly out: boolean;
  readonly status: MessageStatus;
  /** Sent on an unverified new identity key (SECURITY.md §1). */
  readonly keyChanged: boolean;
  /** It mentions us (@username). */
  readonly mention: boolean;
  /** A note on its sequence number ("arrived late", …), or "". */
  readonly note: string;
  /** Why it could not be read (status "undecryptable"), or why it was not sent (status "failed"). */
  readonly reason?: string;
}

/** A line that is not a message: a gap, a group change, a command's output. */
export interface NoticeItem {
  readonly kind: "notice";
  readonly key: string;
  /** Terminal-safe text. */
  readonly text: string;
  /** Something the user must not miss (shown as a warning). */
  readonly warn: boolean;
}

/** One entry of a chat's view. */
export type Item = MessageItem | NoticeItem;

/** What is loaded of one chat. */
export interface ChatView {
  /** Oldest first. */
  readonly items: readonly Item[];
  /** The first page has been loaded from the local store. */
  readonly loaded: boolean;
  /** Older messages exist in the store before the first item. */
  readonly more: boolean;
  /** An older page is being loaded. */
  readonly loading: boolean;
  /** Screen rows scrolled back from the newest (0: following new messages). */
  readonly scroll: number;
}

/** How the listener's connection stands. */
export type Connection =
  | { readonly state: "connecting" }
  | { readonly state: "connected" }
  | { readonly state: "reconnecting"; readonly reason: string; readonly retryAt: number };

/** The input line. */
export interface InputState {
  readonly text: string;
  /** Cursor position in `text` (a UTF-16 index at a grapheme boundary). */
  readonly cursor: number;
  /** An @username completion being cycled with Tab. */
  readonly completion?: {
    readonly start: number;
    readonly candidates: readonly string[];
    readonly index: number;
  };
}

/** The whole UI state. */
export interface State {
  readonly me: string;
  /** `host:port` of the relay. */
  readonly relay: string;
  readonly cols: number;
  readonly rows: number;
  /** The chat list, newest activity first. */
  readonly chats: readonly ChatEntry[];
  /** The chat the list's cursor is on. */
  readonly selected: number | null;
  /** The chat shown on the right. */
  readonly open: number | null;
  /** A small terminal shows one pane: the list, or the open chat. */
  readonly pane: "list" | "chat";
  readonly views: Readonly<Record<number, ChatView>>;
  /** What is shown while no chat is open: command output, warnings. */
  readonly system: readonly Item[];
  /** Display names known (contacts and us), raw: senderLabel sanitizes them. */
  readonly names: Readonly<Record<string, string | null>>;
  /** Usernames of each chat's members (for Tab completion). */
  readonly members: Readonly<Record<number, readonly string[]>>;
  /** Users whose identity key changed and is not yet confirmed or accepted: nothing is sent to them. */
  readonly keyChanged: readonly string[];
  readonly conn: Connection;
  /** Messages waiting in the outbox (sent once the relay answers). */
  readonly queued: number;
  readonly input: InputState;
  readonly help: boolean;
  /** A one-line message in the status bar, until the next key. */
  readonly flash: string | null;
  /** Ctrl-C was pressed once: a second one quits. */
  readonly interruptArmed: boolean;
  /** Quitting: waiting for sends in flight. */
  readonly quitting: boolean;
  /** The clock, for "reconnecting in N s". */
  readonly now: number;
  /** Counter for item keys. */
  readonly serial: number;
}

/** A fresh state for `me` on `relay`, `cols`×`rows` cells. */
export function initialState(me: string, relay: string, cols: number, rows: number, now: number): State {
  return {
    me,
    relay,
    cols,
    rows,
    chats: [],
    selected: null,
    open: null,
    pane: "list",
    views: {},
    system: [],
    names: {},
    members: {},
    keyChanged: [],
    conn: { state: "connecting" },
    queued: 0,
    input: { text: "", cursor: 0 },
    help: false,
    flash: null,
    interruptArmed: false,
    quitting: false,
    now,
    serial: 0,
  };
}

/** An empty view (nothing loaded yet). */
export const EMPTY_VIEW: ChatView = { items: [], loaded: false, more: false, loading: false, scroll: 0 };
