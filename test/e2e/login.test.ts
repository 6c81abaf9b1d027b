/**
 * `smsg login` with the built `smsg` and a relay process (SECURITY.md §18.6; README "Log in on
 * a new machine"): alice joins with an account passphrase after opening a chat with bob; a
 * second profile logs in with the relay link whoami prints and becomes device 2 of the same
 * account, with alice's chat, contact and display name from the backup; a wrong passphrase, a folder that
 * holds a profile and bad input fail with their exit codes and write nothing. Sending between
 * the devices is the fan-out's (not here).
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createWorld, expectOk, lines } from "./world.js";

const world = createWorld("login");
const STRONG = "correct Horse battery staple 7 orbit Lamp quiet !";
const withPassphrase = { env: { SMSG_ACCOUNT_PASSPHRASE: STRONG } };
let link = "";
let aliceFingerprint = "";

beforeAll(async () => {
  await world.startRelay();
  await world.join("bob");
  await world.join("alice", ["--display-name", "Alice A."]);
  expectOk(await world.smsg("alice", ["chat", "open", "bob"]));
  expectOk(await world.smsg("alice", ["passphrase", "set"], withPassphrase));
  const me = lines(expectOk(await world.smsg("alice", ["whoami", "--offline", "--json"])))[0]!;
  link = me["relay_link"] as string;
  aliceFingerprint = me["fingerprint"] as string;
}, 180_000);
afterAll(() => world.close());

const isEmpty = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0;

describe("smsg login", () => {
  test("a wrong passphrase: exit 9, one sentence, no profile", { timeout: 120_000 }, async () => {
    const r = await world.smsg("laptop-wrong", ["login", link, "alice"], {
      env: { SMSG_ACCOUNT_PASSPHRASE: `${STRONG}x` },
    });
    expect(r.code, r.stderr).toBe(9);
    expect(r.stderr).toBe(
      "smsg: the relay refused the passphrase log-in as alice: wrong account passphrase, no such account, or this " +
        "account has no passphrase (then use smsg device link on a device that has it); nothing was stored\n",
    );
    expect(isEmpty(world.home("laptop-wrong"))).toBe(true);
  });

  test("the right passphrase: device 2 of the same account, the same fingerprint", { timeout: 120_000 }, async () => {
    const file = join(world.root, "account-passphrase.txt");
    writeFileSync(file, `${STRONG}\n`);
    const r = lines(
      expectOk(await world.smsg("laptop", ["login", link, "alice", "--account-passphrase-file", file, "--json"])),
    );
    expect(r).toEqual([
      {
        v: 1,
        type: "logged_in",
        username: "alice",
        device: 2,
        is_admin: false,
        relay: `127.0.0.1:${world.port}`,
        profile: world.home("laptop"),
        prekeys: expect.any(Number) as number,
        contacts: expect.any(Number) as number,
        chats: expect.any(Number) as number,
        resumed: false,
      },
    ]);
    const me = lines(expectOk(await world.smsg("laptop", ["whoami", "--json"])))[0]!;
    expect(me).toMatchObject({ username: "alice", device: 2, fingerprint: aliceFingerprint, relay_link: link });
    expect(me["prekeys"]).toBe(r[0]!["prekeys"]);
    const text = expectOk(await world.smsg("laptop", ["whoami", "--offline"])).stdout;
    expect(text).toMatch(/^device: {6}2, fingerprint [0-9a-f]{8}( [0-9a-f]{8}){4}$/m);

    // Logging in again into the same folder: it already holds a profile (exit 5).
    const again = await world.smsg("laptop", ["login", link, "alice"], withPassphrase);
    expect(again.code, again.stderr).toBe(5);
    expect(again.stderr).toBe(`smsg: a profile already exists in ${world.home("laptop")}; refusing to overwrite it\n`);
  });

  test("the backed-up chat with bob is listed on the new device", { timeout: 120_000 }, async () => {
    const chats = lines(expectOk(await world.smsg("laptop", ["chat", "list", "--offline", "--json"])));
    expect(chats.map((c) => [c["kind"], c["peer"]])).toEqual([["direct", "bob"]]);
    const me = lines(expectOk(await world.smsg("laptop", ["whoami", "--offline", "--json"])))[0]!;
    expect(me["display_name"]).toBe("Alice A.");
  });

  test("bad input: exit 2 before the relay is asked, nothing written", { timeout: 120_000 }, async () => {
    for (const args of [
      ["login", "smsg://127.0.0.1/xyz", "alice"],
      ["login", link, "a"],
    ]) {
      const r = await world.smsg("laptop-bad", args, withPassphrase);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    }
    const empty = join(world.root, "empty.txt");
    writeFileSync(empty, "\n");
    const r = await world.smsg("laptop-bad", ["login", link, "alice", "--account-passphrase-file", empty]);
    expect(r.code, r.stderr).toBe(2);
    // Without a terminal and without the variable or the file: exit 7.
    const none = await world.smsg("laptop-bad", ["login", link, "alice"]);
    expect(none.code, none.stderr).toBe(7);
    expect(isEmpty(world.home("laptop-bad"))).toBe(true);
  });

  test("a relay key other than the relay's: exit 21; a relay that is down: exit 8", { timeout: 120_000 }, async () => {
    const otherKey = link.replace(/\/[^/]+$/, `/${Buffer.alloc(32, 7).toString("base64url")}`);
    const r = await world.smsg("laptop-key", ["login", otherKey, "alice"], withPassphrase);
    expect(r.code, r.stderr).toBe(21);
    const closed = link.replace(`:${world.port}/`, ":1/");
    const down = await world.smsg("laptop-key", ["login", closed, "alice"], withPassphrase);
    expect(down.code, down.stderr).toBe(8);
    expect(isEmpty(world.home("laptop-key"))).toBe(true);
  });
});
