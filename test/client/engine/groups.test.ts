/**
 * Group chats through the engine against an in-process relay: create / send / receive, adding
 * a member (who cannot read what came before), removing one (who cannot read what follows, even
 * given the ciphertext), and a member the relay lists without a signed announcement (no keys,
 * a warning).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { groupContext } from "../../../client/engine/group/keys.js";
import {
  addMember,
  createGroup,
  groupMembers,
  leaveGroup,
  removeMember,
} from "../../../client/engine/group/membership.js";
import { acceptedState } from "../../../client/engine/group/records.js";
import { sendGroupText } from "../../../client/engine/group/send.js";
import { findOrOpenChat } from "../../../client/engine/chats.js";
import { storeIncoming } from "../../../client/engine/inbox.js";
import { encryptForPeer } from "../../../client/engine/sessions.js";
import { encodeAppMessage } from "../../../client/protocol/app-message.js";
import { signGroupState } from "../../../client/protocol/group-state.js";
import { goOnline } from "../../../client/engine/online.js";
import { QueuedOfflineError, RelayUnreachableError } from "../../../client/engine/errors.js";
import { queueTextOffline, sendText } from "../../../client/engine/send.js";
import { decodeSenderState, senderDecrypt } from "../../../crypto/sender-keys.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type EngineUser, accountId, engineUser, emptyRelay } from "./helpers.js";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;
let carol: EngineUser;

// Hook timeouts that fit a busy 2-core machine: a relay start and three joins take seconds there.
beforeAll(async () => {
  tr = await startRelay();
}, 60_000);
afterAll(async () => {
  alice?.close();
  bob?.close();
  carol?.close();
  await tr.stop();
}, 60_000);
beforeEach(async () => {
  alice?.close();
  bob?.close();
  carol?.close();
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
  carol = await engineUser(tr, "carol");
}, 60_000);

/** Goes online (sync) and off again. */
async function sync(u: EngineUser): Promise<void> {
  const o = await u.online();
  o.close();
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

/** Shown messages of a chat: [sender, body] (undecryptable ones with a null body). */
function shown(u: EngineUser, chat: number): [string, string | null][] {
  return u.acct.store.messages
    .history(chat, { limit: 1000 })
    .messages.filter((m) => m.body !== null || m.status === "undecryptable")
    .map((m) => [m.sender, m.body]);
}

/** The newest message `sender` stored at the relay in `chat` (undirected), as a msg frame. */
async function lastRelayMessage(chat: number, sender: string) {
  const rows = await tr.db.query<{ id: number; envelope: Uint8Array }>(
    "SELECT id, envelope FROM messages WHERE chat_id = $1 AND sender_id = $2 AND recipient_id IS NULL ORDER BY id DESC LIMIT 1",
    [chat, await accountId(tr, sender)],
  );
  const r = rows[0]!;
  return {
    t: "msg" as const,
    chat,
    msg: Number(r.id),
    from: sender,
    ts: Date.now(),
    envelope: new Uint8Array(r.envelope),
  };
}

describe("group chats through the engine", () => {
  test("create, messages both ways, members and signed state on every side", async () => {
    const created = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    const chat = created.chat.id;
    expect(created.state).toMatchObject({
      epoch: 1,
      members: ["alice", "bob", "carol"],
      admins: ["alice"],
      by: "alice",
    });
    expect(created.warnings).toEqual([]);

    await sync(bob);
    await sync(carol);
    for (const u of [bob, carol]) {
      expect(acceptedState(u.acct.store, chat)).toMatchObject({ epoch: 1, name: "team" });
      expect(u.acct.store.chats.get(chat)).toMatchObject({ kind: "group", name: "team" });
    }

    await withOnline(alice, (r) => sendText(alice.acct, r, alice.acct.store.chats.get(chat)!, "hello team"));
    await withOnline(bob, (r) => sendText(bob.acct, r, bob.acct.store.chats.get(chat)!, "hi alice"));
    await sync(carol);
    await withOnline(carol, (r) => sendGroupText(carol.acct, r, carol.acct.store.chats.get(chat)!, "carol here"));
    await sync(alice);
    await sync(bob);
    expect(shown(carol, chat)).toEqual([
      ["alice", "hello team"],
      ["bob", "hi alice"],
      ["carol", "carol here"],
    ]);
    expect(shown(alice, chat)).toEqual([
      ["alice", "hello team"],
      ["bob", "hi alice"],
      ["carol", "carol here"],
    ]);
    expect(shown(bob, chat).map(([, b]) => b)).toEqual(["hello team", "hi alice", "carol here"]);

    const m = await withOnline(bob, (r) => groupMembers(bob.acct, r, bob.acct.store.chats.get(chat)!));
    expect(m.warnings).toEqual([]);
    expect(m.members.map((x) => [x.username, x.role, x.announced, x.listed])).toEqual([
      ["alice", "admin", true, true],
      ["bob", "member", true, true],
      ["carol", "member", true, true],
    ]);
  });

  test("a member added later reads what follows, not what came before", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob"]));
    await withOnline(alice, (r) => sendGroupText(alice.acct, r, chat, "before carol"));
    const before = await lastRelayMessage(chat.id, "alice");
    await sync(bob);
    await withOnline(alice, (r) => addMember(alice.acct, r, chat, "carol"));
    await withOnline(alice, (r) => sendGroupText(alice.acct, r, chat, "welcome carol"));
    await sync(carol);
    await sync(bob);
    expect(acceptedState(carol.acct.store, chat.id)).toMatchObject({ epoch: 2, members: ["alice", "bob", "carol"] });
    expect(shown(carol, chat.id)).toEqual([["alice", "welcome carol"]]);
    expect(shown(bob, chat.id)).toEqual([
      ["alice", "before carol"],
      ["alice", "welcome carol"],
    ]);
    // bob's key reaches carol with bob's next message.
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "hi carol"));
    await sync(carol);
    expect(shown(carol, chat.id)).toEqual([
      ["alice", "welcome carol"],
      ["bob", "hi carol"],
    ]);
    // Given the earlier ciphertext anyway, carol's keys (at a later iteration) cannot read it.
    const r = storeIncoming(carol.acct, { ...before, msg: before.msg + 1_000_000 });
    expect(r.events).toEqual([expect.objectContaining({ type: "undecryptable" })]);
  });

  test("a removed member cannot read what follows, even given the ciphertext", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    await sync(bob);
    await sync(carol);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "before"));
    await withOnline(alice, (r) => sendGroupText(alice.acct, r, chat, "alice before"));
    await sync(carol);
    expect(shown(carol, chat.id).map(([, b]) => b)).toEqual(["before", "alice before"]);
    const bobKeysBefore = carol.acct.store.senderKeys.list(chat.id, "bob").map((k) => k.keyId);

    const removed = await withOnline(alice, (r) => removeMember(alice.acct, r, chat, "carol"));
    expect(removed.state).toMatchObject({ epoch: 2, members: ["alice", "bob"] });
    await sync(bob);
    await sync(carol);
    // The state announcing the removal was posted to carol, but the relay delivers nothing of a
    // chat to a former member by sync: she learns it from the relay (chat_event) when online.
    expect(acceptedState(bob.acct.store, chat.id)).toMatchObject({ epoch: 2, members: ["alice", "bob"] });

    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "after carol"));
    const bobAfter = await lastRelayMessage(chat.id, "bob");
    await withOnline(alice, (r) => sendGroupText(alice.acct, r, chat, "alice after"));
    const aliceAfter = await lastRelayMessage(chat.id, "alice");
    await sync(alice);
    await sync(bob);
    expect(shown(alice, chat.id).map(([, b]) => b)).toEqual(["before", "alice before", "after carol", "alice after"]);
    expect(shown(bob, chat.id).map(([, b]) => b)).toEqual(["before", "alice before", "after carol", "alice after"]);

    // The relay no longer delivers to carol.
    await sync(carol);
    expect(shown(carol, chat.id).map(([, b]) => b)).toEqual(["before", "alice before"]);
    // Both senders rotated: new key ids carol never received.
    const bobKeyNow = bob.acct.store.senderKeys.own(chat.id)!.keyId;
    expect(bobKeysBefore).not.toContain(bobKeyNow);
    // Given the ciphertexts anyway, none of carol's stored sender-key states decrypts them.
    for (const [frame, sender] of [
      [bobAfter, "bob"],
      [aliceAfter, "alice"],
    ] as const) {
      const states = carol.acct.store.senderKeys.list(chat.id, sender);
      expect(states.length).toBeGreaterThan(0);
      for (const k of states) {
        const st = decodeSenderState(k.state);
        if (st.kind !== "receiver") continue;
        expect(() => senderDecrypt(st, groupContext(chat.id, sender), frame.envelope)).toThrow();
      }
      const r = storeIncoming(carol.acct, frame);
      expect(r.events).toEqual([expect.objectContaining({ type: "undecryptable" })]);
    }
  });

  test("members the relay cannot give the text are warned about in member order; the others get it", async () => {
    const dave = await engineUser(tr, "dave");
    try {
      const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol", "dave"]));
      // The identity checks of a send are asked together (pairwise.ts): each answer still counts for its member.
      expect(await tr.relay.store.setDisabled("bob", true)).toBe(true);
      expect(await tr.relay.store.setDisabled("dave", true)).toBe(true);
      const sent = await withOnline(alice, (r) =>
        sendGroupText(alice.acct, r, alice.acct.store.chats.get(chat.id)!, "to who can read it"),
      );
      expect(sent.warnings).toEqual([
        expect.stringMatching(/^bob cannot be given this group's messages now \(.+\); a later send tries again$/),
        expect.stringMatching(/^dave cannot be given this group's messages now \(.+\); a later send tries again$/),
      ]);
      await sync(carol);
      expect(shown(carol, chat.id)).toEqual([["alice", "to who can read it"]]);
    } finally {
      dave.close();
    }
  });

  test("a member the relay adds without a signed announcement gets no keys and is warned about", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob"]));
    await sync(bob);
    // A malicious operator slips carol into the chat.
    await tr.db.query("INSERT INTO chat_members (chat_id, account_id, role) VALUES ($1, $2, 'member')", [
      chat.id,
      await accountId(tr, "carol"),
    ]);
    const sent = await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "secret"));
    expect(sent.warnings).toEqual([
      expect.stringContaining("the relay added carol without an admin's signed announcement"),
    ]);
    const directedToCarol = await tr.db.query("SELECT id FROM messages WHERE chat_id = $1 AND recipient_id = $2", [
      chat.id,
      await accountId(tr, "carol"),
    ]);
    expect(directedToCarol).toEqual([]);
    const m = await withOnline(bob, (r) => groupMembers(bob.acct, r, bob.acct.store.chats.get(chat.id)!));
    expect(m.members.find((x) => x.username === "carol")).toMatchObject({ announced: false, listed: true });
    expect(m.warnings).toEqual([expect.stringContaining("carol cannot read your messages")]);
    // carol gets the ciphertext but cannot read it.
    await sync(carol);
    expect(shown(carol, chat.id)).toEqual([["bob", null]]);
    await sync(alice);
    expect(shown(alice, chat.id)).toEqual([["bob", "secret"]]);
  });

  test("leaving: the others rotate before they send again", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    await sync(bob);
    await sync(carol);
    await withOnline(alice, (r) => sendGroupText(alice.acct, r, chat, "one"));
    const keyBefore = alice.acct.store.senderKeys.own(chat.id)!.keyId;
    await sync(carol);
    await withOnline(carol, (r) => leaveGroup(carol.acct, r, carol.acct.store.chats.get(chat.id)!));
    await withOnline(alice, (r) => sendGroupText(alice.acct, r, chat, "two"));
    expect(alice.acct.store.senderKeys.own(chat.id)!.keyId).not.toBe(keyBefore);
    const frame = await lastRelayMessage(chat.id, "alice");
    const r = storeIncoming(carol.acct, frame);
    expect(r.events).toEqual([expect.objectContaining({ type: "undecryptable" })]);
    await sync(bob);
    expect(shown(bob, chat.id).map(([, b]) => b)).toEqual(["one", "two"]);
  });
  test("display names reach group members once, with the first key; states are reported as group_state events", async () => {
    const dora = await engineUser(tr, "dora", { displayName: "Dora Explorer" });
    try {
      const { chat } = await withOnline(dora, (r) => createGroup(dora.acct, r, "crew", ["bob", "carol"]));
      await withOnline(dora, (r) => sendGroupText(dora.acct, r, chat, "hello crew"));
      await sync(bob);
      expect(bob.acct.store.contacts.get("dora")?.displayName).toBe("Dora Explorer");
      expect(bob.events.filter((e) => e.type === "profile")).toEqual([
        { type: "profile", user: "dora", displayName: "Dora Explorer" },
      ]);
      expect(bob.events.filter((e) => e.type === "group_state")).toEqual([
        {
          type: "group_state",
          chat: chat.id,
          epoch: 1,
          by: "dora",
          name: "crew",
          members: ["bob", "carol", "dora"],
          admins: ["dora"],
          added: ["bob", "carol", "dora"],
          removed: [],
          left: [],
          promoted: ["dora"],
          renamed: false,
          bootstrap: true,
        },
      ]);
      // carol is removed: dora rotates and sends the new key to bob, but not her name again.
      await withOnline(dora, (r) => removeMember(dora.acct, r, chat, "carol"));
      await withOnline(dora, (r) => sendGroupText(dora.acct, r, chat, "after carol"));
      // Pairwise messages to bob: one `send` with `to` each, or a copy of a send_copies (§17.8).
      const profilesToBob = async () =>
        (
          await tr.db.query(
            `SELECT id FROM messages WHERE chat_id = $1 AND recipient_id = $2
             UNION ALL SELECT message_id FROM message_copies WHERE chat_id = $1 AND account_id = $2`,
            [chat.id, await accountId(tr, "bob")],
          )
        ).length;
      // To bob: profile, state 1, key 1, state 2, key 2 (no second profile).
      expect(await profilesToBob()).toBe(5);
      await sync(bob);
      expect(bob.events.filter((e) => e.type === "profile")).toHaveLength(1);
      expect(bob.events.filter((e) => e.type === "group_state").at(-1)).toMatchObject({
        epoch: 2,
        added: [],
        removed: ["carol"],
        bootstrap: false,
      });
      expect(shown(bob, chat.id).map(([, b]) => b)).toEqual(["hello crew", "after carol"]);
    } finally {
      dora.close();
    }
  });

  test("the sole admin leaving names the relay's heir in a signed state; the heir can then change the group", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    await sync(bob);
    await sync(carol);
    const left = await withOnline(alice, (r) => leaveGroup(alice.acct, r, chat));
    expect(left).toEqual({ heir: "bob", warnings: [] });
    await sync(bob);
    await sync(carol);
    for (const u of [bob, carol]) {
      expect(acceptedState(u.acct.store, chat.id)).toMatchObject({
        epoch: 2,
        members: ["bob", "carol"],
        admins: ["bob"],
        by: "alice",
      });
      expect(u.events.filter((e) => e.type === "group_state").at(-1)).toMatchObject({
        epoch: 2,
        removed: ["alice"],
        added: [],
        promoted: ["bob"],
      });
    }
    // The relay promoted the same member: bob is admin there and his signed changes are accepted.
    const listed = await withOnline(bob, (r) => groupMembers(bob.acct, r, bob.acct.store.chats.get(chat.id)!));
    expect(listed.members.map((m) => [m.username, m.role, m.listed])).toEqual([
      ["bob", "admin", true],
      ["carol", "member", true],
    ]);
    expect(listed.warnings).toEqual([]);
    await withOnline(bob, (r) => addMember(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "alice"));
    await sync(carol);
    expect(acceptedState(carol.acct.store, chat.id)).toMatchObject({
      epoch: 3,
      members: ["alice", "bob", "carol"],
      admins: ["bob"],
      by: "bob",
    });
  });

  test("an admin can sign the removal of a member who already left at the relay", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    await sync(carol);
    await withOnline(carol, (r) => leaveGroup(carol.acct, r, carol.acct.store.chats.get(chat.id)!));
    const removed = await withOnline(alice, (r) => removeMember(alice.acct, r, chat, "carol"));
    expect(removed.state).toMatchObject({ epoch: 2, members: ["alice", "bob"] });
    const after = await withOnline(alice, (r) => groupMembers(alice.acct, r, chat));
    expect(after.warnings).toEqual([]);
  });
  test("a group text written offline is encrypted once online, after a removal waiting in the sync is applied", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    await sync(bob);
    await sync(carol);
    const bobChat = () => bob.acct.store.chats.get(chat.id)!;
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bobChat(), "before"));
    // carol takes bob's key now: the relay drops a member's undelivered copies when it removes
    // her (SECURITY.md §17.8), and the removal below reaches the relay before carol syncs again.
    await sync(carol);
    const keyBefore = bob.acct.store.senderKeys.own(chat.id)!.keyId;
    const offline = new RelayUnreachableError("127.0.0.1", 1, "test");
    let queued: QueuedOfflineError | undefined;
    try {
      queueTextOffline(bob.acct, bobChat(), "written offline", offline);
    } catch (e) {
      queued = e as QueuedOfflineError;
    }
    expect(queued).toBeInstanceOf(QueuedOfflineError);
    // Stored as written; nothing encrypted yet.
    expect(bob.acct.store.messages.get(queued!.messageId)).toMatchObject({
      status: "pending",
      senderSeq: null,
      body: "written offline",
    });
    expect(bob.acct.store.outbox.count()).toBe(0);
    const writtenAt = bob.acct.store.messages.get(queued!.messageId)!.senderTs;

    // Meanwhile alice signs carol's removal, but her remove_member never reaches the relay (the
    // relay still lists carol). bob's next going online applies the signed removal first, then
    // encrypts under a new key: carol, still getting the chat's messages, cannot read it.
    await withOnline(alice, (r) => removeMember(alice.acct, r, chat, "carol"));
    await tr.db.query("INSERT INTO chat_members (chat_id, account_id, role) VALUES ($1, $2, 'member')", [
      chat.id,
      await accountId(tr, "carol"),
    ]);
    await sync(bob);
    expect(bob.acct.store.messages.get(queued!.messageId)).toMatchObject({
      status: "sent",
      senderSeq: 2,
      senderTs: writtenAt,
    });
    expect(bob.acct.store.senderKeys.own(chat.id)!.keyId).not.toBe(keyBefore);
    await sync(alice);
    expect(shown(alice, chat.id).map(([, b]) => b)).toEqual(["before", "written offline"]);
    await sync(carol);
    expect(shown(carol, chat.id)).toEqual([
      ["bob", "before"],
      ["bob", null],
    ]);
  });

  test("a group text written offline by someone removed meanwhile fails with a warning, and nothing is sent", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    await sync(carol);
    const offline = new RelayUnreachableError("127.0.0.1", 1, "test");
    expect(() => queueTextOffline(carol.acct, carol.acct.store.chats.get(chat.id)!, "too late", offline)).toThrow(
      QueuedOfflineError,
    );
    await withOnline(alice, (r) => removeMember(alice.acct, r, chat, "carol"));
    const warnings: unknown[] = [];
    const o = await goOnline(carol.acct, { onWarning: (w) => warnings.push(w) });
    o.close();
    expect(warnings).toEqual([
      expect.objectContaining({ message: expect.stringContaining("1 message(s) written offline in chat") }),
    ]);
    expect(carol.acct.store.messages.deferredTexts()).toEqual([]);
    expect(shown(carol, chat.id).find(([, b]) => b === "too late")).toBeDefined();
    expect(carol.acct.store.messages.history(chat.id).messages.find((m) => m.body === "too late")).toMatchObject({
      status: "failed",
    });
  });
  test("the sole admin leaving: no state for members already gone; a warning for a relay heir outside the signed membership", async () => {
    const dave = await engineUser(tr, "dave");
    try {
      const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
      await sync(bob);
      await sync(carol);
      await withOnline(carol, (r) => leaveGroup(carol.acct, r, carol.acct.store.chats.get(chat.id)!));
      // The relay slips dave in as if he had joined first: it would promote him.
      await tr.db.query(
        "INSERT INTO chat_members (chat_id, account_id, role, joined_at) VALUES ($1, $2, 'member', '2000-01-01')",
        [chat.id, await accountId(tr, "dave")],
      );
      const left = await withOnline(alice, (r) => leaveGroup(alice.acct, r, chat));
      expect(left.heir).toBe("bob");
      expect(left.warnings).toEqual([
        expect.stringContaining(
          "the relay will make dave admin, who is not in the signed membership; bob is named admin instead",
        ),
      ]);
      await sync(bob);
      // carol, gone at the relay already, is not in the state alice signs as she goes.
      expect(acceptedState(bob.acct.store, chat.id)).toMatchObject({
        epoch: 2,
        members: ["bob"],
        admins: ["bob"],
      });
    } finally {
      dave.close();
    }
  });
  test("a group named after a contact does not catch what is sent to that contact by name", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "carol", ["bob", "carol"]));
    await sync(bob);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "hi")); // bob pins carol's key
    await expect(withOnline(bob, (r) => findOrOpenChat(bob.acct, r, "carol"))).rejects.toMatchObject({
      code: "CHAT_AMBIGUOUS",
      message: expect.stringContaining(`is the name of group chat ${chat.id} and also a contact of yours`),
    });
    // By id it is the group; an unknown user is said to be unknown.
    expect((await withOnline(bob, (r) => findOrOpenChat(bob.acct, r, String(chat.id)))).chat.kind).toBe("group");
    await expect(withOnline(bob, (r) => findOrOpenChat(bob.acct, r, "nosuchuser"))).rejects.toMatchObject({
      code: "USER_UNKNOWN",
    });
    // For alice, who opened no direct chat with carol either, it is ambiguous too.
    await expect(withOnline(alice, (r) => findOrOpenChat(alice.acct, r, "carol"))).rejects.toMatchObject({
      code: "CHAT_AMBIGUOUS",
    });
  });
  test("a membership change signed by a member who is not an admin is refused and reported; the state stays", async () => {
    const { chat } = await withOnline(alice, (r) => createGroup(alice.acct, r, "team", ["bob", "carol"]));
    await sync(bob);
    await sync(carol);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "hi")); // sessions bob <-> carol
    await sync(carol);
    // bob signs a state that makes him admin and drops alice, and sends it to carol pairwise.
    const forged = signGroupState(bob.acct.identity, {
      chat: chat.id,
      epoch: 2,
      name: "team",
      members: ["bob", "carol"],
      admins: ["bob"],
      by: "bob",
      ts: 1,
    });
    await withOnline(bob, async (r) => {
      const envelope = bob.acct.store.transaction(() => encryptForPeer(bob.acct, "carol", encodeAppMessage(forged)));
      await r.request<"send">({ t: "send", chat: chat.id, idem: new Uint8Array(16).fill(7), envelope, to: "carol" });
    });
    carol.events.length = 0;
    await sync(carol);
    expect(carol.events).toEqual([
      expect.objectContaining({
        type: "undecryptable",
        from: "bob",
        reason: "a membership change could not be verified (not admin)",
      }),
    ]);
    expect(acceptedState(carol.acct.store, chat.id)).toMatchObject({ epoch: 1, admins: ["alice"] });
  });
});
