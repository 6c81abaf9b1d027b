/**
 * Shared setup of the end-to-end suites: a temporary root folder, a relay process (`smsg relay
 * serve` on its embedded PostgreSQL, bench/relay-process.ts) with its data under the root, users as profile
 * folders under the root (SMSG_HOME), the built `smsg` run as a user, and joining with an invite
 * printed by `smsg relay invite`. Call `createWorld(name)` at the top of a suite file and
 * `world.close()` in its afterAll: it kills the children the world started, stops the relay
 * and deletes the folder.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";
import { CLI, type RelayProcess, freePort, startRelayProcess } from "../../bench/relay-process.js";

/** What one `smsg` run left. */
export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of World.smsg. */
export interface RunOptions {
  /** Written to stdin (then closed); empty by default. */
  readonly input?: string;
  /** Leave stdin open for the test to write to (World.spawn only). */
  readonly keepStdinOpen?: boolean;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
}

/** The JSON lines of a command's stdout. */
export function lines(r: Result): Record<string, unknown>[] {
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The JSON `message` lines of a command's stdout (`history --json`), in order. */
export function messages(r: Result): Record<string, unknown>[] {
  return lines(r).filter((l) => l["type"] === "message");
}

/** The bodies of a `history --json` output, in order. */
export function bodies(r: Result): unknown[] {
  return messages(r).map((l) => l["body"]);
}

/** Expects exit code 0 and nothing on stderr; returns `r`. */
export function expectOk(r: Result): Result {
  expect(r.stderr, r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r;
}

/** A temporary root with a relay and users; see the file comment. */
export class World {
  readonly root: string;
  readonly relayData: string;
  relay: RelayProcess | undefined;
  port = 0;
  private readonly children: ChildProcessWithoutNullStreams[] = [];
  private sharedInvite: Promise<string> | undefined;

  constructor(name: string) {
    this.root = mkdtempSync(join(tmpdir(), `smsg-e2e-${name}-`));
    // Passable by others: a relay running as root runs its embedded PostgreSQL as an
    // unprivileged user, who must reach the relay's data folder in here.
    chmodSync(this.root, 0o711);
    this.relayData = join(this.root, "relay");
  }

  /** The profile folder (SMSG_HOME) of `user`. */
  home(user: string): string {
    return join(this.root, user);
  }

  /** Starts the relay (on a free port the first time, on the same port again after a stop). */
  async startRelay(): Promise<RelayProcess> {
    if (this.port === 0) this.port = await freePort();
    this.relay = await startRelayProcess(this.relayData, this.port);
    return this.relay;
  }

  /** Stops the relay with `signal` and waits until it exited. */
  async stopRelay(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const r = this.relay;
    if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
    r.child.kill(signal);
    await r.exited;
  }

  /** The environment `smsg` runs in as `user`. */
  env(user: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, SMSG_HOME: this.home(user), SMSG_LOG_LEVEL: "silent" };
    delete env["SMSG_PASSPHRASE"];
    return { ...env, ...extra };
  }

  /** Starts `smsg ARGS` as `user` and returns the child (killed by close() if still running). */
  spawn(user: string, args: string[], opts: RunOptions = {}): ChildProcessWithoutNullStreams {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: this.env(user, opts.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.children.push(child);
    child.stdin.on("error", () => undefined); // EPIPE when the child is killed before it reads stdin
    if (opts.keepStdinOpen) {
      if (opts.input) child.stdin.write(opts.input);
    } else child.stdin.end(opts.input ?? "");
    return child;
  }

  /** Runs `smsg ARGS` as `user`. Never rejects: the exit code is the result (-1 when killed by a signal). */
  smsg(user: string, args: string[], opts: RunOptions = {}): Promise<Result> {
    return completion(this.spawn(user, args, opts));
  }

  /** A fresh invite link from `smsg relay invite` (ARGS: more of its options, such as `--uses N`). */
  async invite(args: string[] = []): Promise<string> {
    const { stdout } = await promisify(execFile)(process.execPath, [
      CLI,
      "relay",
      "invite",
      "--data",
      this.relayData,
      ...args,
    ]);
    return stdout.trim();
  }

  /**
   * Joins `user`; expects success. The users a suite joins this way share one invite of many
   * uses, made by the first join: one `smsg relay invite` process per world instead of one per
   * user (suites that test invites themselves call invite()).
   */
  async join(user: string, extra: string[] = []): Promise<Result> {
    this.sharedInvite ??= this.invite(["--uses", "100"]);
    return expectOk(await this.smsg(user, ["join", await this.sharedInvite, "--name", user, ...extra]));
  }

  /** Kills the children still running, stops the relay and deletes the root folder. */
  async close(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await this.stopRelay();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Collects a started child's output until it exits. */
export function completion(child: ChildProcessWithoutNullStreams): Promise<Result & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
}

/** A World named `name` (the temporary folder's prefix). */
export function createWorld(name: string): World {
  return new World(name);
}
