/**
 * Plain-data fixtures for the terminal UI's view model tests: a state with chats as the store
 * lists them, messages as the engine reports them, and a driver that feeds actions and keys
 * and keeps the effects.
 */
import type { EngineEvent, MessageEvent } from "../../../client/engine/events.js";
import type { ChatListItem } from "../../../client/store/index.js";
import { decodeKeys } from "../../../client/tui/keys.js";
import { type Item, type State, initialState } from "../../../client/tui/state.js";
import { type Action, type Effect, update } from "../../../client/tui/view-model.js";

/** A chat row as the store lists it. */
export function chatRow(
  id: number,
  over: Partial<ChatListItem> & { peer?: string | null; name?: string | null } = {},
): ChatListItem {
  return {
    id,
    kind: "direct",
    peer: `user${id}`,
    name: null,
    closed: false,
    myRole: "member",
    createdAt: 0,
    lastReadMsg: 0,
    departure: null,
    departedBy: null,
    memberSince: 0,
    seqFromOne: true,
    unread: 0,
    lastMessageId: id,
    ...over,
  };
}

/** A message event in `chat` from `from`. */
export function message(
  chat: number,
  id: number,
  from: string,
  body: string,
  over: Partial<MessageEvent> = {},
): EngineEvent {
  return {
    type: "message",
    chat,
    id,
    relayMsg: id + 1000,
    from,
    ts: 1_700_000_000_000 + id * 60_000,
    senderTs: 1_700_000_000_000 + id * 60_000,
    seq: id,
    seqStatus: "ok",
    body,
    keyChanged: false,
    ...over,
  };
}

/** A stored message as a view item. */
export function stored(id: number, from: string, body: string, out = false): Item {
  return {
    kind: "message",
    key: `m${id}`,
    id,
    from,
    ts: 1_700_000_000_000 + id * 60_000,
    senderTs: 1_700_000_000_000 + id * 60_000,
    body,
    out,
    status: out ? "sent" : "delivered",
    keyChanged: false,
    mention: false,
    note: "",
  };
}

/** Feeds actions to the reducer, keeping the state and every effect. */
export class Driver {
  state: State;
  effects: Effect[] = [];

  constructor(state: State) {
    this.state = state;
  }

  act(a: Action): this {
    const r = update(this.state, a);
    this.state = r.state;
    this.effects.push(...r.effects);
    return this;
  }

  /** Raw terminal input, decoded as the renderer decodes it. */
  keys(input: string): this {
    for (const key of decodeKeys(input)) this.act({ type: "key", key });
    return this;
  }

  /** The effects since the last call. */
  take(): Effect[] {
    const e = this.effects;
    this.effects = [];
    return e;
  }
}

/**
 * alice's UI, `cols`×`rows`, with three direct chats (bob 1, carol 2, dave 3; dave newest) and
 * a group "team" (4), nothing open yet.
 */
export function threeChats(cols = 100, rows = 24): Driver {
  const d = new Driver(initialState("alice", "127.0.0.1:7447", cols, rows, 1_700_000_000_000));
  d.act({
    type: "chats",
    chats: [
      chatRow(1, { peer: "bob", lastMessageId: 10 }),
      chatRow(2, { peer: "carol", lastMessageId: 20, unread: 2 }),
      chatRow(3, { peer: "dave", lastMessageId: 30 }),
      chatRow(4, { kind: "group", peer: null, name: "team", lastMessageId: 5 }),
    ],
    titles: { 1: "bob", 2: "carol", 3: "dave", 4: "team" },
  });
  d.act({ type: "names", names: { alice: "Alice A.", bob: "Bob B." } });
  d.act({ type: "members", chat: 4, members: ["alice", "bob", "bobby", "carol"] });
  d.act({ type: "members", chat: 1, members: ["alice", "bob"] });
  return d;
}

/** Opens `chat` and loads `items` as its newest page. */
export function openWith(d: Driver, chat: number, items: Item[], more = false): Driver {
  d.act({ type: "open", chat });
  d.act({ type: "page", chat, items, more, older: false });
  d.take();
  return d;
}
