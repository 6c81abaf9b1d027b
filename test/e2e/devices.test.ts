/**
 * Several devices of one account end to end with the built `smsg` and a relay process (issue 15;
 * SECURITY.md §17, §18; README "A new machine"): alice joins with an account passphrase, logs in
 * on a second machine with `smsg login` (which sees the chat her first send made: the login
 * backup keeps itself current), links a third with `smsg device link` / `device add`; after a
 * passphrase change on device 1 the laptop says once that it no longer refreshes the backup;
 * bob's message reaches all of alice's devices; what alice sends from one appears on the others as
 * hers; a group with a two-device member works both ways; `device remove` cuts the removed device
 * off; a device list the relay forged (a device alice's account never signed) is refused by bob,
 * who is told and encrypts to none of it. Each phase is a step (test/helpers/steps.ts).
 */
import { afterAll, beforeAll, expect } from "vitest";
import { EXIT } from "../../src/exit-codes.js";
import { scenario } from "../helpers/steps.js";
import { injectDeviceInRelay } from "./forge-device.js";
import { type Result, bodies, createWorld, lines, messages } from "./world.js";

const world = createWorld("devices");
afterAll(() => world.close());
const ACCOUNT_PASSPHRASE = "correct Horse battery staple 7 orbit Lamp quiet !";
const withAccountPassphrase = { env: { SMSG_ACCOUNT_PASSPHRASE: ACCOUNT_PASSPHRASE } };
const smsg = (user: string, args: string[]) => world.smsg(user, args);
/** Exit 0 (stderr may carry warnings: a first contact's key pinned, a device added). */
function ok(r: Result): Result {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

scenario("smsg, one account on several devices, end to end", (step) => {
  let link = "";
  let direct = 0;
  let group = 0;
  beforeAll(() => world.startRelay(), 120_000);

  step("alice joins with an account passphrase, bob joins; they chat", async () => {
    ok(
      await world.smsg(
        "alice",
        ["join", await world.invite(), "--name", "alice", "--account-passphrase"],
        withAccountPassphrase,
      ),
    );
    await world.join("bob");
    // The send adds bob as a contact and the chat, and refreshes the login backup with them
    // (SECURITY.md §18.6 "Update"): no passphrase change is needed for a new machine to see them.
    const sent = ok(await smsg("alice", ["send", "bob", "hello bob"]));
    expect(sent.stderr).not.toMatch(/login backup/);
    expect(bodies(ok(await smsg("bob", ["history", "alice", "--json"])))).toEqual(["hello bob"]);
    const who = ok(await smsg("alice", ["whoami", "--offline", "--json"]));
    link = String(lines(who)[0]!["relay_link"]);
    direct = messages(ok(await smsg("bob", ["history", "alice", "--json"])))[0]!["chat"] as number;
  });

  step("smsg login on a new machine gives alice her account and her chats (device 2)", async () => {
    const r = ok(await world.smsg("alice-laptop", ["login", link, "alice", "--json"], withAccountPassphrase));
    expect(lines(r).at(-1)).toMatchObject({ username: "alice", device: 2, contacts: 1, chats: 1 });
    const chats = lines(ok(await smsg("alice-laptop", ["chat", "list", "--json", "--offline"])));
    expect(chats.map((c) => c["chat"])).toContain(direct);
    const wrong = await world.smsg("mallory-laptop", ["login", link, "alice"], {
      env: { SMSG_ACCOUNT_PASSPHRASE: "not the passphrase of alice at all, 9 words!" },
    });
    expect(wrong.code, wrong.stderr).toBe(EXIT.loginFailed);
    expect(wrong.stderr).toMatch(/^smsg: .+\n$/);
  });

  step("bob's message reaches both of alice's devices, once each", async () => {
    ok(await smsg("bob", ["send", "alice", "to every alice"]));
    expect(bodies(ok(await smsg("alice", ["history", "bob", "--json"])))).toEqual(["hello bob", "to every alice"]);
    // A new device has no history from before it was added (README "A new machine").
    expect(bodies(ok(await smsg("alice-laptop", ["history", "bob", "--json"])))).toEqual(["to every alice"]);
  });

  step("what alice sends from the laptop reaches bob and shows on her first device as hers", async () => {
    ok(await smsg("alice-laptop", ["send", "bob", "from the laptop"]));
    const atBob = messages(ok(await smsg("bob", ["history", "alice", "--json"])));
    expect(atBob.at(-1)).toMatchObject({ from: "alice", body: "from the laptop" });
    const atAlice = messages(ok(await smsg("alice", ["history", "bob", "--json"])));
    expect(atAlice.at(-1)).toMatchObject({ from: "alice", body: "from the laptop" });
    expect(atAlice.filter((m) => m["body"] === "from the laptop")).toHaveLength(1);
  });

  step(
    "after the passphrase changed on device 1, the laptop says once that it no longer refreshes the backup",
    async () => {
      const NEW = { env: { SMSG_ACCOUNT_PASSPHRASE: "another Account passphrase 31 for the Laptop step ?" } };
      ok(await world.smsg("alice", ["passphrase", "change"], NEW));
      // An offline change (the laptop verifies bob), then an online command: its refresh is refused.
      ok(await smsg("alice-laptop", ["verify", "bob", "--confirm"]));
      const first = ok(await smsg("alice-laptop", ["chat", "list", "--json"]));
      expect(first.stderr).toContain(
        "smsg: warning: the account passphrase was changed or removed on another device, so this device no longer " +
          "refreshes the login backup (run smsg passphrase change here to take it over)\n",
      );
      const again = ok(await smsg("alice-laptop", ["chat", "list", "--json"]));
      expect(again.stderr).not.toMatch(/login backup/);
    },
  );

  step("a group with a two-device member works both ways", async () => {
    await world.join("carol");
    const created = lines(ok(await smsg("bob", ["chat", "create", "team", "--members", "alice,carol", "--json"])))[0]!;
    group = created["chat"] as number;
    ok(await smsg("bob", ["send", "team", "hello team"]));
    for (const d of ["alice", "alice-laptop", "carol"])
      expect(bodies(ok(await smsg(d, ["history", String(group), "--json"]))), d).toEqual(["hello team"]);
    ok(await smsg("alice-laptop", ["send", String(group), "laptop to team"]));
    for (const d of ["bob", "carol", "alice"])
      expect(bodies(ok(await smsg(d, ["history", String(group), "--json"]))), d).toEqual([
        "hello team",
        "laptop to team",
      ]);
  });

  step("device list shows both devices on each, the current one marked", async () => {
    for (const [d, me] of [
      ["alice", 1],
      ["alice-laptop", 2],
    ] as const) {
      const list = lines(ok(await smsg(d, ["device", "list", "--json"])));
      expect(
        list.map((l) => [l["id"], l["current"]]),
        d,
      ).toEqual([
        [1, me === 1],
        [2, me === 2],
      ]);
    }
  });

  step("device remove cuts the laptop off from what follows", async () => {
    ok(await smsg("alice", ["device", "remove", "2", "--yes"]));
    ok(await smsg("bob", ["send", "alice", "after the removal"]));
    expect(bodies(ok(await smsg("alice", ["history", "bob", "--json"])))).toContain("after the removal");
    const gone = await smsg("alice-laptop", ["history", "bob", "--json"]);
    expect(gone.code, gone.stderr).toBe(EXIT.loginFailed);
    expect(bodies(await smsg("alice-laptop", ["history", "bob", "--json", "--offline"]))).not.toContain(
      "after the removal",
    );
    ok(await smsg("bob", ["send", "team", "team after the removal"]));
    expect(bodies(ok(await smsg("alice", ["history", String(group), "--json"])))).toContain("team after the removal");
  });

  step("a device the relay injects into alice's list is refused by bob, who is told", async () => {
    await world.stopRelay();
    await injectDeviceInRelay(world.relayData, "alice");
    await world.startRelay();
    const r = await smsg("bob", ["send", "alice", "only to alice's real devices"]);
    expect(r.stderr).toMatch(/a device list for alice that alice's account did not sign was refused/);
    // Nothing went out: bob encrypts to no device alice did not sign, and the relay takes no less.
    expect(r.code).toBe(EXIT.failure);
  });
});
