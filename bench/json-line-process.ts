/**
 * A long-running `smsg … --json` child (listen, open) whose JSON lines the wire benchmarks
 * count: how many of each `type` it printed, and a promise for when that count reaches a number.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { CLI } from "./relay-process.js";

export interface JsonLineProcess {
  readonly child: ChildProcess;
  /** How many lines of `type` it printed so far. */
  count(type: string): number;
  /** Resolves once it printed `n` lines of `type` (rejects if it exits first). */
  until(type: string, n: number): Promise<void>;
  /** Writes one line to its stdin. */
  writeLine(line: string): void;
  /** Ends its stdin and resolves with its exit code. */
  end(): Promise<number | null>;
  /** Sends SIGTERM and resolves with its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `smsg ARGS` with `env` and resolves once it printed `{"type":"listening"}`. */
export function startJsonLineProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<JsonLineProcess> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
  const counts = new Map<string, number>();
  const waiters: { type: string; n: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if ((counts.get(w.type) ?? 0) >= w.n) w.resolve();
      else if (exitCode !== undefined) w.reject(new Error(`smsg ${args[0]} exited with ${exitCode}: ${stderr}`));
      else continue;
      waiters.splice(i, 1);
    }
  };
  let buf = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const type = (JSON.parse(line) as { type?: unknown }).type;
        if (typeof type === "string") counts.set(type, (counts.get(type) ?? 0) + 1);
      } catch {
        // not a JSON line: not counted
      }
    }
    settle();
  });
  void exited.then((c) => {
    exitCode = c;
    settle();
  });
  const p: JsonLineProcess = {
    child,
    count: (type) => counts.get(type) ?? 0,
    until: (type, n) =>
      new Promise((resolve, reject) => {
        waiters.push({ type, n, resolve, reject });
        settle();
      }),
    writeLine: (line) => child.stdin.write(`${line}\n`),
    end: () => {
      child.stdin.end();
      return exited;
    },
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
  return p.until("listening", 1).then(() => p);
}
