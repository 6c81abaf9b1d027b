/**
 * The full-screen UI's costs (bench/RESULTS.md "Terminal UI"):
 *
 * - `--part bytes`: bytes written to the terminal per event, in this process: the real renderer
 *   (ink into the frame writer, client/tui/frame-writer.ts) with 16-colour styling, a chat of 50
 *   messages open, at 80×24 and 120×40. Per message arriving in the open chat, per message in
 *   another chat, per typed character, and a full repaint for comparison.
 * - `--part startup`: the built `smsg` in tmux against a relay on loopback: time from starting
 *   it until the first frame is on the screen and until the status bar says connected (median
 *   of `--runs`), with `--plain` line mode's time to "connected" beside it.
 *
 * `node dist/bench/tui.js --part bytes` / `--part startup --runs 5`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineEvent } from "../client/engine/events.js";
import type { ChatListItem } from "../client/store/index.js";
import { CLI, freePort, startRelayProcess } from "./relay-process.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function bytes(): Promise<void> {
  process.env["FORCE_COLOR"] = "1"; // 16 colours, as on a plain xterm (read when ink loads)
  process.env["NODE_ENV"] ??= "production"; // as client/tui/run.ts loads React
  const t0 = performance.now();
  const [{ render }, { createElement }] = await Promise.all([import("ink"), import("react")]);
  const loadMs = performance.now() - t0;
  const { App } = await import("../client/tui/app.js");
  const { FrameWriter, ScreenStream } = await import("../client/tui/frame-writer.js");
  const { UiStore } = await import("../client/tui/ui-store.js");
  const { initialState } = await import("../client/tui/state.js");
  console.log(`ink + react import: ${loadMs.toFixed(0)} ms`);

  for (const [cols, rows] of [
    [80, 24],
    [120, 40],
  ] as const) {
    const store = new UiStore(initialState("alice", "127.0.0.1:7447", cols, rows, Date.now()));
    const chats: ChatListItem[] = [1, 2, 3].map((id) => ({
      id,
      kind: "direct",
      peer: ["bob", "carol", "dave"][id - 1]!,
      name: null,
      closed: false,
      myRole: "member",
      createdAt: 0,
      lastReadMsg: 0,
      departure: null,
      departedBy: null,
      memberSince: 0,
      seqFromOne: true,
      unread: 0,
      lastMessageId: id,
    }));
    store.dispatch({ type: "chats", chats, titles: { 1: "bob", 2: "carol", 3: "dave" } });
    store.dispatch({ type: "names", names: { bob: "Bob B.", carol: "Carol C." } });
    store.dispatch({ type: "status", status: { state: "listening" }, now: Date.now(), queued: 0 });
    store.dispatch({ type: "open", chat: 1 });
    let id = 100;
    const msg = (chat: number, body: string): EngineEvent => {
      id++;
      return {
        type: "message",
        chat,
        id,
        relayMsg: id,
        from: chat === 1 ? "bob" : "carol",
        ts: Date.now(),
        senderTs: Date.now(),
        seq: id,
        seqStatus: "ok",
        body,
        keyChanged: false,
      };
    };
    store.dispatch({
      type: "page",
      chat: 1,
      items: [],
      more: false,
      older: false,
    });
    for (let i = 0; i < 50; i++)
      store.dispatch({ type: "engine", event: msg(1, `${i % 3 === 0 ? "an older line" : "history"} ${i}`) });
    let written = 0;
    const writer = new FrameWriter({ write: (d: string) => (written += Buffer.byteLength(d)) });
    const stream = new ScreenStream(writer, { cols, rows });
    const ink = render(createElement(App, { store }), {
      stdout: stream as unknown as NodeJS.WriteStream,
      stdin: new (await import("node:stream")).PassThrough() as unknown as NodeJS.ReadStream,
      debug: true,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    // Each event in its own turn of the event loop, as events come from the network (React
    // renders an external store's update after the dispatching code returns).
    const turn = () => new Promise((r) => setTimeout(r, 0));
    await turn();
    const per = async (n: number, f: (i: number) => void): Promise<number> => {
      await turn();
      const before = written;
      for (let i = 0; i < n; i++) {
        f(i);
        await turn();
      }
      return (written - before) / n;
    };
    const n = 200;
    // Bodies that differ from the start, so rows share little beyond the sender (a fair case).
    const words = ["ok", "lunch at noon?", "see the PR", "deploying now", "thanks!", "which branch", "back in 5"];
    const body = (i: number) => `${words[i % words.length]} ${"#".repeat(i % 13)} ${i}`;
    const inOpen = await per(n, (i) => store.dispatch({ type: "engine", event: msg(1, body(i)) }));
    const inOther = await per(n, (i) => store.dispatch({ type: "engine", event: msg(2, `elsewhere ${i}`) }));
    const typed = await per(n, () => store.dispatch({ type: "key", key: { name: "text", text: "x" } }));
    const full = await per(10, () => {
      writer.reset();
      store.dispatch({ type: "tick", now: Date.now() });
      store.dispatch({ type: "key", key: { name: "text", text: "y" } });
    });
    ink.unmount();
    console.log(
      `${cols}x${rows}: message in the open chat ${inOpen.toFixed(0)} B, in another chat ${inOther.toFixed(0)} B, ` +
        `typed character ${typed.toFixed(0)} B, full repaint ${full.toFixed(0)} B`,
    );
  }
}

/** Polls tmux's screen until it matches `re`; the time it first did, ms after `start`. */
function waitScreen(socket: string, re: RegExp, start: number, limitMs = 60_000): number {
  for (;;) {
    const s = execFileSync("tmux", ["-L", socket, "capture-pane", "-p", "-t", "b"], { encoding: "utf8" });
    if (re.test(s)) return performance.now() - start;
    if (performance.now() - start > limitMs) throw new Error(`never saw ${String(re)}:\n${s}`);
  }
}

async function startup(): Promise<void> {
  const runs = Number(arg("runs", "5"));
  const root = mkdtempSync(join(tmpdir(), "smsg-bench-tui-"));
  const port = await freePort();
  const relay = await startRelayProcess(join(root, "relay"), port);
  try {
    const home = join(root, "alice");
    const invite = execFileSync(process.execPath, [CLI, "relay", "invite", "--data", join(root, "relay")], {
      encoding: "utf8",
    }).trim();
    const env = { ...process.env, SMSG_HOME: home, SMSG_LOG_LEVEL: "silent" };
    execFileSync(process.execPath, [CLI, "join", invite, "--name", "alice"], { env, stdio: "ignore" });
    let serial = 0;
    const measure = (args: string[], first: RegExp, connected: RegExp) => {
      // A socket of its own per run: a new server on a socket whose old server is still exiting fails.
      const socket = `smsg-bench-${process.pid}-${serial++}`;
      const cmd = `env SMSG_HOME=${home} SMSG_LOG_LEVEL=silent ${process.execPath} ${CLI} ${args.join(" ")}; sleep 60`;
      const start = performance.now();
      execFileSync("tmux", [
        "-L",
        socket,
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "100",
        "-y",
        "30",
        cmd,
      ]);
      const a = waitScreen(socket, first, start);
      const b = waitScreen(socket, connected, start);
      const socketPath = execFileSync("tmux", ["-L", socket, "display-message", "-p", "#{socket_path}"], {
        encoding: "utf8",
      }).trim();
      execFileSync("tmux", ["-L", socket, "kill-server"]);
      rmSync(socketPath, { force: true }); // tmux leaves it behind
      return [a, b] as const;
    };
    const tui: (readonly [number, number])[] = [];
    const plain: number[] = [];
    for (let i = 0; i < runs; i++) {
      tui.push(measure([], /^ Chats/m, /connected as @alice/));
      plain.push(measure(["--plain"], /\/help lists the commands/, /-- connected as alice/)[1]);
    }
    const first = median(tui.map((t) => t[0])).toFixed(0);
    const connected = median(tui.map((t) => t[1])).toFixed(0);
    console.log(
      `full-screen UI: first frame ${first} ms, connected ${connected} ms; ` +
        `--plain line mode: connected ${median(plain).toFixed(0)} ms (median of ${runs})`,
    );
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
    rmSync(root, { recursive: true, force: true });
  }
}

const part = arg("part", "bytes");
await (part === "startup" ? startup() : bytes());
