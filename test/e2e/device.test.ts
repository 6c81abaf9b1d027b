/**
 * `smsg device list | rename | remove` with the built `smsg` and a relay process (SECURITY.md
 * §17.2, §17.7; README "Chatting" and "JSON output"): the list and its `device` JSON lines,
 * names, the current flag seen from each of two devices, the command-line errors (one
 * sentence, the documented exit code, nothing changed), and removal: refused without a
 * terminal unless --yes, asked on a terminal (tmux), after which the removed device's login is
 * refused. The second device is made in the test process the way `device link` and `device
 * add` make one (test/client/engine/add-device.ts), against the same relay process.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CLI } from "../../bench/relay-process.js";
import { closeAccount, connectAccount, openLocalAccount } from "../../client/engine/open-account.js";
import { refreshOwnDevices } from "../../client/engine/own-devices.js";
import { addDeviceFor } from "../client/engine/add-device.js";
import { TmuxTerminal } from "./tmux.js";
import { type Result, createWorld, expectOk, lines } from "./world.js";

const world = createWorld("device");
const terminals: TmuxTerminal[] = [];
beforeAll(async () => {
  await world.startRelay();
  await world.join("alice");
}, 120_000);
afterAll(async () => {
  for (const t of terminals) await t.kill();
  await world.close();
});

const FINGERPRINT = /^[0-9a-f]{8}( [0-9a-f]{8}){4}$/;

/** The `device` lines of `device list --json`, as [id, name, current]. */
function listed(r: Result): [unknown, unknown, unknown][] {
  return lines(expectOk(r)).map((l) => [l["id"], l["name"], l["current"]]);
}

/** Adds device `dir`'s profile (SMSG_HOME of `user`) to alice's account. */
async function addLaptop(user: string): Promise<void> {
  const acct = openLocalAccount({ dir: world.home("alice") });
  try {
    const { relay } = await connectAccount(acct);
    try {
      await refreshOwnDevices(acct, relay);
      closeAccount(await addDeviceFor(acct, relay, world.home(user)));
    } finally {
      relay.close();
    }
  } finally {
    closeAccount(acct);
  }
}

/** A failure: the exit code, one `smsg: …` line on stderr, nothing on stdout. */
function expectFailure(r: Result, code: number, sentence: string): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toBe(`smsg: ${sentence}\n`);
  expect(r.stdout).toBe("");
}

describe("smsg device", () => {
  test(
    "list: one device, this one, with its fingerprint; --json prints one `device` line",
    { timeout: 120_000 },
    async () => {
      const r = lines(expectOk(await world.smsg("alice", ["device", "list", "--json"])));
      expect(r).toHaveLength(1);
      const d = r[0]!;
      expect(Object.keys(d).sort()).toEqual([
        "added",
        "current",
        "fingerprint",
        "id",
        "last_seen",
        "name",
        "type",
        "v",
      ]);
      expect(d).toMatchObject({ v: 1, type: "device", id: 1, name: null, current: true });
      expect(d["fingerprint"]).toMatch(FINGERPRINT);
      // whoami names this device's key the way device list does.
      const me = lines(expectOk(await world.smsg("alice", ["whoami", "--offline", "--json"])))[0]!;
      expect(me["device_fingerprint"]).toBe(d["fingerprint"]);
      expect(typeof d["added"]).toBe("number");
      expect(typeof d["last_seen"]).toBe("number");
      const text = expectOk(await world.smsg("alice", ["device", "list"])).stdout;
      expect(text).toMatch(
        new RegExp(
          `^1  \\(no name\\) \\(this device\\)  fingerprint ${d["fingerprint"] as string}` +
            "  added \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  last seen \\d{4}-",
        ),
      );
    },
  );

  test(
    "rename, and the command-line errors: one sentence, the documented exit code",
    { timeout: 120_000 },
    async () => {
      const r = lines(expectOk(await world.smsg("alice", ["device", "rename", "Desktop", "--json"])));
      expect(r.map((l) => [l["type"], l["id"], l["name"], l["current"]])).toEqual([["device", 1, "Desktop", true]]);
      expect(expectOk(await world.smsg("alice", ["device", "rename", "1", "Büro"])).stdout).toBe(
        "device 1 is now named Büro\n",
      );
      expect(listed(await world.smsg("alice", ["device", "list", "--json"]))).toEqual([[1, "Büro", true]]);

      expectFailure(
        await world.smsg("alice", ["device", "rename", "5", "Phone"]),
        13,
        "your account has no device 5 (smsg device list shows its devices)",
      );
      const badName = "a device name is one line of 1 to 64 bytes, not blank and without control characters";
      expectFailure(await world.smsg("alice", ["device", "rename", "x".repeat(65)]), 2, badName);
      expectFailure(await world.smsg("alice", ["device", "rename", "1", "  "]), 2, badName);
      expectFailure(
        await world.smsg("alice", ["device", "rename", "one", "Phone"]),
        2,
        'not a device id: "one" (smsg device list shows the ids)',
      );
      expectFailure(
        await world.smsg("alice", ["device", "remove", "0", "--yes"]),
        2,
        'not a device id: "0" (smsg device list shows the ids)',
      );
      expectFailure(
        await world.smsg("alice", ["device", "remove", "7", "--yes"]),
        13,
        "your account has no device 7 (smsg device list shows its devices)",
      );
      expectFailure(
        await world.smsg("alice", ["device", "remove", "1", "--yes"]),
        2,
        "device 1 is your account's only device: an account keeps at least one",
      );
      expectFailure(
        await world.smsg("alice", ["device", "remove", "1"]),
        2,
        "smsg device remove asks before removing a device, and stdin is not a terminal: add --yes to remove it without asking",
      );
      const none = await world.smsg("alice", ["device"]);
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/say list, rename, remove, link or add/);
      // Nothing of it changed the list.
      expect(listed(await world.smsg("alice", ["device", "list", "--json"]))).toEqual([[1, "Büro", true]]);
    },
  );

  test(
    "two devices: each lists both and marks itself; remove asks on a terminal, and the removed device can no longer log in",
    { timeout: 180_000 },
    async () => {
      await addLaptop("laptop");
      expectOk(await world.smsg("alice", ["device", "rename", "2", "Laptop"]));
      expect(listed(await world.smsg("alice", ["device", "list", "--json"]))).toEqual([
        [1, "Büro", true],
        [2, "Laptop", false],
      ]);
      // The laptop knows no names yet (they come inside the encryption, §17.7), but the same devices and fingerprints.
      const fromLaptop = lines(expectOk(await world.smsg("laptop", ["device", "list", "--json"])));
      expect(fromLaptop.map((l) => [l["id"], l["current"]])).toEqual([
        [1, false],
        [2, true],
      ]);
      const fromAlice = lines(expectOk(await world.smsg("alice", ["device", "list", "--json"])));
      expect(fromLaptop.map((l) => l["fingerprint"])).toEqual(fromAlice.map((l) => l["fingerprint"]));

      // On a terminal, remove asks; "n" keeps the device.
      const no = await smsgIn("alice", ["device", "remove", "2"]);
      await no.waitFor(/2 {2}Laptop {2}fingerprint/);
      await no.waitFor(/Remove device 2 from your account\? It will no longer be able to log in\. \[y\/N\]/);
      await no.type("n");
      await no.press("Enter");
      expect(await no.exitCode()).toBe(2);
      expect(await no.screen()).toMatch(/smsg: not removed: cancelled/);
      expect(listed(await world.smsg("alice", ["device", "list", "--json"]))).toHaveLength(2);

      const yes = await smsgIn("alice", ["device", "remove", "2"]);
      await yes.waitFor(/\[y\/N\]/);
      await yes.type("y");
      await yes.press("Enter");
      expect(await yes.exitCode()).toBe(0);
      expect(await yes.screen()).toMatch(/device 2 was removed from alice's account/);
      expect(listed(await world.smsg("alice", ["device", "list", "--json"]))).toEqual([[1, "Büro", true]]);

      const refused = await world.smsg("laptop", ["whoami"]);
      expect(refused.code, refused.stderr).toBe(9);
      expect(refused.stderr).toMatch(/removed from its account/);

      // A device removes itself (--yes, no terminal): the relay answers, then closes its connection.
      await addLaptop("tablet");
      const self = await world.smsg("tablet", ["device", "remove", "3", "--yes", "--json"]);
      expect(lines(expectOk(self))).toEqual([{ v: 1, type: "device_removed", id: 3, version: 5, current: true }]);
      expect((await world.smsg("tablet", ["whoami"])).code).toBe(9);
      // alice learns it from the relay's list, and is told (SECURITY.md §17.4's table).
      const after = await world.smsg("alice", ["device", "list", "--json"]);
      expect(after.stderr).toBe("smsg: a device was removed from your account (device 3)\n");
      expect(lines(after).map((l) => [l["id"], l["name"], l["current"]])).toEqual([[1, "Büro", true]]);
    },
  );
});

/** `smsg ARGS` as `user` in a fresh terminal. */
async function smsgIn(user: string, args: string[]): Promise<TmuxTerminal> {
  const t = await TmuxTerminal.start(
    world.root,
    [process.execPath, CLI, ...args],
    { SMSG_HOME: world.home(user), SMSG_LOG_LEVEL: "silent" },
    160,
    30,
  );
  terminals.push(t);
  return t;
}
