/**
 * `smsg export` / `smsg import` end to end with the built `smsg` and a relay process: alice
 * exports her profile (SMSG_EXPORT_PASSPHRASE), it is imported into a new SMSG_HOME
 * (--passphrase-file), and the imported profile logs in, reads the history and receives new
 * messages; a wrong passphrase exits 6 and writes nothing; an existing profile is kept unless
 * --force. Each phase is a step that reports separately (test/helpers/steps.ts).
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { EXIT } from "../../src/exit-codes.js";
import { scenario } from "../helpers/steps.js";
import { bodies, createWorld, expectOk } from "./world.js";

const world = createWorld("export");
afterAll(() => world.close());
const root = world.root;
const EXPORT_PASSPHRASE = "moving day";

/** Runs `smsg ARGS` as `user`, with no export passphrase unless `env` gives one. */
const smsg = (user: string, args: string[], env: Record<string, string> = {}) =>
  world.smsg(user, args, { env: { SMSG_EXPORT_PASSPHRASE: "", ...env } });

scenario("smsg export / import", (step) => {
  const file = join(root, "alice.smsgexp");
  const passFile = join(root, "pass.txt");
  beforeAll(() => world.startRelay());

  step("alice and bob join and write to each other", async () => {
    await world.join("alice");
    await world.join("bob");
    expectOk(await smsg("alice", ["chat", "open", "bob"]));
    expectOk(await smsg("alice", ["send", "bob", "before the move"]));
    expectOk(await smsg("bob", ["send", "alice", "reply before the move"]));
    expectOk(await smsg("alice", ["history", "bob"]));
  });

  step("export: refused without a passphrase, written with one, never over an existing file", async () => {
    const noPass = await smsg("alice", ["export", file]);
    expect(noPass.code).toBe(EXIT.passphraseRequired);
    expect(existsSync(file)).toBe(false);
    const exported = expectOk(
      await smsg("alice", ["export", file, "--json"], { SMSG_EXPORT_PASSPHRASE: EXPORT_PASSPHRASE }),
    );
    expect(JSON.parse(exported.stdout)).toMatchObject({ v: 1, type: "exported", file });
    expect((await smsg("alice", ["export", file], { SMSG_EXPORT_PASSPHRASE: EXPORT_PASSPHRASE })).code).toBe(
      EXIT.usage,
    );
  });

  step("import with a wrong passphrase exits 6 and writes nothing", async () => {
    const wrong = await smsg("elsewhere", ["import", file], { SMSG_EXPORT_PASSPHRASE: "not it" });
    expect(wrong.code).toBe(EXIT.wrongPassphrase);
    expect(wrong.stdout).toBe("");
    expect(wrong.stderr).toMatch(/^smsg: wrong passphrase for this export file/);
    expect(existsSync(join(root, "elsewhere"))).toBe(false);
    expect(readdirSync(root).filter((f) => f.startsWith(".elsewhere"))).toEqual([]);
  });

  step("import into a new home with --passphrase-file; an existing profile is kept unless --force", async () => {
    writeFileSync(passFile, `${EXPORT_PASSPHRASE}\n`);
    const imported = expectOk(await smsg("alice2", ["import", file, "--passphrase-file", passFile]));
    expect(imported.stdout).toMatch(/imported the profile into .*alice2/);
    const again = await smsg("alice2", ["import", file, "--passphrase-file", passFile]);
    expect(again.code).toBe(EXIT.profileExists);
    expectOk(await smsg("alice2", ["import", file, "--passphrase-file", passFile, "--force"]));
  });

  step("the imported profile has the history, logs in, receives what is sent next, and sends", async () => {
    expect(bodies(expectOk(await smsg("alice2", ["history", "bob", "--json", "--offline"])))).toEqual([
      "before the move",
      "reply before the move",
    ]);
    expectOk(await smsg("bob", ["send", "alice", "after the move"]));
    expect(bodies(expectOk(await smsg("alice2", ["history", "bob", "--json"])))).toEqual([
      "before the move",
      "reply before the move",
      "after the move",
    ]);
    expectOk(await smsg("alice2", ["send", "bob", "from the new machine"]));
    expect(bodies(expectOk(await smsg("bob", ["history", "alice", "--json"]))).at(-1)).toBe("from the new machine");
  });
});
