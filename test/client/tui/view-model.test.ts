/**
 * The terminal UI's view model without a terminal: every key binding, unread and mention
 * counting, the bell, key-change banners (sending blocked), engine events shown in their chat,
 * scrollback paging, send states, quitting.
 */
import { describe, expect, test } from "vitest";
import { screen } from "../../../client/tui/layout.js";
import type { State } from "../../../client/tui/state.js";
import { mentions } from "../../../client/tui/view-model.js";
import { Driver, chatRow, message, openWith, stored, threeChats } from "./fixtures.js";

/** The screen as plain text, one string per row. */
function text(s: State): string[] {
  return screen(s).map((r) => r.map((seg) => seg.text).join(""));
}

/** What must never reach the terminal from someone else's text: C0, DEL, C1, bidi overrides and isolates. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function view(d: Driver, chat: number) {
  return d.state.views[chat]!;
}

describe("chat list", () => {
  test("ordered by newest activity; the cursor starts on the first", () => {
    const d = threeChats();
    expect(d.state.chats.map((c) => c.title)).toEqual(["dave", "carol", "bob", "team"]);
    expect(d.state.selected).toBe(3);
  });

  test("Down/Up and Ctrl-N/Ctrl-P move the cursor, stopping at the ends", () => {
    const d = threeChats();
    d.keys("\x1b[B");
    expect(d.state.selected).toBe(2);
    d.keys("\x0e");
    expect(d.state.selected).toBe(1);
    d.keys("\x0e\x0e\x0e");
    expect(d.state.selected).toBe(4);
    d.keys("\x1b[A");
    expect(d.state.selected).toBe(1);
    d.keys("\x10\x10\x10\x10");
    expect(d.state.selected).toBe(3);
  });

  test("Enter with an empty input opens the chat under the cursor and loads it", () => {
    const d = threeChats();
    d.keys("\x1b[B\r");
    expect(d.state.open).toBe(2);
    expect(d.take()).toEqual([{ type: "load", chat: 2 }]);
    expect(d.state.chats.find((c) => c.id === 2)!.unread).toBe(0);
    // Open again (loaded): no second load.
    d.act({ type: "page", chat: 2, items: [], more: false, older: false });
    d.keys("\x1b[A\r\x1b[B\r");
    // dave is loaded now; carol, loaded before, is marked read again when opened.
    expect(d.take()).toEqual([
      { type: "load", chat: 3 },
      { type: "markAllRead", chat: 2 },
    ]);
  });

  test("Alt-A jumps to the next chat with unread messages", () => {
    const d = threeChats();
    openWith(d, 3, []);
    d.act({ type: "engine", event: message(4, 40, "bob", "in the group") });
    d.take();
    // The list is team (newest), dave (open), carol, bob: the next with unread after dave is carol, then team.
    d.keys("\x1ba");
    expect(d.state.open).toBe(2);
    d.keys("\x1ba");
    expect(d.state.open).toBe(4);
    d.keys("\x1ba");
    expect(d.state.flash).toBe("no unread messages");
  });
});

describe("unread counts, mentions and the bell", () => {
  test("a message in another chat counts as unread, moves the chat up and rings", () => {
    const d = openWith(threeChats(), 3, []);
    d.act({ type: "engine", event: message(1, 50, "bob", "hello") });
    const bob = d.state.chats[0]!;
    expect(bob.id).toBe(1);
    expect(bob.unread).toBe(1);
    expect(bob.mentions).toBe(0);
    expect(d.take()).toEqual([{ type: "bell" }]);
  });

  test("a message in the open chat is shown, marked read, no bell", () => {
    const d = openWith(threeChats(), 1, [stored(10, "bob", "earlier")]);
    d.act({ type: "engine", event: message(1, 51, "bob", "now") });
    expect(d.state.chats.find((c) => c.id === 1)!.unread).toBe(0);
    expect(d.take()).toEqual([{ type: "markRead", chat: 1, upto: 1051 }]);
    expect(text(d.state).some((r) => r.includes("Bob B. (@bob): now"))).toBe(true);
  });

  test("a mention counts as a mention, rings even in view, and is highlighted", () => {
    const d = openWith(threeChats(), 1, []);
    d.act({ type: "engine", event: message(4, 52, "bob", "@alice look") });
    expect(d.state.chats.find((c) => c.id === 4)!.mentions).toBe(1);
    expect(d.take()).toEqual([{ type: "bell" }]);
    d.act({ type: "engine", event: message(1, 53, "bob", "hey @Alice!") });
    expect(d.take()).toEqual([{ type: "markRead", chat: 1, upto: 1053 }, { type: "bell" }]);
    const rows = screen(d.state);
    const row = rows.find((r) => r.some((s) => s.text.includes("hey @Alice!")))!;
    expect(row.find((s) => s.text.includes("hey"))!.style).toBe("mention");
    expect(text(d.state).find((r) => r.includes("team"))).toMatch(/team.*@ 1/);
  });

  test("mention detection: @username as a word, any ASCII case, not inside a longer name or an address", () => {
    expect(mentions("hi @alice", "alice")).toBe(true);
    expect(mentions("@ALICE: hi", "alice")).toBe(true);
    expect(mentions("thanks @alice.", "alice")).toBe(true);
    expect(mentions("hi @alice2", "alice")).toBe(false);
    expect(mentions("hi @alice_b", "alice")).toBe(false);
    expect(mentions("mail bob@alice", "alice")).toBe(false);
    expect(mentions("alice without at", "alice")).toBe(false);
  });

  test("the list takes unread and mention counts counted from the stored messages when given", () => {
    const d = threeChats();
    d.act({
      type: "chats",
      chats: [chatRow(2, { peer: "carol", unread: 7 })],
      titles: { 2: "carol" },
      counts: { 2: { unread: 3, mentions: 1 } },
    });
    expect(d.state.chats).toMatchObject([{ id: 2, unread: 3, mentions: 1 }]);
    expect(text(d.state)[1]).toMatch(/carol +@ 3 │/);
  });

  test("opening a chat clears its counts", () => {
    const d = threeChats();
    expect(d.state.chats.find((c) => c.id === 2)!.unread).toBe(2);
    d.act({ type: "open", chat: 2 });
    expect(d.state.chats.find((c) => c.id === 2)!.unread).toBe(0);
  });

  test("a message in a chat not listed yet makes the list re-read", () => {
    const d = threeChats();
    d.act({ type: "engine", event: message(9, 60, "erin", "new chat") });
    expect(d.take()).toContainEqual({ type: "refreshChats" });
    expect(d.state.system).toHaveLength(1);
  });
});

describe("key changes", () => {
  test("a banner in the chat, and sending from the input line is refused until the key is confirmed", () => {
    const d = openWith(threeChats(), 1, []);
    d.act({ type: "engine", event: { type: "key_change", user: "bob", chat: null } });
    expect(d.take()).toEqual([{ type: "bell" }]);
    expect(text(d.state).join("\n")).toMatch(/bob's identity key changed\. Sending is blocked/);
    expect(text(d.state).join("\n")).toMatch(/-- ⚠ bob's identity key changed: nothing is sent/);
    d.keys("hello?\r");
    expect(d.take()).toEqual([]);
    expect(d.state.flash).toMatch(/not sent: bob's identity key changed/);
    expect(d.state.input.text).toBe("hello?");
    expect(text(d.state).at(-1)).toMatch(/^! hello\?/);
    // /verify --confirm lifts it (the controller reports the new list).
    d.act({ type: "keyChanged", users: [] });
    d.keys("\r");
    expect(d.take()).toEqual([{ type: "send", chat: 1, text: "hello?", key: expect.any(String) }]);
    expect(text(d.state).join("\n")).not.toMatch(/Sending is blocked/);
  });

  test("other chats are not blocked", () => {
    const d = openWith(threeChats(), 3, []);
    d.act({ type: "keyChanged", users: ["bob"] });
    d.keys("to dave\r");
    expect(d.take()).toEqual([{ type: "send", chat: 3, text: "to dave", key: expect.any(String) }]);
  });
});

describe("engine events shown where they belong", () => {
  test("gap, undecryptable, group state, chat closed, display name", () => {
    const d = openWith(threeChats(), 4, []);
    d.act({ type: "engine", event: { type: "gap", chat: 4, from: "bob", missingFrom: 3, missingTo: 4 } });
    d.act({
      type: "engine",
      event: {
        type: "undecryptable",
        chat: 4,
        id: 70,
        relayMsg: 1070,
        from: "carol",
        ts: 1_700_000_000_000,
        reason: "could not decrypt",
      },
    });
    d.act({
      type: "engine",
      event: {
        type: "group_state",
        chat: 4,
        epoch: 2,
        by: "alice",
        name: "team",
        members: ["alice", "bob", "carol", "dave"],
        admins: ["alice"],
        added: ["dave"],
        removed: [],
        left: [],
        promoted: [],
        renamed: false,
        bootstrap: false,
      },
    });
    d.act({ type: "engine", event: { type: "chat_event", chat: 4, event: "closed", user: null, by: "alice" } });
    const all = text(d.state).join("\n");
    expect(all).toMatch(/⚠ 2 messages from Bob B\. \(@bob\) are missing/);
    expect(all).toMatch(/@carol: ⚠ this message could not be read \(could not decrypt\)/);
    expect(all).toMatch(/Alice A\. \(@alice\) added @dave/);
    expect(all).toMatch(/relay: alice closed the chat/);
    expect(d.state.chats.find((c) => c.id === 4)!.closed).toBe(true);
    expect(d.state.members[4]).toContain("dave");
    d.act({ type: "engine", event: { type: "profile", user: "bob", displayName: "Robert" } });
    expect(d.state.names["bob"]).toBe("Robert");
    d.effects = [];
    d.act({ type: "engine", event: { type: "departed", chat: 4, name: "team", how: "removed", by: "alice" } });
    expect(text(d.state).join("\n")).toMatch(/you were removed from team by alice/);
    expect(d.effects).toContainEqual({ type: "refreshChats" });
  });

  test("connection status: connected, reconnecting in N s with N queued, counting down", () => {
    const d = threeChats();
    expect(text(d.state).at(-2)).toMatch(/connecting to 127\.0\.0\.1:7447/);
    d.act({ type: "status", status: { state: "listening" }, now: 0, queued: 0 });
    expect(text(d.state).at(-2)).toMatch(/connected as @alice to 127\.0\.0\.1:7447/);
    d.act({
      type: "status",
      status: { state: "disconnected", reason: "the relay closed the connection", retryInMs: 4000 },
      now: 1000,
      queued: 2,
    });
    expect(text(d.state).at(-2)).toMatch(/offline: reconnecting in 4 s · 2 queued \(the relay closed the connection\)/);
    d.act({ type: "tick", now: 3000 });
    expect(text(d.state).at(-2)).toMatch(/reconnecting in 2 s/);
  });

  test("control characters from others never reach the screen", () => {
    const d = openWith(threeChats(), 1, []);
    d.act({ type: "engine", event: message(1, 80, "bob", "red\x1b[31m bell\x07 \u202eevil\u202c end\r\nline2") });
    const rows = screen(d.state);
    for (const r of rows) for (const s of r) expect(s.text).not.toMatch(UNSAFE);
    expect(text(d.state).join("\n")).toMatch(/red\?\[31m bell\? \?evil\? end/);
    expect(text(d.state).join("\n")).toMatch(/\bline2/);
  });
});

describe("input line", () => {
  test("Enter sends: a pending line, then sent, or failed with the reason, or queued", () => {
    const d = openWith(threeChats(), 1, []);
    d.keys("first\r");
    const [send] = d.take();
    expect(send).toMatchObject({ type: "send", chat: 1, text: "first" });
    const key = (send as { key: string }).key;
    expect(text(d.state).join("\n")).toMatch(/@alice\): first … \(sending\)/);
    expect(d.state.chats[0]!.id).toBe(3);
    d.act({ type: "sent", chat: 1, key, id: 90, ts: 1 });
    expect(text(d.state).join("\n")).toMatch(/first ✓/);
    expect(d.state.chats[0]!.id).toBe(1); // our message is activity: bob's chat moved up
    d.keys("second\r");
    const key2 = (d.take()[0] as { key: string }).key;
    d.act({ type: "sendFailed", chat: 1, key: key2, id: null, queued: false, reason: "the chat is closed" });
    expect(text(d.state).join("\n")).toMatch(/second ✗ not sent: the chat is closed/);
    d.keys("third\r");
    const key3 = (d.take()[0] as { key: string }).key;
    d.act({ type: "sendFailed", chat: 1, key: key3, id: 92, queued: true, reason: "queued" });
    // Queued offline: still pending; delivered later by the listener (by local id).
    expect(text(d.state).join("\n")).toMatch(/third … queued/);
    d.act({ type: "sent", chat: 1, id: 92, ts: 2 });
    expect(text(d.state).join("\n")).toMatch(/third ✓/);
  });

  test("//text sends /text; /commands are effects; /help and /quit are handled here; unknown ones refused", () => {
    const d = openWith(threeChats(), 1, []);
    d.keys("//slash\r");
    expect(d.take()).toMatchObject([{ type: "send", text: "/slash" }]);
    d.keys("/history 5\r");
    expect(d.take()).toEqual([{ type: "command", name: "/history", args: ["5"] }]);
    for (const c of ["/open bob", "/close", "/members", "/verify bob --confirm"]) {
      d.keys(`${c}\r`);
      const [name, ...args] = c.split(" ");
      expect(d.take()).toEqual([{ type: "command", name, args }]);
    }
    d.keys("/help\r");
    expect(d.state.help).toBe(true);
    expect(text(d.state).join("\n")).toMatch(/Alt\+Enter or Ctrl-J/);
    d.keys("\x1b");
    expect(d.state.help).toBe(false);
    d.keys("/nonsense\r");
    expect(d.state.flash).toMatch(/unknown command \/nonsense/);
    expect(d.take()).toEqual([]);
    d.keys("\x15/quit\r");
    expect(d.take()).toEqual([{ type: "quit", now: false }]);
  });

  test("sending with no chat open says how to open one", () => {
    const d = threeChats();
    d.keys("hello\r");
    expect(d.take()).toEqual([]);
    expect(d.state.flash).toMatch(/no chat is open/);
  });

  test("Alt+Enter and Ctrl-J insert a line break; the input grows and wraps", () => {
    const d = openWith(threeChats(40, 12), 1, []);
    d.keys("one\x1b\rtwo\nthree");
    expect(d.state.input.text).toBe("one\ntwo\nthree");
    const rows = text(d.state);
    expect(rows.slice(-3)).toEqual([`> one${" ".repeat(35)}`, `  two${" ".repeat(35)}`, `  three${" ".repeat(33)}`]);
    d.keys("\r");
    expect(d.take()).toMatchObject([{ type: "send", text: "one\ntwo\nthree" }]);
  });

  test("editing moves by grapheme: Left/Right, Home/End, Backspace, Delete, Ctrl-U, Ctrl-W", () => {
    const d = openWith(threeChats(), 1, []);
    d.keys("ab👍🏽e\u0301");
    d.keys("\x7f");
    expect(d.state.input.text).toBe("ab👍🏽");
    d.keys("\x1b[D\x7f");
    expect(d.state.input.text).toBe("a👍🏽");
    d.keys("\x01x\x05y");
    expect(d.state.input.text).toBe("xa👍🏽y");
    d.keys("\x1b[H\x1b[3~");
    expect(d.state.input.text).toBe("a👍🏽y");
    d.keys("\x1b[C\x1b[C\x15");
    expect(d.state.input.text).toBe("y");
    d.keys("\x1b[F two words\x17");
    expect(d.state.input.text).toBe("y two ");
    d.keys("\x1b[1;5D"); // Ctrl-Left: modified cursor keys move too
    expect(d.state.input.cursor).toBe(5);
  });

  test("? opens help only with an empty input (else it is typed); F1 always", () => {
    const d = openWith(threeChats(), 1, []);
    d.keys("?");
    expect(d.state.help).toBe(true);
    d.keys("?");
    expect(d.state.help).toBe(false);
    d.keys("why?");
    expect(d.state.input.text).toBe("why?");
    expect(d.state.help).toBe(false);
    d.keys("\x1bOP");
    expect(d.state.help).toBe(true);
  });

  test("Tab completes @usernames of the open chat's members, cycling through several", () => {
    const d = openWith(threeChats(), 4, []);
    d.keys("hi @ca\t");
    expect(d.state.input.text).toBe("hi @carol ");
    d.keys("\x15@bo\t");
    expect(d.state.input.text).toBe("@bob ");
    d.keys("\t");
    expect(d.state.input.text).toBe("@bobby ");
    d.keys("\t");
    expect(d.state.input.text).toBe("@bob ");
    d.keys("x");
    expect(d.state.input.text).toBe("@bob x");
    d.keys(" @zz\t");
    expect(d.state.flash).toMatch(/no member of this chat starts with @zz/);
    d.keys("\x15@\t"); // not ourselves
    expect(d.state.input.text).toBe("@bob ");
  });

  test("Ctrl-C clears the input and arms; a second Ctrl-C quits; another key disarms", () => {
    const d = openWith(threeChats(), 1, []);
    d.keys("draft\x03");
    expect(d.state.input.text).toBe("");
    expect(d.state.flash).toMatch(/Ctrl-C again/);
    d.keys("x\x03");
    expect(d.take()).toEqual([]);
    d.keys("\x03");
    expect(d.take()).toEqual([{ type: "quit", now: false }]);
  });

  test("Ctrl-D quits on an empty input and deletes under the cursor otherwise", () => {
    const d = openWith(threeChats(), 1, []);
    d.keys("ab\x01\x04");
    expect(d.state.input.text).toBe("b");
    expect(d.take()).toEqual([]);
    d.keys("\x04\x04");
    expect(d.take()).toEqual([{ type: "quit", now: false }]);
  });

  test("while quitting only Ctrl-C acts: it leaves at once", () => {
    const d = openWith(threeChats(), 1, []);
    d.act({ type: "quitting" });
    d.keys("typed\r");
    expect(d.take()).toEqual([]);
    expect(text(d.state).at(-2)).toMatch(/quitting: waiting for messages being sent/);
    d.keys("\x03");
    expect(d.take()).toEqual([{ type: "quit", now: true }]);
  });
});

describe("scrollback", () => {
  const many = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => stored(from + i, "bob", `message ${from + i}`));

  test("PageUp scrolls back a page, loading the older page near the top; PageDown and Esc come back", () => {
    const d = openWith(threeChats(100, 20), 1, many(100, 60), true);
    expect(text(d.state).join("\n")).toMatch(/message 159/);
    d.keys("\x1b[5~");
    expect(view(d, 1).scroll).toBeGreaterThan(0);
    expect(text(d.state).join("\n")).not.toMatch(/message 159/);
    expect(text(d.state).join("\n")).toMatch(/rows below: PageDown/);
    expect(d.take()).toEqual([]);
    d.keys("\x1b[5~\x1b[5~");
    expect(d.take()).toEqual([{ type: "loadOlder", chat: 1, before: 100 }]);
    expect(view(d, 1).loading).toBe(true);
    d.keys("\x1b[5~"); // no second load while one runs
    expect(d.take()).toEqual([]);
    const before = text(d.state);
    d.act({ type: "page", chat: 1, items: many(70, 30), more: false, older: true });
    // The rows on screen stay where they were (the "older messages" row on top gives way to the newest older one).
    expect(text(d.state).slice(2)).toEqual(before.slice(2));
    expect(text(d.state)[1]).toMatch(/message 99 /);
    expect(view(d, 1).items).toHaveLength(90);
    d.keys("\x1b[5~".repeat(8));
    expect(text(d.state).join("\n")).toMatch(/start of the chat/);
    d.keys("\x1b[6~");
    expect(view(d, 1).scroll).toBeGreaterThan(0);
    d.keys("\x1b");
    expect(view(d, 1).scroll).toBe(0);
    expect(text(d.state).join("\n")).toMatch(/message 159/);
  });

  test("a message arriving while scrolled back does not move the rows in view", () => {
    const d = openWith(threeChats(100, 20), 1, many(100, 30));
    d.keys("\x1b[5~");
    const pane = () => text(d.state).map((r) => r.slice(r.indexOf("│")));
    const before = pane().slice(1, 10);
    d.act({ type: "engine", event: message(1, 200, "bob", "new one") });
    expect(pane().slice(1, 10)).toEqual(before);
  });
});

describe("small terminals", () => {
  test("narrow: one pane, the list or the chat; Esc goes back to the list", () => {
    const d = openWith(threeChats(40, 12), 1, [stored(10, "bob", "hello")]);
    expect(text(d.state)[0]).toMatch(/^ @bob/);
    expect(text(d.state).join("\n")).toMatch(/hello/);
    d.keys("\x1b");
    expect(text(d.state)[0]).toMatch(/^ Chats/);
    expect(text(d.state).join("\n")).toMatch(/dave/);
    d.keys("\r");
    expect(text(d.state)[0]).toMatch(/^ @bob/);
  });

  test("too small: a single line asking for room, and a resize brings the panes back", () => {
    const d = openWith(threeChats(10, 3), 1, []);
    expect(text(d.state)[0]).toMatch(/^smsg: enl/);
    expect(text(d.state)).toHaveLength(3);
    d.act({ type: "resize", cols: 100, rows: 24 });
    expect(text(d.state)).toHaveLength(24);
    expect(text(d.state)[0]).toMatch(/^ Chats .*│ @bob/);
  });
});
