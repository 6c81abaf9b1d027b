/**
 * A running `smsg listen --json` in an e2e world: its JSON lines as they come, any line that is
 * not JSON, its stderr and its exit, and a way to wait for a line (test/helpers/wait-for.ts)
 * that fails with everything the listener printed so far, or at once when it exits.
 */
import { createInterface } from "node:readline";
import { waitFor } from "../helpers/wait-for.js";
import type { RunOptions, World } from "./world.js";

export type Line = Record<string, unknown>;

export interface JsonListener {
  readonly child: ReturnType<World["spawn"]>;
  /** The JSON lines printed so far, in order. */
  readonly events: Line[];
  /** Lines that were not JSON. */
  readonly bad: string[];
  readonly stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** The `message` lines printed so far. */
  messageEvents(): Line[];
  /** Resolves with the first line matching `pred` (waiting for it); fails saying `what`. */
  line(pred: (e: Line) => boolean, what: string): Promise<Line>;
  /** Waits until `cond` holds; fails saying `what`, with what the listener printed. */
  until(cond: () => boolean, what: string): Promise<void>;
  /** What the listener printed, for failure messages. */
  describeState(): string;
}

/** Starts `smsg listen --json` as `user` and waits for its `listening` line. */
export async function startJsonListener(world: World, user: string, opts: RunOptions = {}): Promise<JsonListener> {
  const child = world.spawn(user, ["listen", "--json"], { ...opts, keepStdinOpen: true });
  const events: Line[] = [];
  const bad: string[] = [];
  let stderr = "";
  createInterface({ input: child.stdout }).on("line", (l) => {
    try {
      events.push(JSON.parse(l) as Line);
    } catch {
      bad.push(l);
    }
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  // Closed: exited and its output read to the end (a line may still be in the pipe at "exit").
  let closed = false;
  child.once("close", () => (closed = true));
  const describeState = () =>
    `listen stdout: ${JSON.stringify(events)}\nnon-JSON lines: ${JSON.stringify(bad)}\nlisten stderr: ${stderr}`;
  const until = async (cond: () => boolean, what: string) => {
    await waitFor(cond, {
      what,
      state: describeState,
      stopIf: () => (closed ? `listen exited (${child.exitCode ?? child.signalCode})` : undefined),
    });
  };
  const listener: JsonListener = {
    child,
    events,
    bad,
    get stderr() {
      return stderr;
    },
    exited,
    running,
    messageEvents: () => events.filter((e) => e["type"] === "message"),
    until,
    async line(pred, what) {
      await until(() => events.some(pred), what);
      return events.find(pred)!;
    },
    describeState,
  };
  await listener.line((e) => e["type"] === "listening", "the listening line");
  return listener;
}
