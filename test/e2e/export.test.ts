/**
 * `smsg export` / `smsg import` end to end with the built `smsg` and a relay process: alice
 * exports her profile (SMSG_EXPORT_PASSPHRASE), it is imported into a new SMSG_HOME
 * (--passphrase-file), and the imported profile logs in, reads the history and receives new
 * messages; a wrong passphrase exits 6 and writes nothing; an existing profile is kept unless
 * --force.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { EXIT } from "../../src/exit-codes.js";
import { CLI, type RelayProcess, freePort, startRelayProcess } from "../../bench/relay-process.js";

const root = mkdtempSync(join(tmpdir(), "smsg-e2e-export-"));
const relayData = join(root, "relay");
const EXPORT_PASSPHRASE = "moving day";

let relay: RelayProcess | undefined;
afterAll(async () => {
  if (relay && relay.child.exitCode === null && relay.child.signalCode === null) {
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
});

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `smsg ARGS` with SMSG_HOME=`dir`. */
function smsg(dir: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, SMSG_HOME: join(root, dir), SMSG_LOG_LEVEL: "silent", SMSG_PASSPHRASE: "", SMSG_EXPORT_PASSPHRASE: "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end();
  });
}

function expectOk(r: Result): Result {
  expect(r.stderr, r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

function bodies(r: Result): unknown[] {
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l["type"] === "message")
    .map((l) => l["body"]);
}

async function invite(): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, "relay", "invite", "--data", relayData]);
  return stdout.trim();
}

describe("smsg export / import", () => {
  test("export, import into a new home, log in and read history; wrong passphrase exits 6 and writes nothing", async () => {
    relay = await startRelayProcess(relayData, await freePort());
    expectOk(await smsg("alice", ["join", await invite(), "--name", "alice"]));
    expectOk(await smsg("bob", ["join", await invite(), "--name", "bob"]));
    expectOk(await smsg("alice", ["chat", "open", "bob"]));
    expectOk(await smsg("alice", ["send", "bob", "before the move"]));
    expectOk(await smsg("bob", ["send", "alice", "reply before the move"]));
    expectOk(await smsg("alice", ["history", "bob"]));

    // --- export -----------------------------------------------------------------------------
    const file = join(root, "alice.smsgexp");
    const noPass = await smsg("alice", ["export", file]);
    expect(noPass.code).toBe(EXIT.passphraseRequired);
    expect(existsSync(file)).toBe(false);
    const exported = expectOk(await smsg("alice", ["export", file, "--json"], { SMSG_EXPORT_PASSPHRASE: EXPORT_PASSPHRASE }));
    expect(JSON.parse(exported.stdout)).toMatchObject({ v: 1, type: "exported", file });
    expect((await smsg("alice", ["export", file], { SMSG_EXPORT_PASSPHRASE: EXPORT_PASSPHRASE })).code).toBe(EXIT.usage);

    // --- wrong passphrase: exit 6, nothing written ------------------------------------------
    const wrong = await smsg("elsewhere", ["import", file], { SMSG_EXPORT_PASSPHRASE: "not it" });
    expect(wrong.code).toBe(EXIT.wrongPassphrase);
    expect(wrong.stdout).toBe("");
    expect(wrong.stderr).toMatch(/^smsg: wrong passphrase for this export file/);
    expect(existsSync(join(root, "elsewhere"))).toBe(false);
    expect(readdirSync(root).filter((f) => f.startsWith(".elsewhere"))).toEqual([]);

    // --- import into a new home with --passphrase-file ----------------------------------------
    const passFile = join(root, "pass.txt");
    writeFileSync(passFile, `${EXPORT_PASSPHRASE}\n`);
    const imported = expectOk(await smsg("alice2", ["import", file, "--passphrase-file", passFile]));
    expect(imported.stdout).toMatch(/imported the profile into .*alice2/);
    const again = await smsg("alice2", ["import", file, "--passphrase-file", passFile]);
    expect(again.code).toBe(EXIT.profileExists);
    expectOk(await smsg("alice2", ["import", file, "--passphrase-file", passFile, "--force"]));

    // The imported profile logs in, has the history, and receives what is sent next.
    expect(bodies(expectOk(await smsg("alice2", ["history", "bob", "--json", "--offline"])))).toEqual(["before the move", "reply before the move"]);
    expectOk(await smsg("bob", ["send", "alice", "after the move"]));
    expect(bodies(expectOk(await smsg("alice2", ["history", "bob", "--json"])))).toEqual(["before the move", "reply before the move", "after the move"]);
    expectOk(await smsg("alice2", ["send", "bob", "from the new machine"]));
    expect(bodies(expectOk(await smsg("bob", ["history", "alice", "--json"]))).at(-1)).toBe("from the new machine");
  });
});
