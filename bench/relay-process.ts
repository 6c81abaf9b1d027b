/**
 * Runs the built relay (`node dist/bin/smsg.js relay serve`) as a child process, the way an
 * operator does, so tests can kill it with SIGKILL and start it again on the same data.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { packageRoot } from "../src/paths.js";
import { parseInviteLink } from "../src/invite-link.js";

const root = packageRoot();
export const CLI = join(root, "dist", "bin", "smsg.js");
const run = promisify(execFile);

/** A free loopback port (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RelayProcess {
  readonly child: ChildProcess;
  readonly stdout: string[];
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
}

/** Starts `smsg relay serve` and resolves once it prints that it is listening. */
export async function startRelayProcess(dataDir: string, port: number, extra: string[] = []): Promise<RelayProcess> {
  // SMSG_RELAY_NODE_ARGS: extra node flags for the relay, e.g. "--cpu-prof" when profiling a benchmark.
  const nodeArgs = (process.env["SMSG_RELAY_NODE_ARGS"] ?? "").split(" ").filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, CLI, "relay", "serve", "--data", dataDir, "--port", String(port), ...extra],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SMSG_LOG_LEVEL: "warn" },
    },
  );
  const stdout: string[] = [];
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start in time: ${stderr}`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      stdout.push(...d.toString().split("\n").filter(Boolean));
      if (stdout.some((l) => l.includes("relay listening on"))) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${c} before listening: ${stderr}`));
    });
  });
  return { child, stdout, exited };
}

/** Runs `smsg relay invite` against the data folder and returns the invite code. */
export async function inviteCode(
  dataDir: string,
  uses = 1,
  extra: string[] = [],
): Promise<{ code: Uint8Array; relayKey: Uint8Array }> {
  const { stdout } = await run(process.execPath, [
    CLI,
    "relay",
    "invite",
    "--data",
    dataDir,
    "--uses",
    String(uses),
    ...extra,
  ]);
  const link = parseInviteLink(stdout.trim());
  return { code: link.code, relayKey: link.relayKey };
}
