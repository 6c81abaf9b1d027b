/**
 * Chats through a real relay over loopback sockets: direct chats, groups, admins, leaving,
 * closing and reopening, listings, the chat_event pushes, and what a non-member or a removed
 * member can no longer see or do. Runs on the embedded PostgreSQL, and on external PostgreSQL when TEST_DATABASE_URL is set.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { MAX_CHATS_PER_PAGE } from "../../src/wire/index.js";
import { type TestRelay, startRelay } from "./harness.js";
import { roundTrip } from "./inbox.js";
import {
  type Person,
  group,
  historyPage,
  openDirect,
  person as join,
  reconnect,
  send,
  syncPage,
  text,
} from "./people.js";
import { explainSkip, relayStorages } from "./storages.js";

explainSkip("Relay chats");

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`relay chats on ${storage.name}`, () => {
    let r: TestRelay;
    const people: Person[] = [];

    async function person(name: string): Promise<Person> {
      const p = await join(r, name);
      people.push(p);
      return p;
    }

    beforeAll(() => storage.open());
    afterAll(() => storage.close());
    beforeEach(async () => {
      r = await startRelay({ db: await storage.fresh() });
    });
    afterEach(async () => {
      for (const p of people.splice(0)) p.client.close();
      await r.stop();
    });

    test("open_direct: created once, reused from either side; not with yourself; unknown user", async () => {
      const [alice, bob] = [await person("alice"), await person("bob")];
      const first = await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" });
      expect(first.chat).toMatchObject({ kind: "direct", closed: false });
      expect(first.chat.members.map((m) => m.username).sort()).toEqual(["alice", "bob"]);
      // Direct chats have no admins (SECURITY.md §14.6 "Member"; src/wire/messages.ts chatMemberSchema).
      expect(first.chat.members.map((m) => m.role)).toEqual(["member", "member"]);
      await bob.inbox.event({ chat: first.chat.id, event: "added", user: "bob", by: "alice" });

      const fromBob = await bob.client.request<"open_direct">({ t: "open_direct", username: "ALICE" });
      expect(fromBob.chat.id).toBe(first.chat.id);
      const again = await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" });
      expect(again.chat.id).toBe(first.chat.id);
      // Only creating the chat is announced.
      await roundTrip(bob.client);
      await roundTrip(alice.client);
      expect(bob.inbox.events).toHaveLength(1);
      expect(alice.inbox.events).toHaveLength(0);

      await expect(alice.client.request<"open_direct">({ t: "open_direct", username: "alice" })).rejects.toMatchObject({
        code: "BAD_MESSAGE",
        message: expect.stringContaining("yourself"),
      });
      await expect(alice.client.request<"open_direct">({ t: "open_direct", username: "nobody" })).rejects.toMatchObject(
        {
          code: "USER_UNKNOWN",
        },
      );
      const chats = await alice.client.request<"list_chats">({ t: "list_chats" });
      expect(chats.chats.map((c) => c.id)).toEqual([first.chat.id]);
    });

    test("a direct chat left by one side works again once either side opens it", async () => {
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await openDirect(alice, bob);
      await bob.client.request<"leave_chat">({ t: "leave_chat", chat });
      await alice.inbox.event({ chat, event: "left", user: "bob", by: "bob" });
      await expect(send(bob, chat, "not a member")).rejects.toMatchObject({ code: "CHAT_UNKNOWN" });

      // Bob opens it again: same chat, and he is back in it.
      const back = await bob.client.request<"open_direct">({ t: "open_direct", username: "alice" });
      expect(back.chat.id).toBe(chat);
      expect(back.chat.members.map((m) => m.username).sort()).toEqual(["alice", "bob"]);
      await alice.inbox.event({ chat, event: "added", user: "bob", by: "bob" });
      const s = await send(alice, chat, "welcome back");
      expect(text(await bob.inbox.message(s.msg))).toBe("welcome back");

      // Both leave; opening it again restores both members rather than failing.
      await alice.client.request<"leave_chat">({ t: "leave_chat", chat });
      await bob.client.request<"leave_chat">({ t: "leave_chat", chat });
      const again = await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" });
      expect(again.chat.id).toBe(chat);
      expect(again.chat.members.map((m) => m.username).sort()).toEqual(["alice", "bob"]);
      const s2 = await send(alice, chat, "hello again");
      expect(text(await bob.inbox.message(s2.msg))).toBe("hello again");
    });

    test("create_group: the creator is admin, the others members and told", async () => {
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      const reply = await alice.client.request<"create_group">({
        t: "create_group",
        members: ["bob", "carol", "alice", "bob"],
      });
      const chat = reply.chat.id;
      expect(reply.chat).toMatchObject({ kind: "group", closed: false });
      expect(reply.chat.members).toEqual([
        { username: "alice", role: "admin" },
        { username: "bob", role: "member" },
        { username: "carol", role: "member" },
      ]);
      for (const p of [bob, carol]) {
        await p.inbox.event({ chat, event: "added", user: "bob", by: "alice" });
        await p.inbox.event({ chat, event: "added", user: "carol", by: "alice" });
      }

      await expect(
        alice.client.request<"create_group">({ t: "create_group", members: ["bob", "nobody"] }),
      ).rejects.toMatchObject({
        code: "USER_UNKNOWN",
      });
      // The refused group was not created.
      const chats = await alice.client.request<"list_chats">({ t: "list_chats" });
      expect(chats.chats.map((c) => c.id)).toEqual([chat]);
    });

    test("add and remove members: admins only; everyone online is told, the removed member too", async () => {
      const [alice, bob, carol, dave] = [
        await person("alice"),
        await person("bob"),
        await person("carol"),
        await person("dave"),
      ];
      const chat = await group(alice, [bob]);

      await expect(
        bob.client.request<"add_member">({ t: "add_member", chat, username: "carol" }),
      ).rejects.toMatchObject({
        code: "NOT_CHAT_ADMIN",
      });
      await expect(
        dave.client.request<"add_member">({ t: "add_member", chat, username: "dave" }),
      ).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });
      await expect(
        alice.client.request<"add_member">({ t: "add_member", chat, username: "nobody" }),
      ).rejects.toMatchObject({
        code: "USER_UNKNOWN",
      });

      await alice.client.request<"add_member">({ t: "add_member", chat, username: "carol" });
      for (const p of [alice, bob, carol]) await p.inbox.event({ chat, event: "added", user: "carol", by: "alice" });
      // Adding a member again changes nothing and announces nothing.
      await alice.client.request<"add_member">({ t: "add_member", chat, username: "carol" });
      const members = await bob.client.request<"list_members">({ t: "list_members", chat });
      expect(members.members).toEqual([
        { username: "alice", role: "admin" },
        { username: "bob", role: "member" },
        { username: "carol", role: "member" },
      ]);

      await expect(
        bob.client.request<"remove_member">({ t: "remove_member", chat, username: "carol" }),
      ).rejects.toMatchObject({
        code: "NOT_CHAT_ADMIN",
      });
      await expect(
        alice.client.request<"remove_member">({ t: "remove_member", chat, username: "dave" }),
      ).rejects.toMatchObject({
        code: "NOT_A_MEMBER",
      });
      await alice.client.request<"remove_member">({ t: "remove_member", chat, username: "carol" });
      for (const p of [alice, bob, carol]) await p.inbox.event({ chat, event: "removed", user: "carol", by: "alice" });
      await roundTrip(dave.client);
      expect(dave.inbox.events).toEqual([]);
      expect(
        (await alice.client.request<"list_members">({ t: "list_members", chat })).members.map((m) => m.username),
      ).toEqual(["alice", "bob"]);
      await expect(carol.client.request<"list_members">({ t: "list_members", chat })).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });
      // The number of "added carol" events each saw: exactly one (the repeated add was silent).
      expect(bob.inbox.events.filter((e) => e.event === "added" && e.user === "carol")).toHaveLength(1);

      // A direct chat's members cannot change.
      const direct = await openDirect(alice, dave);
      await expect(
        alice.client.request<"add_member">({ t: "add_member", chat: direct, username: "bob" }),
      ).rejects.toMatchObject({
        code: "BAD_MESSAGE",
      });
      await expect(
        alice.client.request<"remove_member">({ t: "remove_member", chat: direct, username: "dave" }),
      ).rejects.toMatchObject({
        code: "BAD_MESSAGE",
      });
    });

    test("leave: everyone is told; when the last admin leaves, the longest-standing member becomes admin", async () => {
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      // carol joins at creation, bob later: carol is the longest-standing member despite her larger id.
      const chat = await group(alice, [carol]);
      await alice.client.request<"add_member">({ t: "add_member", chat, username: "bob" });

      await alice.client.request<"leave_chat">({ t: "leave_chat", chat });
      for (const p of [alice, bob, carol]) await p.inbox.event({ chat, event: "left", user: "alice", by: "alice" });
      const members = await bob.client.request<"list_members">({ t: "list_members", chat });
      // Listed in join order: the heir first.
      expect(members.members).toEqual([
        { username: "carol", role: "admin" },
        { username: "bob", role: "member" },
      ]);
      await expect(alice.client.request<"list_members">({ t: "list_members", chat })).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });
      await expect(alice.client.request<"leave_chat">({ t: "leave_chat", chat })).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });

      // The new admin can act as one; a member who is not admin leaving changes no role.
      await carol.client.request<"add_member">({ t: "add_member", chat, username: "alice" });
      await bob.client.request<"leave_chat">({ t: "leave_chat", chat });
      const after = await carol.client.request<"list_members">({ t: "list_members", chat });
      expect(after.members).toEqual([
        { username: "carol", role: "admin" },
        { username: "alice", role: "member" },
      ]);
    });

    test("the sole admin and the member next in line leaving at the same time still leave the group an admin", async () => {
      // Ten rounds: on PostgreSQL the race lost the admin in most rounds before the fix.
      for (let round = 0; round < 10; round++) {
        const [alice, bob, carol, dave] = [
          await person(`alice${round}`),
          await person(`bob${round}`),
          await person(`carol${round}`),
          await person(`dave${round}`),
        ];
        const chat = await group(alice, [bob, carol, dave]);
        await Promise.all([alice, bob].map((p) => p.client.request<"leave_chat">({ t: "leave_chat", chat })));
        const { members } = await carol.client.request<"list_members">({ t: "list_members", chat });
        expect(members.map((m) => m.username)).toEqual([carol.username, dave.username]);
        expect(members.filter((m) => m.role === "admin")).toHaveLength(1);
      }
    });

    test("close: sends refused with a clear message, history still readable; reopen: sending works again", async () => {
      const [alice, bob] = [await person("alice"), await person("bob")];
      const chat = await group(alice, [bob]);
      const before = await send(alice, chat, "before closing");
      await bob.inbox.message(before.msg);

      await expect(bob.client.request<"close_chat">({ t: "close_chat", chat })).rejects.toMatchObject({
        code: "NOT_CHAT_ADMIN",
      });
      await alice.client.request<"close_chat">({ t: "close_chat", chat });
      for (const p of [alice, bob]) await p.inbox.event({ chat, event: "closed", by: "alice" });

      for (const p of [alice, bob]) {
        const refused = send(p, chat, "while closed");
        await expect(refused).rejects.toMatchObject({ code: "CHAT_CLOSED" });
        await expect(refused).rejects.toThrow(/closed.*reopen/);
      }
      await expect(
        alice.client.request<"add_member">({ t: "add_member", chat, username: "bob" }),
      ).rejects.toMatchObject({
        code: "CHAT_CLOSED",
      });
      const history = await historyPage(bob.client, chat);
      expect(history.msgs.map(text)).toEqual(["before closing"]);
      const listed = await bob.client.request<"list_chats">({ t: "list_chats" });
      expect(listed.chats).toEqual([{ id: chat, kind: "group", closed: true, role: "member", member_count: 2 }]);
      // Closing a closed chat is accepted and announces nothing new.
      await alice.client.request<"close_chat">({ t: "close_chat", chat });

      await expect(bob.client.request<"reopen_chat">({ t: "reopen_chat", chat })).rejects.toMatchObject({
        code: "NOT_CHAT_ADMIN",
      });
      await alice.client.request<"reopen_chat">({ t: "reopen_chat", chat });
      for (const p of [alice, bob]) await p.inbox.event({ chat, event: "reopened", by: "alice" });
      await roundTrip(bob.client);
      expect(bob.inbox.events.filter((e) => e.event === "closed")).toHaveLength(1);
      const after = await send(bob, chat, "reopened");
      expect(text(await alice.inbox.message(after.msg))).toBe("reopened");

      // In a direct chat either member may close and reopen it.
      const direct = await openDirect(alice, bob);
      await bob.client.request<"close_chat">({ t: "close_chat", chat: direct });
      await alice.inbox.event({ chat: direct, event: "closed", by: "bob" });
      await expect(send(alice, direct, "x")).rejects.toMatchObject({ code: "CHAT_CLOSED" });
      await alice.client.request<"reopen_chat">({ t: "reopen_chat", chat: direct });
      await bob.inbox.event({ chat: direct, event: "reopened", by: "alice" });
      await send(alice, direct, "y");
    });

    test("list_chats: roles, member counts, the peer of direct chats, after", async () => {
      const [alice, bob, carol] = [await person("alice"), await person("bob"), await person("carol")];
      const direct = await openDirect(alice, bob);
      const mine = await group(alice, [bob, carol]);
      const theirs = await group(carol, [alice]);

      const all = await alice.client.request<"list_chats">({ t: "list_chats" });
      expect(all).toMatchObject({ more: false });
      expect(all.chats).toEqual([
        { id: direct, kind: "direct", closed: false, role: "member", member_count: 2, peer: "bob" },
        { id: mine, kind: "group", closed: false, role: "admin", member_count: 3 },
        { id: theirs, kind: "group", closed: false, role: "member", member_count: 2 },
      ]);
      const bobs = await bob.client.request<"list_chats">({ t: "list_chats" });
      expect(bobs.chats.map((c) => [c.id, c.role, c.peer])).toEqual([
        [direct, "member", "alice"],
        [mine, "member", undefined],
      ]);
      const later = await alice.client.request<"list_chats">({ t: "list_chats", after: direct });
      expect(later.chats.map((c) => c.id)).toEqual([mine, theirs]);
      expect((await alice.client.request<"list_chats">({ t: "list_chats", after: theirs })).chats).toEqual([]);
    });

    // Paging is the handler's work, the same on either storage: run it once.
    test.skipIf(storage.name !== "embedded PostgreSQL")(
      "list_chats: more chats than one page holds come in pages by after, none lost or repeated",
      async () => {
        const alice = await person("alice");
        await Promise.all(
          Array.from({ length: MAX_CHATS_PER_PAGE + 1 }, () =>
            alice.client.request<"create_group">({ t: "create_group", members: [] }),
          ),
        );
        const seen: number[] = [];
        let after: number | undefined;
        let pages = 0;
        for (;;) {
          const page = await alice.client.request<"list_chats">({
            t: "list_chats",
            ...(after !== undefined ? { after } : {}),
          });
          pages += 1;
          expect(page.chats.length).toBeLessThanOrEqual(MAX_CHATS_PER_PAGE);
          seen.push(...page.chats.map((c) => c.id));
          if (!page.more) break;
          after = page.chats.at(-1)!.id;
        }
        expect(pages).toBe(2);
        expect(seen).toHaveLength(MAX_CHATS_PER_PAGE + 1);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        expect(new Set(seen).size).toBe(seen.length);
      },
    );

    test("list_members and history: a non-member learns nothing (CHAT_UNKNOWN, as for a chat that does not exist)", async () => {
      const [alice, bob, eve] = [await person("alice"), await person("bob"), await person("eve")];
      const chat = await group(alice, [bob]);
      await send(alice, chat, "members only");
      const members = await bob.client.request<"list_members">({ t: "list_members", chat });
      expect(members).toMatchObject({
        chat,
        members: [
          { username: "alice", role: "admin" },
          { username: "bob", role: "member" },
        ],
      });

      const history = eve.client.request<"history">({ t: "history", chat });
      await expect(history).rejects.toMatchObject({ code: "CHAT_UNKNOWN" });
      await expect(eve.client.request<"list_members">({ t: "list_members", chat })).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });
      await expect(send(eve, chat, "intruder")).rejects.toMatchObject({ code: "CHAT_UNKNOWN" });
      await expect(eve.client.request<"history">({ t: "history", chat: chat + 1000 })).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });
      await expect(eve.client.request<"close_chat">({ t: "close_chat", chat })).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });
      // Nothing was pushed to eve on the way.
      await roundTrip(eve.client);
      expect(eve.inbox.msgs).toEqual([]);
    });

    test("a removed member gets no further messages, pushed or on sync, and can no longer send", async () => {
      const [alice, bob, carol, dave] = [
        await person("alice"),
        await person("bob"),
        await person("carol"),
        await person("dave"),
      ];
      const chat = await group(alice, [bob, carol, dave]);
      const m1 = await send(alice, chat, "m1");
      await carol.inbox.message(m1.msg);
      dave.client.close(); // dave is offline when he is removed

      await alice.client.request<"remove_member">({ t: "remove_member", chat, username: "carol" });
      await alice.client.request<"remove_member">({ t: "remove_member", chat, username: "dave" });
      await carol.inbox.event({ chat, event: "removed", user: "carol", by: "alice" });

      const m2 = await send(alice, chat, "m2 after the removal");
      // bob's copy of m2 is pushed in the same step as carol's would be; then carol's stream is flushed.
      await bob.inbox.message(m2.msg);
      await roundTrip(carol.client);
      expect(carol.inbox.ids).toEqual([m1.msg]);

      await expect(send(carol, chat, "still here?")).rejects.toMatchObject({ code: "CHAT_UNKNOWN" });
      await expect(carol.client.request<"history">({ t: "history", chat })).rejects.toMatchObject({
        code: "CHAT_UNKNOWN",
      });
      expect((await syncPage(carol.client)).ids).toEqual([]);
      const carolAgain = await reconnect(r, carol);
      expect((await syncPage(carolAgain)).ids).toEqual([]);
      const daveAgain = await reconnect(r, dave);
      expect((await syncPage(daveAgain)).ids).toEqual([]);
      expect((await daveAgain.request<"list_chats">({ t: "list_chats" })).chats).toEqual([]);

      // Added back, carol receives what is sent from then on, and nothing from while she was out.
      await alice.client.request<"add_member">({ t: "add_member", chat, username: "carol" });
      const m3 = await send(alice, chat, "m3");
      expect(text(await carol.inbox.message(m3.msg))).toBe("m3");
      expect((await syncPage(carolAgain)).ids).toEqual([m3.msg]);
      expect((await historyPage(carolAgain, chat)).ids).toEqual([m3.msg]);
    });
  });
}
