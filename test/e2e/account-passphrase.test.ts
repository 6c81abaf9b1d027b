/**
 * The account passphrase with the built `smsg` and a relay process (SECURITY.md §18.6, §18.7;
 * README "A new machine: the account passphrase"): its own variable and file, never the profile's;
 * weak ones refused with the rule's reason before the relay is asked; whoami's relay link.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseRelayLink } from "../../src/relay-link.js";
import { createWorld, expectOk, lines } from "./world.js";

const world = createWorld("account-passphrase");
beforeAll(async () => {
  await world.startRelay();
  await world.join("alice");
}, 120_000);
afterAll(() => world.close());

const STRONG = "correct Horse battery staple 7 orbit Lamp quiet !";

describe("smsg passphrase", () => {
  test("a weak account passphrase is refused with the rule's reason (exit 2)", { timeout: 120_000 }, async () => {
    const r = await world.smsg("alice", ["passphrase", "set"], { env: { SMSG_ACCOUNT_PASSPHRASE: "hunter2 hunter2" } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^smsg: this passphrase is too easy to guess for an account passphrase .*7 random words/);
    const file = join(world.root, "weak.txt");
    writeFileSync(file, "abcdefghijklmnopqrstuvwxyz0123456789\n");
    const f = await world.smsg("alice", ["passphrase", "change", "--account-passphrase-file", file]);
    expect(f.code, f.stderr).toBe(2);
  });

  test(
    "the profile's SMSG_PASSPHRASE is not the account passphrase: without one, exit 7",
    { timeout: 120_000 },
    async () => {
      const r = await world.smsg("alice", ["passphrase", "set"], { env: { SMSG_PASSPHRASE: STRONG } });
      expect(r.code, r.stderr).toBe(7);
      expect(r.stderr).toMatch(/SMSG_ACCOUNT_PASSPHRASE or --account-passphrase-file/);
    },
  );

  test("whoami prints the relay link that login takes", { timeout: 120_000 }, async () => {
    const text = expectOk(await world.smsg("alice", ["whoami", "--offline"]));
    const m = /^relay link: {2}(smsg:\/\/\S+) {2}\(smsg login \1 alice, on a new machine\)$/m.exec(text.stdout);
    expect(m, text.stdout).not.toBeNull();
    const json = lines(expectOk(await world.smsg("alice", ["whoami", "--offline", "--json"])))[0]!;
    expect(json["relay_link"]).toBe(m![1]);
    expect(parseRelayLink(m![1]!)).toMatchObject({ host: "127.0.0.1", port: world.port });
  });
});
