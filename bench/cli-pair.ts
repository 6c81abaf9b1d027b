/**
 * What the benchmarks that run the real `smsg` CLI share: a temporary folder with one profile
 * per user beside the relay's data, and alice and bob joined on that relay with a session whose
 * ratchet has turned once, so a measured send is a plain ratchet step, as in a chat that has been
 * going for a while.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CLI } from "./relay-process.js";

const run = promisify(execFile);

export interface BenchHomes {
  readonly root: string;
  /** The relay's data folder. */
  readonly relayData: string;
  /** A user's profile folder (SMSG_HOME). */
  readonly home: (user: string) => string;
  /** The environment a user's CLI runs with. */
  readonly env: (user: string) => NodeJS.ProcessEnv;
  /** Runs `cli` (this build's by default) as `user`. */
  readonly smsg: (user: string, args: readonly string[], cli?: string) => Promise<{ stdout: string; stderr: string }>;
}

export function benchHomes(prefix: string): BenchHomes {
  const root = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(root, 0o711); // as root, the relay's embedded PostgreSQL runs as another user and must pass through
  const home = (user: string) => join(root, user);
  const env = (user: string) => ({ ...process.env, SMSG_HOME: home(user), SMSG_LOG_LEVEL: "silent" });
  return {
    root,
    relayData: join(root, "relay"),
    home,
    env,
    smsg: (user, args, cli = CLI) =>
      run(process.execPath, [cli, ...args], { env: env(user), maxBuffer: 64 * 1024 * 1024 }),
  };
}

/** Joins alice and bob on the running relay of `h.relayData` and turns their ratchet once. */
export async function joinAliceAndBob(h: BenchHomes): Promise<void> {
  const invite = async () =>
    (await run(process.execPath, [CLI, "relay", "invite", "--data", h.relayData])).stdout.trim();
  await h.smsg("alice", ["join", await invite(), "--name", "alice"]);
  await h.smsg("bob", ["join", await invite(), "--name", "bob"]);
  await h.smsg("alice", ["chat", "open", "bob"]);
  // The first send runs X3DH; the reply turns the ratchet.
  await h.smsg("alice", ["send", "bob", "warm-up: establishes the session"]);
  await h.smsg("bob", ["history", "alice"]);
  await h.smsg("bob", ["send", "alice", "reply: the ratchet turns"]);
  await h.smsg("alice", ["history", "bob"]);
}
