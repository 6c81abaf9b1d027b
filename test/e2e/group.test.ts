/**
 * Group chat end to end with the built `smsg` binary and a real relay process: alice, bob and
 * carol join; alice creates a group of three; messages go both ways; `chat members` shows
 * everyone announced; alice removes carol; what bob sends afterwards reaches alice but not
 * carol, whose history stops where she was removed. Then display names and signed membership
 * changes as a member sees them (`listen --json`), the only admin leaving and handing over to
 * the member the relay promotes, a group message written while the relay is down and sent by
 * the next command, and `send USER` opening a direct chat on its own. Both scenarios are steps
 * that report separately (test/helpers/steps.ts).
 */
import { afterAll, beforeAll, expect } from "vitest";
import { EXIT } from "../../src/exit-codes.js";
import { scenario } from "../helpers/steps.js";
import { type JsonListener, startJsonListener } from "./json-listener.js";
import { bodies, createWorld, expectOk, lines } from "./world.js";

const world = createWorld("group");
beforeAll(() => world.startRelay());
afterAll(() => world.close());
const smsg = (user: string, args: string[]) => world.smsg(user, args);

scenario("smsg, groups, end to end: a group of three, a member removed cannot read what follows", (step) => {
  let chat = "";
  step("alice, bob and carol join; alice creates a group of three", async () => {
    for (const u of ["alice", "bob", "carol"]) await world.join(u);
    const created = lines(
      expectOk(await smsg("alice", ["chat", "create", "team", "--members", "bob,carol", "--json"])),
    )[0]!;
    expect(created).toMatchObject({
      type: "chat",
      kind: "group",
      name: "team",
      members: ["alice", "bob", "carol"],
      admins: ["alice"],
      epoch: 1,
    });
    chat = String(created["chat"]);
  });

  step("messages go every way, by chat name and by id", async () => {
    expectOk(await smsg("alice", ["send", "team", "hello team"]));
    expect(bodies(expectOk(await smsg("bob", ["history", chat, "--json"])))).toEqual(["hello team"]);
    expectOk(await smsg("bob", ["send", "team", "hi from bob"]));
    expect(bodies(expectOk(await smsg("carol", ["history", chat, "--json"])))).toEqual(["hello team", "hi from bob"]);
    expectOk(await smsg("carol", ["send", chat, "carol says hi"]));
    expect(bodies(expectOk(await smsg("alice", ["history", chat, "--json"])))).toEqual([
      "hello team",
      "hi from bob",
      "carol says hi",
    ]);
  });

  step("chat members shows everyone, announced", async () => {
    const members = lines(expectOk(await smsg("bob", ["chat", "members", chat, "--json"])));
    expect(members.map((m) => [m["username"], m["role"], m["announced"]])).toEqual([
      ["alice", "admin", true],
      ["bob", "member", true],
      ["carol", "member", true],
    ]);
  });

  step("alice removes carol: bob's next message is for alice only", async () => {
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

scenario("smsg, groups, end to end: display names, membership changes, the only admin leaving", (step) => {
  let listener: JsonListener;
  let chat = 0;
  step("dora (with a display name), erin and finn join", async () => {
    await world.join("dora", ["--display-name", "Dora D."]);
    for (const u of ["erin", "finn"]) await world.join(u);
  });

  step("a member's listen --json shows the signed group state, the creator's display name, the message", async () => {
    listener = await startJsonListener(world, "erin");
    const created = lines(
      expectOk(await smsg("dora", ["chat", "create", "crew", "--members", "erin,finn", "--json"])),
    )[0]!;
    chat = created["chat"] as number;
    expectOk(await smsg("dora", ["send", "crew", "hi crew"]));
    expect(await listener.line((e) => e["type"] === "group_state", "the group_state line")).toMatchObject({
      chat,
      epoch: 1,
      by: "dora",
      name: "crew",
      members: ["dora", "erin", "finn"],
      admins: ["dora"],
      bootstrap: true,
    });
    expect(await listener.line((e) => e["type"] === "profile", "dora's profile line")).toMatchObject({
      user: "dora",
      display_name: "Dora D.",
    });
    expect(await listener.line((e) => e["type"] === "message", "the message line")).toMatchObject({
      chat,
      from: "dora",
      body: "hi crew",
    });
    expect(expectOk(await smsg("finn", ["history", "crew"])).stdout).toMatch(/Dora D\. \(@dora\): hi crew\n$/);
  });

  step("dora, the only admin, leaves: she signs erin (first to join after her) in as admin", async () => {
    expect(expectOk(await smsg("dora", ["chat", "leave", "crew"])).stdout).toMatch(
      /^left chat \d+; erin is its admin now\n$/,
    );
    expect(
      await listener.line((e) => e["type"] === "group_state" && e["epoch"] === 2, "the group_state line of epoch 2"),
    ).toMatchObject({
      by: "dora",
      members: ["erin", "finn"],
      admins: ["erin"],
      removed: ["dora"],
      bootstrap: false,
    });
    listener.child.kill("SIGINT");
    const members = expectOk(await smsg("finn", ["chat", "members", "crew", "--json"]));
    expect(lines(members).map((m) => [m["username"], m["role"], m["announced"], m["listed"]])).toEqual([
      ["erin", "admin", true, true],
      ["finn", "member", true, true],
    ]);
    expect(members.stderr).toBe("");
  });

  step("the relay made erin admin too: her signed change is accepted by finn", async () => {
    expectOk(await smsg("erin", ["chat", "add", "crew", "dora"]));
    expectOk(await smsg("finn", ["send", "crew", "welcome back"]));
    expect(bodies(expectOk(await smsg("dora", ["history", "crew", "--json"])))).toEqual(["hi crew", "welcome back"]);
  });

  step("written while the relay is down: stored, encrypted and sent by the next command", async () => {
    await world.stopRelay();
    const offline = await smsg("finn", ["send", "crew", "written offline"]);
    expect(offline.code).toBe(EXIT.relayUnreachable);
    expect(offline.stderr).toMatch(/is queued and the next smsg command that reaches the relay sends it/);
    await world.startRelay();
    expectOk(await smsg("finn", ["chat", "list"]));
    expect(bodies(expectOk(await smsg("erin", ["history", "crew", "--json"])))).toEqual([
      "hi crew",
      "welcome back",
      "written offline",
    ]);
  });

  step("send USER without `chat open USER` first opens the direct chat", async () => {
    const direct = lines(expectOk(await smsg("finn", ["send", "dora", "a direct hello", "--json"])))[0]!;
    expect(direct).toMatchObject({ type: "sent", seq: 1 });
    expect(bodies(expectOk(await smsg("dora", ["history", "finn", "--json"])))).toEqual(["a direct hello"]);
  });
});
