/**
 * Group membership as members experience it, with the built `smsg` and a relay process (issue
 * "what a new user ran into", items 1-5): a second `chat create` of the same name is refused; a
 * member added later sees no gap for what came before; a member removed while offline is told
 * so with exit 16, sees it in `chat list`, and keeps its history; a member who left is told
 * "you left team" (exit 16) and never to reopen; the admin's next look signs the leaver out,
 * and the others see that they left.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EXIT } from "../../src/exit-codes.js";
import { bodies, createWorld, expectOk, lines } from "./world.js";

const world = createWorld("group-membership");
const smsg = (user: string, args: string[]) => world.smsg(user, args);
let chat = "";

// Hook timeouts that fit a busy 2-core machine: a relay process and five joins.
beforeAll(async () => {
  await world.startRelay();
  for (const u of ["alice", "bob", "carol", "dave", "erin"]) await world.join(u);
}, 120_000);
afterAll(() => world.close(), 60_000);

describe("smsg, group membership as members see it", () => {
  test("a second group of the same name is refused (exit 2), unless --allow-duplicate-name", async () => {
    const created = lines(
      expectOk(await smsg("alice", ["chat", "create", "team", "--members", "bob,carol", "--json"])),
    );
    chat = String(created[0]!["chat"]);
    const again = await smsg("alice", ["chat", "create", "team", "--members", "dave"]);
    expect(again.code).toBe(EXIT.usage);
    expect(again.stderr).toBe(
      `smsg: you already have a chat named "team" (chat ${chat}): choose another name, ` +
        "or add --allow-duplicate-name and name each by its id\n",
    );
    expect(lines(expectOk(await smsg("alice", ["chat", "list", "--json"]))).map((c) => c["name"])).toEqual(["team"]);
    const twin = await smsg("alice", ["chat", "create", "team", "--members", "dave", "--allow-duplicate-name"]);
    expect(twin.code, twin.stderr).toBe(0);
    // The name now names two chats: the id still works.
    expect((await smsg("alice", ["send", "team", "which one?"])).code).toBe(EXIT.chatNotFound);
  });

  test("a member added later sees no gap for what was sent before they joined", async () => {
    expectOk(await smsg("alice", ["send", chat, "one"]));
    expectOk(await smsg("alice", ["send", chat, "two"]));
    expectOk(await smsg("alice", ["chat", "add", chat, "dave"]));
    expectOk(await smsg("alice", ["send", chat, "three"]));
    const seen = expectOk(await smsg("dave", ["history", chat, "--json"]));
    expect(bodies(seen)).toEqual(["three"]);
    expect(lines(seen).filter((l) => l["type"] === "gap")).toEqual([]);
    expect(expectOk(await smsg("dave", ["history", chat])).stdout).not.toMatch(/missing/);
  });

  test("removed while offline: told so with exit 16, shown in chat list, history kept", async () => {
    expect(bodies(expectOk(await smsg("carol", ["history", chat, "--json"])))).toEqual(["one", "two", "three"]);
    expectOk(await smsg("alice", ["chat", "remove", chat, "carol"]));
    const sent = await smsg("carol", ["send", chat, "hello?"]);
    expect(sent.code).toBe(EXIT.notAMember);
    expect(sent.stderr).toMatch(
      /smsg: you were removed from team \(the relay no longer lists you in it\): nothing was sent\n$/,
    );
    expect(sent.stderr).not.toMatch(/kept changing/);
    const list = expectOk(await smsg("carol", ["chat", "list", "--json"]));
    expect(lines(list)).toEqual([expect.objectContaining({ chat: Number(chat), membership: "removed" })]);
    expect(expectOk(await smsg("carol", ["chat", "list"])).stdout).toMatch(/team\s+group, you were removed/);
    expect(bodies(await smsg("carol", ["history", chat, "--json"]))).toEqual(["one", "two", "three"]);
  });

  test("a member who left is told so (exit 16), never to reopen; the admin signs them out and others see it", async () => {
    expectOk(await smsg("bob", ["chat", "leave", chat]));
    const sent = await smsg("bob", ["send", chat, "still here?"]);
    expect(sent.code).toBe(EXIT.notAMember);
    expect(sent.stderr).toBe("smsg: you left team: nothing was sent\n");
    const reopen = await smsg("bob", ["chat", "reopen", chat]);
    expect(reopen.code).toBe(EXIT.notAMember);
    expect(reopen.stderr).toBe("smsg: you left team: it cannot be reopened (an admin can add you again)\n");
    expect(expectOk(await smsg("bob", ["chat", "list"])).stdout).toMatch(/team\s+group, you left/);

    // dave hears of it from the relay's list, once.
    const daveFirst = await smsg("dave", ["chat", "members", chat]);
    expect(daveFirst.code).toBe(0);
    expect(daveFirst.stderr).toBe(
      "smsg: warning: bob left the chat (the relay says; no admin has signed a membership without them yet)\n",
    );
    expect((await smsg("dave", ["chat", "members", chat])).stderr).toBe("");

    // alice's next look signs bob out; after that nobody is warned.
    const alice = await smsg("alice", ["chat", "members", chat, "--json"]);
    expect(alice.code).toBe(0);
    expect(alice.stderr).toMatch(
      /smsg: warning: bob left the chat: the membership you signed \(epoch \d+\) leaves them out\n/,
    );
    expect(lines(alice).map((m) => m["username"])).toEqual(["alice", "dave"]);
    const events = lines(expectOk(await smsg("dave", ["history", chat, "--json"])));
    expect(events.filter((l) => l["type"] === "gap")).toEqual([]);
    const after = expectOk(await smsg("dave", ["chat", "members", chat, "--json"]));
    expect(lines(after).map((m) => [m["username"], m["listed"]])).toEqual([
      ["alice", true],
      ["dave", true],
    ]);
    expectOk(await smsg("alice", ["chat", "members", chat]));
  });
});
