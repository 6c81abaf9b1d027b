/**
 * The lock file PostgreSQL keeps in its data folder while it runs (`postmaster.pid`): its
 * first line is the server's process id, its eighth the server's state ("ready" once it
 * accepts connections). The relay reads it to know when its server is ready, and at start to
 * find a server an earlier relay left (see docs/ARCHITECTURE.md, Relay storage): that one is
 * stopped before a new one starts, and a lock file naming a process that is gone, or that is
 * not this folder's server (a reused process id), is removed, so a start never fails with
 * "lock file already exists" and never leaves two servers.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

export const PID_FILE = "postmaster.pid";

export interface PostmasterPid {
  readonly pid: number;
  /** The server's state line: "starting", "ready", "stopping", … ("" before it wrote one). */
  readonly status: string;
}

/** The lock file's content, or undefined when there is none (or it is still half written). */
export function readPostmasterPid(pgDir: string): PostmasterPid | undefined {
  let text: string;
  try {
    text = readFileSync(join(pgDir, PID_FILE), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, status: (lines[7] ?? "").trim() };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The command line of a process, or undefined when it is gone. */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    if (existsSync("/proc/self")) return undefined;
  }
  try {
    return execFileSync("ps", ["-p", String(pid), "-o", "command="], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` runs PostgreSQL on `pgDir` (and is not some other process that reused the id). */
export function isServerOf(pid: number, pgDir: string): boolean {
  const cmd = commandLine(pid);
  return cmd !== undefined && /postgres/.test(cmd) && cmd.includes(pgDir);
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/**
 * Stops a server left running on `pgDir` by a relay that was killed, and removes a stale lock
 * file. Returns what it found ("none", "stale" or the stopped server's pid) for the log.
 */
export async function clearLeftover(pgDir: string): Promise<"none" | "stale" | number> {
  const found = readPostmasterPid(pgDir);
  if (found === undefined) return "none";
  if (isAlive(found.pid) && isServerOf(found.pid, pgDir)) {
    // Fast shutdown: rolls back open transactions (nothing acked is in one) and checkpoints.
    process.kill(found.pid, "SIGINT");
    if (!(await waitGone(found.pid, 15_000))) {
      process.kill(found.pid, "SIGQUIT"); // immediate shutdown; WAL replay at the next start
      if (!(await waitGone(found.pid, 5_000))) process.kill(found.pid, "SIGKILL");
      await waitGone(found.pid, 5_000);
    }
    return found.pid;
  }
  // Gone, or the id now belongs to another process: PostgreSQL would refuse this lock file.
  rmSync(join(pgDir, PID_FILE), { force: true });
  for (const f of readdirSync(pgDir)) if (/^\.s\.PGSQL\.\d+\.lock$/.test(f)) rmSync(join(pgDir, f), { force: true });
  return "stale";
}
