/**
 * contrib/smsg-relay.service and the Dockerfile, tested as far as this machine allows (no
 * systemd as PID 1, no container engine): the unit passes `systemd-analyze verify` without a
 * warning and scores as well hardened offline; the command each of them runs (ExecStart; the
 * image's ENTRYPOINT and CMD) is run here as a plain process with the paths and ports mapped,
 * answers its health check and stops cleanly on SIGTERM. The container's command also runs as
 * PID 1 of its own PID namespace (as in a container, where PID 1 gets no default signal
 * actions) when `unshare` is allowed.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { freePort } from "../../bench/relay-process.js";
import { packageRoot } from "../../src/paths.js";

const root = packageRoot();
const run = promisify(execFile);
const UNIT = join(root, "contrib", "smsg-relay.service");
const DOCKERFILE = join(root, "Dockerfile");

const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
const hasSystemdAnalyze = analyze.status === 0;
if (!hasSystemdAnalyze)
  console.log("contrib/smsg-relay.service: systemd-analyze verify skipped: systemd-analyze is not installed");
const canUnsharePid = spawnSync("unshare", ["--pid", "--fork", "true"]).status === 0;
if (!canUnsharePid)
  console.log(
    "Dockerfile: the PID 1 run is skipped: unshare --pid is not allowed here (it needs root or user namespaces)",
  );

/** The unit with its node path made this machine's, when /usr/bin/node is absent. */
function unitForHere(text: string): string {
  return existsSync("/usr/bin/node") ? text : text.replaceAll("/usr/bin/node", process.execPath);
}

/** ExecStart's words, continuation lines joined. */
function execStart(unit: string): string[] {
  const m = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit);
  if (!m) throw new Error("the unit has no ExecStart");
  return m[1]!.replace(/\\\n/g, " ").trim().split(/\s+/);
}

/** The JSON array of a Dockerfile instruction (exec form). */
function dockerArray(text: string, instruction: string): string[] {
  const joined = text.replace(/\\\n/g, " ");
  const m = new RegExp(`^${instruction}\\s+(?:--\\S+\\s+)*(?:CMD\\s+)?(\\[.*\\])\\s*$`, "m").exec(joined);
  if (!m) throw new Error(`the Dockerfile has no ${instruction} in exec form`);
  return JSON.parse(m[1]!) as string[];
}

/** Replaces, in every word, each `from` by its `to`. */
function mapped(words: string[], map: [string, string][]): string[] {
  return words.map((w) => map.reduce((x, [from, to]) => x.replaceAll(from, to), w));
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  readonly output: () => string;
}

async function startCommand(argv: string[]): Promise<Started> {
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SMSG_LOG_LEVEL: "info" },
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => child.once("exit", (code, sig) => r(code ?? sig ?? "?")));
  let done = false;
  void exited.then(() => (done = true));
  await until("the relay to listen", () => out.includes("Health and metrics on") || done);
  if (done) throw new Error(`the command exited before listening: ${out}`);
  return { child, exited, output: () => out };
}

/** The process running the relay: `pid` itself, or its child when a wrapper (unshare) forked it. */
function relayPid(pid: number): number {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return pid;
}

describe.skipIf(!hasSystemdAnalyze)("contrib/smsg-relay.service", () => {
  test("passes systemd-analyze verify with no warning (and an unknown option would be one)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smsg-unit-"));
    const unit = join(dir, "smsg-relay.service");
    writeFileSync(unit, unitForHere(readFileSync(UNIT, "utf8")));
    const r = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // The check can fail: the same unit with an option systemd does not know.
    const broken = join(dir, "broken.service");
    writeFileSync(broken, readFileSync(unit, "utf8").replace("[Service]", "[Service]\nNoSuchOption=yes"));
    expect(spawnSync("systemd-analyze", ["verify", broken], { encoding: "utf8" }).stderr).toMatch(/NoSuchOption/);
  });

  test("is hardened (systemd-analyze security, offline) and runs node directly, restarting on failure", () => {
    const text = readFileSync(UNIT, "utf8");
    const r = spawnSync("systemd-analyze", ["security", "--offline=yes", UNIT], { encoding: "utf8" });
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(score).toBeLessThanOrEqual(2);
    for (const line of [
      "User=smsg-relay",
      "Restart=on-failure",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "PrivateTmp=yes",
      "ReadWritePaths=/var/lib/smsg-relay",
    ])
      expect(text).toContain(`\n${line}\n`);
    const argv = execStart(text);
    expect(argv[0]).toBe("/usr/bin/node");
    expect(argv.slice(2, 4)).toEqual(["relay", "serve"]);
  });
});

describe.skipIf(process.platform !== "linux")("the service commands, run here", () => {
  test("ExecStart of the unit: health check answers, SIGTERM stops it cleanly (exit 0)", async () => {
    const data = mkdtempSync(join(tmpdir(), "smsg-unit-data-"));
    const [port, http] = [await freePort(), await freePort()];
    const argv = mapped(execStart(readFileSync(UNIT, "utf8")), [
      ["/usr/bin/node", process.execPath],
      ["/opt/socketmessenger", root],
      ["/var/lib/smsg-relay", data],
      ["0.0.0.0", "127.0.0.1"],
      ["7447", String(port)],
      ["7448", String(http)],
    ]);
    const r = await startCommand(argv);
    try {
      expect((await fetch(`http://127.0.0.1:${http}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${http}/readyz`)).status).toBe(200);
    } finally {
      r.child.kill("SIGTERM");
    }
    expect(await r.exited).toBe(0);
    expect(r.output()).toContain('"msg":"relay stopped"');
  }, 120_000);

  test(
    "the Dockerfile's ENTRYPOINT + CMD as a plain process: HEALTHCHECK passes, SIGTERM stops it cleanly",
    () => runImageCommand(false),
    120_000,
  );
  test.skipIf(!canUnsharePid)(
    "the Dockerfile's ENTRYPOINT + CMD as PID 1 of its own PID namespace: HEALTHCHECK passes, SIGTERM stops it cleanly",
    () => runImageCommand(true),
    120_000,
  );
});

/** Runs the image's command with its paths and ports mapped to this machine, checks it, stops it. */
async function runImageCommand(asPid1: boolean): Promise<void> {
  const text = readFileSync(DOCKERFILE, "utf8");
  const data = mkdtempSync(join(tmpdir(), "smsg-docker-data-"));
  const [port, http] = [await freePort(), await freePort()];
  const map: [string, string][] = [
    ["/app", root],
    ["/data", data],
    ["0.0.0.0", "127.0.0.1"],
    ["7447", String(port)],
    ["7448", String(http)],
  ];
  const command = mapped([...dockerArray(text, "ENTRYPOINT"), ...dockerArray(text, "CMD")], map);
  command[0] = command[0] === "node" ? process.execPath : command[0]!;
  const r = await startCommand(asPid1 ? ["unshare", "--pid", "--fork", "--kill-child", ...command] : command);
  const relay = asPid1 ? relayPid(r.child.pid!) : r.child.pid!;
  try {
    const check = mapped(dockerArray(text, "HEALTHCHECK"), map);
    await run(check[0] === "node" ? process.execPath : check[0]!, check.slice(1));
    // In its namespace the relay is PID 1, as in a container (relay.json records its pid).
    if (asPid1) expect(JSON.parse(readFileSync(join(data, "relay.json"), "utf8"))).toMatchObject({ pid: 1 });
  } finally {
    process.kill(relay, "SIGTERM");
  }
  expect(await r.exited).toBe(0);
  expect(r.output()).toContain('"msg":"relay stopped"');
  // What the image's HEALTHCHECK reports once the relay is gone.
  const check = mapped(dockerArray(text, "HEALTHCHECK"), map);
  await expect(run(process.execPath, check.slice(1))).rejects.toMatchObject({ code: 1 });
}
