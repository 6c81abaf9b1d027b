/**
 * Group membership as members experience it (SECURITY.md §15.4.6): a member removed while
 * offline or online is told so (not "the membership kept changing") and keeps its history; a
 * member who left is told that, never to reopen; a member who left is dropped from the next
 * state an admin signs and the others hear of it once; a member added (back) later sees no gap
 * for what was sent while it could not read; a second group of the same name is refused.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { setChatClosed } from "../../../client/engine/chats.js";
import type { EngineEvent } from "../../../client/engine/events.js";
import {
  addMember,
  createGroup,
  groupMembers,
  leaveGroup,
  removeMember,
} from "../../../client/engine/group/membership.js";
import { acceptedState } from "../../../client/engine/group/records.js";
import { sendText } from "../../../client/engine/send.js";
import { UsageError } from "../../../src/errors.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { waitFor } from "../../helpers/wait-for.js";
import { type EngineUser, engineUser, emptyRelay } from "./helpers.js";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;
let carol: EngineUser;

// Hook timeouts that fit a busy 2-core machine: a relay start and three joins take seconds there.
beforeAll(async () => {
  tr = await startRelay();
}, 60_000);
afterAll(async () => {
  for (const u of [alice, bob, carol]) u?.close();
  await tr.stop();
}, 60_000);
beforeEach(async () => {
  for (const u of [alice, bob, carol]) u?.close();
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
  carol = await engineUser(tr, "carol");
}, 60_000);

/** Goes online (sync) and off again. */
async function sync(u: EngineUser): Promise<void> {
  (await u.online()).close();
}

/** Runs `fn` with `u` online. */
async function withOnline<T>(
  u: EngineUser,
  fn: (relay: Awaited<ReturnType<EngineUser["online"]>>["relay"]) => Promise<T>,
): Promise<T> {
  const o = await u.online();
  try {
    return await fn(o.relay);
  } finally {
    o.close();
  }
}

/** What `fn` threw (code and message), or a failure when it did not throw. */
async function refusal(fn: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (e) {
    return { code: (e as { code?: string }).code ?? "", message: (e as Error).message };
  }
  throw new Error("expected a refusal");
}

/** `u` sends `body` in `chat` (its local record). */
function send(u: EngineUser, chat: number, body: string) {
  return withOnline(u, (r) => sendText(u.acct, r, u.acct.store.chats.get(chat)!, body));
}

/** The bodies `u` has stored in `chat`. */
function bodies(u: EngineUser, chat: number): (string | null)[] {
  return u.acct.store.messages
    .history(chat, { limit: 1000 })
    .messages.filter((m) => m.body !== null)
    .map((m) => m.body);
}

/** The `departed` events in `u`'s journal. */
function journalled(u: EngineUser): EngineEvent[] {
  return u.acct.store.journal
    .after(0, 1000)
    .map((e) => JSON.parse(e.json!) as EngineEvent)
    .filter((e) => e.type === "departed");
}

/** alice creates "team" with bob and carol; everyone has synced it. */
async function team(): Promise<number> {
  const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
  await sync(bob);
  await sync(carol);
  return chat.id;
}

describe("a removed member", () => {
  test("removed while offline: a send says so (exit 16's code), the chat list shows it, the history stays", async () => {
    const chat = await team();
    await send(alice, chat, "before");
    await sync(carol);
    await withOnline(alice, (r) => removeMember(alice.acct, r, alice.acct.store.chats.get(chat)!, "carol"));

    const r = await refusal(() => send(carol, chat, "am I still here?"));
    expect(r).toEqual({
      code: "NOT_A_MEMBER",
      message: "you were removed from team (the relay no longer lists you in it): nothing was sent",
    });
    expect(carol.acct.store.chats.get(chat)).toMatchObject({ departure: "removed", departedBy: null });
    expect(journalled(carol)).toEqual([{ type: "departed", chat, name: "team", how: "removed", by: null }]);
    expect(bodies(carol, chat)).toEqual(["before"]);
    // Nothing was queued or sent.
    expect(carol.acct.store.outbox.list()).toEqual([]);
    // Asked again: the same sentence, and the event is not repeated.
    expect((await refusal(() => send(carol, chat, "again"))).code).toBe("NOT_A_MEMBER");
    expect(journalled(carol)).toHaveLength(1);
  });

  test("removed while online: the signed state names the admin", async () => {
    const chat = await team();
    const online = await carol.online();
    try {
      await withOnline(alice, (r) => removeMember(alice.acct, r, alice.acct.store.chats.get(chat)!, "carol"));
      await waitFor(() => carol.acct.store.chats.get(chat)?.departure === "removed", {
        what: "carol to record her removal",
      });
    } finally {
      online.close();
    }
    expect(carol.acct.store.chats.get(chat)).toMatchObject({ departure: "removed", departedBy: "alice" });
    expect(carol.events).toContainEqual({ type: "departed", chat, name: "team", how: "removed", by: "alice" });
    expect(await refusal(() => send(carol, chat, "hello?"))).toEqual({
      code: "NOT_A_MEMBER",
      message: "you were removed from team by alice: nothing was sent",
    });
    // Listing members or leaving is no different: one sentence, no relay error.
    const m = await withOnline(carol, (r) => groupMembers(carol.acct, r, carol.acct.store.chats.get(chat)!));
    expect(m.warnings).toEqual(["you were removed from team by alice: these are its members as you last knew them"]);
    expect(
      (await refusal(() => withOnline(carol, (r) => leaveGroup(carol.acct, r, carol.acct.store.chats.get(chat)!))))
        .message,
    ).toBe("you were removed from team by alice: there is nothing to leave");
  });

  test("added back: a member again, and numbers count from its return, not across the time it was away", async () => {
    const chat = await team();
    await send(alice, chat, "one");
    await sync(carol);
    await withOnline(alice, (r) => removeMember(alice.acct, r, alice.acct.store.chats.get(chat)!, "carol"));
    await send(alice, chat, "while carol is away");
    await send(alice, chat, "still away");
    await withOnline(alice, (r) => addMember(alice.acct, r, alice.acct.store.chats.get(chat)!, "carol"));
    await send(alice, chat, "welcome back");
    carol.events.length = 0;
    await sync(carol);
    expect(carol.acct.store.chats.get(chat)).toMatchObject({ departure: null });
    expect(bodies(carol, chat)).toEqual(["one", "welcome back"]);
    expect(carol.events.filter((e) => e.type === "gap")).toEqual([]);
    expect(carol.events).toContainEqual(
      expect.objectContaining({ type: "message", body: "welcome back", seqStatus: "ok" }),
    );
    await send(carol, chat, "glad to be back");
    await sync(bob);
    expect(bodies(bob, chat)).toContain("glad to be back");
  });
});

describe("a member who left", () => {
  test("is told that they left, and never to reopen", async () => {
    const chat = await team();
    await withOnline(bob, (r) => leaveGroup(bob.acct, r, bob.acct.store.chats.get(chat)!));
    expect(bob.acct.store.chats.get(chat)).toMatchObject({ departure: "left", closed: false });
    expect(await refusal(() => send(bob, chat, "hi"))).toEqual({
      code: "NOT_A_MEMBER",
      message: "you left team: nothing was sent",
    });
    const reopen = await refusal(() =>
      withOnline(bob, (r) => setChatClosed(bob.acct, r, bob.acct.store.chats.get(chat)!, false)),
    );
    expect(reopen).toEqual({
      code: "NOT_A_MEMBER",
      message: "you left team: it cannot be reopened (an admin can add you again)",
    });
    expect(reopen.message).not.toMatch(/smsg chat reopen/);
  });

  test("is dropped by the next state an admin signs; members hear once that they left", async () => {
    const chat = await team();
    await withOnline(bob, (r) => leaveGroup(bob.acct, r, bob.acct.store.chats.get(chat)!));

    // carol (no admin) hears it from the relay's list, once, without a warning on every command.
    const first = await withOnline(carol, (r) => groupMembers(carol.acct, r, carol.acct.store.chats.get(chat)!));
    expect(first.warnings).toEqual([
      "bob left the chat (the relay says; no admin has signed a membership without them yet)",
    ]);
    const second = await withOnline(carol, (r) => groupMembers(carol.acct, r, carol.acct.store.chats.get(chat)!));
    expect(second.warnings).toEqual([]);

    // alice (the admin) signs bob out as soon as she looks, and says so.
    const seen = await withOnline(alice, (r) => groupMembers(alice.acct, r, alice.acct.store.chats.get(chat)!));
    expect(seen.warnings).toEqual(["bob left the chat: the membership you signed (epoch 2) leaves them out"]);
    expect(acceptedState(alice.acct.store, chat)).toMatchObject({ epoch: 2, members: ["alice", "carol"] });
    expect(seen.members.map((m) => m.username)).toEqual(["alice", "carol"]);
    const again = await withOnline(alice, (r) => groupMembers(alice.acct, r, alice.acct.store.chats.get(chat)!));
    expect(again.warnings).toEqual([]);

    carol.events.length = 0;
    await sync(carol);
    expect(acceptedState(carol.acct.store, chat)).toMatchObject({ epoch: 2, members: ["alice", "carol"] });
    expect(carol.events).toContainEqual(
      expect.objectContaining({ type: "group_state", removed: ["bob"], left: ["bob"] }),
    );
    const after = await withOnline(carol, (r) => groupMembers(carol.acct, r, carol.acct.store.chats.get(chat)!));
    expect(after.warnings).toEqual([]);
    expect(after.members.map((m) => m.username)).toEqual(["alice", "carol"]);
  });

  test("an admin's next change (add) leaves out who left, and an admin's send signs it first", async () => {
    const chat = await team();
    await withOnline(bob, (r) => leaveGroup(bob.acct, r, bob.acct.store.chats.get(chat)!));
    const dave = await engineUser(tr, "dave");
    try {
      const added = await withOnline(alice, (r) => addMember(alice.acct, r, alice.acct.store.chats.get(chat)!, "dave"));
      expect(added.state.members).toEqual(["alice", "carol", "dave"]);
      expect(added.warnings).toContain("bob left the chat: the membership you signed (epoch 2) leaves them out");
      await withOnline(carol, (r) => leaveGroup(carol.acct, r, carol.acct.store.chats.get(chat)!));
      const sent = await send(alice, chat, "just us");
      expect(sent.warnings).toContain("carol left the chat: the membership you signed (epoch 3) leaves them out");
      expect(acceptedState(alice.acct.store, chat)).toMatchObject({ epoch: 3, members: ["alice", "dave"] });
      await sync(dave);
      expect(acceptedState(dave.acct.store, chat)).toMatchObject({ epoch: 3, members: ["alice", "dave"] });
      expect(dave.acct.store.messages.history(chat, { limit: 10 }).messages.map((m) => m.body)).toContain("just us");
    } finally {
      dave.close();
    }
  });
});

describe("group names", () => {
  test("a second group with a name one of our chats has is refused, unless asked for", async () => {
    await team();
    const r = await refusal(() => withOnline(alice, (rl) => createGroup(alice.acct, rl, "Team", ["bob"])));
    expect(r.code).toBe("USAGE");
    expect(r.message).toBe(
      'you already have a chat named "Team" (chat 1): choose another name, or add --allow-duplicate-name and name each by its id',
    );
    expect((await tr.db.query<{ n: number }>("SELECT count(*)::int AS n FROM chats"))[0]!.n).toBe(1);
    const twin = await withOnline(alice, (rl) =>
      createGroup(alice.acct, rl, "team", ["carol"], { allowDuplicateName: true }),
    );
    expect(twin.chat.id).toBe(2);
    await expect(withOnline(alice, (rl) => createGroup(alice.acct, rl, "", ["bob"]))).rejects.toThrow(UsageError);
  });
});
