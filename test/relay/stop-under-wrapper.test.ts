/**
 * Supervisors, containers and scripts stop a service with SIGTERM to the process they started.
 * When that process is `npm start` or `npm exec` (what `npx smsg relay serve` runs), npm
 * forwards the signal to the shell it ran the command in, the shell dies and the relay used to
 * be left running with parent 1 (issue 9 item 11). Here npm is started the way an operator
 * does, SIGTERMed, and the relay itself must be gone, having stopped cleanly.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { freePort } from "../../bench/relay-process.js";
import { packageRoot } from "../../src/paths.js";

const root = packageRoot();

/** Every process below `pid` (Linux /proc), children first. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command name (field 2) is in parentheses and may contain spaces: fields after it are fixed.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf)
      if (parent === p) {
        out.push(child);
        walk(child);
      }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Wrapped {
  readonly wrapper: ChildProcess;
  stderr: string;
  stdout: string;
  /** Resolves when every process holding the wrapper's output pipes has exited. */
  readonly pipesClosed: Promise<void>;
}

async function startWrapped(args: string[]): Promise<Wrapped> {
  const wrapper = spawn("npm", args, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SMSG_LOG_LEVEL: "info", npm_config_update_notifier: "false" },
  });
  const w: Wrapped = {
    wrapper,
    stderr: "",
    stdout: "",
    pipesClosed: Promise.all([
      new Promise<void>((r) => wrapper.stdout!.once("close", () => r())),
      new Promise<void>((r) => wrapper.stderr!.once("close", () => r())),
    ]).then(() => undefined),
  };
  wrapper.stdout!.on("data", (d: Buffer) => (w.stdout += d.toString()));
  wrapper.stderr!.on("data", (d: Buffer) => (w.stderr += d.toString()));
  await until("the relay to listen", () => w.stdout.includes("relay listening on"), 60_000);
  return w;
}

describe.skipIf(process.platform !== "linux")("SIGTERM to the wrapper that started the relay", () => {
  const npmStart = (data: string, port: number) => ["start", "--", "--data", data, "--port", String(port)];
  const cases: [string, NodeJS.Signals, (data: string, port: number) => string[]][] = [
    ["npm start", "SIGTERM", npmStart],
    // npm killed outright cannot pass anything on: the relay notices that its parent is gone.
    ["npm start", "SIGKILL", npmStart],
    [
      // `npx smsg relay serve` is `npm exec`, which runs the bin through `sh -c` like this.
      "npm exec (npx)",
      "SIGTERM",
      (data, port) => ["exec", "-c", `node dist/bin/smsg.js relay serve --data ${data} --port ${port}`],
    ],
  ];
  test.each(cases)(
    "%s, %s: the relay stops cleanly and exits",
    async (_name, signal, args) => {
      const data = mkdtempSync(join(tmpdir(), "smsg-relay-wrapped-"));
      const w = await startWrapped(args(data, await freePort()));
      const relayPid = descendants(w.wrapper.pid!).find((p) =>
        readFileSync(`/proc/${p}/cmdline`, "utf8").includes("relay\0serve"),
      );
      expect(relayPid).toBeDefined();
      try {
        const wrapperExit = new Promise((r) => w.wrapper.once("exit", (code) => r(code)));
        w.wrapper.kill(signal);
        await until("the relay process to exit", () => !alive(relayPid!));
        await w.pipesClosed;
        // The relay's own log: it stopped through its graceful path, not by being killed.
        expect(w.stderr).toContain('"msg":"relay stopped"');
        expect(w.stderr).not.toMatch(/"level":(50|60)/);
        // npm start runs the relay with exec, so npm reports the relay's own exit code.
        if (signal === "SIGTERM" && args === npmStart) expect(await wrapperExit).toBe(0);
      } finally {
        if (alive(relayPid!)) process.kill(relayPid!, "SIGKILL");
      }
    },
    90_000,
  );
});
