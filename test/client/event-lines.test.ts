/**
 * How group events read for people (client/commands/output.ts eventLine), in the words of
 * SECURITY.md §15.4.2: bootstrap, added, removed, left, renamed; names made terminal-safe.
 * And a message's time (§15.5): the sender's clock, with the relay's beside it when far apart.
 */
import { describe, expect, test } from "vitest";
import { CLOCK_SKEW_SHOWN_MS, eventLine, messageTime } from "../../client/commands/output.js";
import type { GroupStateEvent } from "../../client/engine/events.js";

const base: GroupStateEvent = {
  type: "group_state",
  chat: 7,
  epoch: 2,
  by: "alice",
  name: "team",
  members: ["alice", "bob"],
  admins: ["alice"],
  added: [],
  removed: [],
  left: [],
  promoted: [],
  renamed: false,
  bootstrap: false,
};
const names = (u: string) => (u === "alice" ? "Alice L." : null);

describe("departed lines", () => {
  test("we left, were removed by someone, or the relay stopped listing us", () => {
    expect(eventLine({ type: "departed", chat: 7, name: "team", how: "left", by: null })).toBe(
      "[chat 7] you left team",
    );
    expect(eventLine({ type: "departed", chat: 7, name: "team", how: "removed", by: "alice" })).toBe(
      "[chat 7] you were removed from team by alice",
    );
    expect(eventLine({ type: "departed", chat: 7, name: null, how: "removed", by: null })).toBe(
      "[chat 7] you were removed from chat 7 (the relay no longer lists you in it)",
    );
  });
});

describe("group_state lines", () => {
  test("bootstrap says the state is trusted on first use and lists the members", () => {
    expect(eventLine({ ...base, epoch: 1, bootstrap: true, added: ["alice", "bob"] }, names)).toBe(
      '[chat 7] membership of "team" announced by Alice L. (@alice) (first seen; not verified before): Alice L. (@alice), @bob',
    );
  });

  test("additions, removals, an admin leaving and a rename, each said once", () => {
    expect(eventLine({ ...base, added: ["carol"], removed: ["dave"] }, names)).toBe(
      "[chat 7] Alice L. (@alice) added @carol; Alice L. (@alice) removed @dave",
    );
    expect(eventLine({ ...base, members: ["bob"], admins: ["bob"], removed: ["alice"] })).toBe("[chat 7] @alice left");
    // A member who left at the relay, signed out by an admin: said to have left, not to be removed.
    expect(eventLine({ ...base, removed: ["dave", "erin"], left: ["dave"] }, names)).toBe(
      "[chat 7] @dave left (signed by Alice L. (@alice)); Alice L. (@alice) removed @erin",
    );
    expect(
      eventLine({ ...base, members: ["bob", "carol"], admins: ["bob"], removed: ["alice"], promoted: ["bob"] }),
    ).toBe("[chat 7] @alice left; @bob is an admin now");
    expect(eventLine({ ...base, renamed: true, name: "red\u001b[2Jteam" })).toBe(
      '[chat 7] @alice renamed the group to "red?[2Jteam"',
    );
    expect(eventLine({ ...base, admins: ["alice", "bob"], promoted: ["bob"] })).toBe("[chat 7] @bob is an admin now");
    expect(eventLine({ ...base, admins: ["alice"] })).toBe("[chat 7] @alice changed the admins: @alice");
  });
});

describe("message times", () => {
  const fmt = (ms: number) => `t${ms}`;
  test("the sender's clock; the relay's time too beyond five minutes; the relay's alone without a sender clock", () => {
    expect(messageTime(1000, 1000 + CLOCK_SKEW_SHOWN_MS, fmt)).toBe("t1000");
    expect(messageTime(1000 + CLOCK_SKEW_SHOWN_MS + 1, 1000, fmt)).toBe(`t${1001 + CLOCK_SKEW_SHOWN_MS} (relay t1000)`);
    expect(messageTime(1000, 1001 + CLOCK_SKEW_SHOWN_MS, fmt)).toBe(`t1000 (relay t${1001 + CLOCK_SKEW_SHOWN_MS})`);
    expect(messageTime(null, 42, fmt)).toBe("t42");
  });
});

describe("chat event lines", () => {
  test("say that the relay reports them", () => {
    const ev = { type: "chat_event", chat: 3, user: "carol", by: "alice" } as const;
    expect(eventLine({ ...ev, event: "added" })).toBe("[chat 3] relay: alice added carol");
    expect(eventLine({ ...ev, event: "removed" })).toBe("[chat 3] relay: alice removed carol");
    expect(eventLine({ ...ev, event: "left", by: "carol" })).toBe("[chat 3] relay: carol left");
    expect(eventLine({ ...ev, event: "closed", user: null })).toBe("[chat 3] relay: alice closed the chat");
    expect(eventLine({ ...ev, event: "reopened", user: null })).toBe("[chat 3] relay: alice reopened the chat");
  });
});
