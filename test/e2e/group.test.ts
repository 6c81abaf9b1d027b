/**
 * Group chat end to end with the built `smsg` binary and a real relay process: alice, bob and
 * carol join; alice creates a group of three; messages go both ways; `chat members` shows
 * everyone announced; alice removes carol; what bob sends afterwards reaches alice but not
 * carol, whose history stops where she was removed.
 */
import { afterAll, describe, expect, test } from "vitest";
import { bodies, createWorld, expectOk, lines } from "./world.js";

const world = createWorld("group");
afterAll(() => world.close());
const smsg = (user: string, args: string[]) => world.smsg(user, args);

describe("smsg, groups, end to end", () => {
  test("a group of three, messages both ways, a member removed cannot read what follows", async () => {
    await world.startRelay();
    for (const u of ["alice", "bob", "carol"]) await world.join(u);

    const created = lines(expectOk(await smsg("alice", ["chat", "create", "team", "--members", "bob,carol", "--json"])))[0]!;
    expect(created).toMatchObject({ type: "chat", kind: "group", name: "team", members: ["alice", "bob", "carol"], admins: ["alice"], epoch: 1 });
    const chat = String(created["chat"]);

    expectOk(await smsg("alice", ["send", "team", "hello team"]));
    expect(bodies(expectOk(await smsg("bob", ["history", chat, "--json"])))).toEqual(["hello team"]);
    expectOk(await smsg("bob", ["send", "team", "hi from bob"]));
    expect(bodies(expectOk(await smsg("carol", ["history", chat, "--json"])))).toEqual(["hello team", "hi from bob"]);
    expectOk(await smsg("carol", ["send", chat, "carol says hi"]));
    expect(bodies(expectOk(await smsg("alice", ["history", chat, "--json"])))).toEqual(["hello team", "hi from bob", "carol says hi"]);

    const members = lines(expectOk(await smsg("bob", ["chat", "members", chat, "--json"])));
    expect(members.map((m) => [m["username"], m["role"], m["announced"]])).toEqual([
      ["alice", "admin", true],
      ["bob", "member", true],
      ["carol", "member", true],
    ]);

    // --- alice removes carol; bob's next message is for alice only --------------------------
    expectOk(await smsg("alice", ["chat", "remove", chat, "carol"]));
    expectOk(await smsg("bob", ["send", chat, "carol is gone"]));
    expect(bodies(expectOk(await smsg("alice", ["history", chat, "--json"])))).toEqual([
      "hello team",
      "hi from bob",
      "carol says hi",
      "carol is gone",
    ]);
    const carolAfter = await smsg("carol", ["history", chat, "--json", "--offline"]);
    expect(bodies(carolAfter)).not.toContain("carol is gone");
    const carolOnline = await smsg("carol", ["history", chat, "--json"]);
    expect(bodies(carolOnline)).not.toContain("carol is gone");
  });
});
