/**
 * Linking a device with two `smsg` processes (SECURITY.md §17.6; README "Chatting"): alice runs
 * `smsg device link` in one terminal and `smsg device add LINK` runs in another (tmux, as a
 * person would: both ask on the terminal, and neither has --yes), both show the same code, two
 * yeses add the device, which then lists both devices and marks itself. Without a terminal
 * both refuse before a link is opened (exit 2); a link used once is refused (exit 11).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CLI } from "../../bench/relay-process.js";
import { TmuxTerminal } from "./tmux.js";
import { createWorld, expectOk, lines } from "./world.js";

const world = createWorld("device-link");
const terminals: TmuxTerminal[] = [];
beforeAll(async () => {
  await world.startRelay();
  await world.join("alice");
  await world.join("bob");
  expectOk(await world.smsg("alice", ["chat", "open", "bob"]));
}, 120_000);
afterAll(async () => {
  for (const t of terminals) await t.kill();
  await world.close();
});

/** `smsg ARGS` as `user` in a fresh, wide terminal (a link is one line of about 180 characters). */
async function smsgIn(user: string, args: string[]): Promise<TmuxTerminal> {
  const t = await TmuxTerminal.start(
    world.root,
    [process.execPath, CLI, ...args],
    { SMSG_HOME: world.home(user), SMSG_LOG_LEVEL: "silent" },
    250,
    40,
  );
  terminals.push(t);
  return t;
}

const NO_TERMINAL =
  "smsg: linking a device asks you to compare a code shown on both machines, and stdin is not a terminal: " +
  "run it on a terminal (there is no --yes: the comparison is what keeps others from adding a device)\n";

describe("smsg device link / device add", () => {
  test("without a terminal both refuse, before any link is opened (exit 2)", { timeout: 120_000 }, async () => {
    for (const [user, args] of [
      ["alice", ["device", "link"]],
      ["newbie", ["device", "add", "smsg://127.0.0.1:1/AAAA/device/alice/x/y/z"]],
    ] as const) {
      const r = await world.smsg(user, [...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(NO_TERMINAL);
      expect(r.stdout).toBe("");
    }
  });

  test("two terminals, the same code, two yeses: the new machine is device 2", { timeout: 180_000 }, async () => {
    const e = await smsgIn("alice", ["device", "link"]);
    const shown = await e.waitFor(/^smsg:\/\/\S+\/device\/alice\/\S+$/m);
    const link = /^(smsg:\/\/\S+\/device\/alice\/\S+)$/m.exec(shown)![1]!;
    expect(shown).toMatch(/On the new machine, run: smsg device add LINK/);

    const n = await smsgIn("laptop", ["device", "add", link, "--name", "Laptop"]);
    const nScreen = await n.waitFor(/Does the existing device show the same code\? \[y\/N\]/);
    const eScreen = await e.waitFor(/Does the new device show the same code\? \[y\/N\]/);
    const codeN = /^Code: (\d{6})$/m.exec(nScreen)![1];
    const codeE = /^Code: (\d{6})$/m.exec(eScreen)![1];
    expect(codeN).toBe(codeE);
    const fingerprint = /^This device's fingerprint: ([0-9a-f ]{44})$/m.exec(nScreen)![1]!;
    expect(eScreen).toContain(`The new device "Laptop" (fingerprint ${fingerprint}) answered.`);

    await e.type("y");
    await e.press("Enter");
    await n.type("y");
    await n.press("Enter");
    expect(await e.exitCode(60_000)).toBe(0);
    expect(await n.exitCode(60_000)).toBe(0);
    expect(await e.screen()).toMatch(/device 2 \(Laptop\) was added to alice's account/);
    expect(await n.screen()).toMatch(/this machine is device 2 of alice on 127\.0\.0\.1:\d+; profile in /);

    const fromLaptop = lines(expectOk(await world.smsg("laptop", ["device", "list", "--json"])));
    expect(fromLaptop.map((l) => [l["id"], l["name"], l["current"]])).toEqual([
      [1, null, false],
      [2, "Laptop", true],
    ]);
    expect(fromLaptop[1]!["fingerprint"]).toBe(fingerprint);
    const fromAlice = lines(expectOk(await world.smsg("alice", ["device", "list", "--json"])));
    expect(fromAlice.map((l) => [l["id"], l["name"], l["current"]])).toEqual([
      [1, null, true],
      [2, "Laptop", false],
    ]);
    // The snapshot brought alice's chat with bob; no earlier messages.
    const chats = lines(expectOk(await world.smsg("laptop", ["chat", "list", "--json"])));
    expect(chats.map((c) => c["peer"])).toEqual(["bob"]);

    // The link was for one device.
    const again = await smsgIn("phone", ["device", "add", link]);
    expect(await again.exitCode(60_000)).toBe(11);
    expect(await again.screen()).toMatch(/smsg: the device link ended: the relay does not know this link/);
  });
});
