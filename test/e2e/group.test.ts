/**
 * Group chat end to end with the built `smsg` binary and a real relay process: alice, bob and
 * carol join; alice creates a group of three; messages go both ways; `chat members` shows
 * everyone announced; alice removes carol; what bob sends afterwards reaches alice but not
 * carol, whose history stops where she was removed.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { CLI, type RelayProcess, freePort, startRelayProcess } from "../../bench/relay-process.js";

const root = mkdtempSync(join(tmpdir(), "smsg-e2e-group-"));
const relayData = join(root, "relay");
const home = (user: string) => join(root, user);

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

function smsg(user: string, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, SMSG_HOME: home(user), SMSG_LOG_LEVEL: "silent" };
    delete env["SMSG_PASSPHRASE"];
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end("");
  });
}

function lines(r: Result): Record<string, unknown>[] {
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function bodies(r: Result): unknown[] {
  return lines(r)
    .filter((l) => l["type"] === "message")
    .map((l) => l["body"]);
}

function expectOk(r: Result): Result {
  expect(r.stderr, r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

async function invite(): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, "relay", "invite", "--data", relayData]);
  return stdout.trim();
}

describe("smsg, groups, end to end", () => {
  test("a group of three, messages both ways, a member removed cannot read what follows", async () => {
    const port = await freePort();
    relay = await startRelayProcess(relayData, port);
    for (const u of ["alice", "bob", "carol"]) expectOk(await smsg(u, ["join", await invite(), "--name", u]));

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
