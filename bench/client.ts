/**
 * Client benchmark: the wall time of a one-shot `smsg send` (process start to exit), and the
 * send-to-display latency between two interactive clients (`smsg open`, in pipe mode) on one
 * relay, all processes on this machine.
 *
 *   npm run build && node dist/bench/client.js [--sends 20] [--messages 50]
 *
 * Both measurements use this process's clock only: it starts the one-shot sends, and it
 * writes a line into alice's interactive stdin and watches bob's interactive stdout for it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { CLI, freePort, startRelayProcess } from "./relay-process.js";
import { benchHomes, joinAliceAndBob } from "./cli-pair.js";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const SENDS = arg("sends", 20);
const MESSAGES = arg("messages", 50);

const h = benchHomes("smsg-bench-client-");

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return {
    n: s.length,
    min: +s[0]!.toFixed(1),
    p50: +at(50).toFixed(1),
    p95: +at(95).toFixed(1),
    max: +s[s.length - 1]!.toFixed(1),
  };
}

async function main() {
  const port = await freePort();
  const relay = await startRelayProcess(h.relayData, port);
  try {
    await joinAliceAndBob(h);

    // 1. One-shot send, start to exit: node start, profile open, connect + Noise + login,
    //    sync, encrypt, commit, ack.
    const sendMs: number[] = [];
    for (let i = 0; i < SENDS; i++) {
      const t0 = performance.now();
      await h.smsg("alice", ["send", "bob", `one-shot ${i}`]);
      sendMs.push(performance.now() - t0);
    }

    // 2. Send-to-display between two interactive clients.
    const open = (user: string, peer: string): ChildProcessWithoutNullStreams =>
      spawn(process.execPath, [CLI, "open", peer], { env: h.env(user), stdio: ["pipe", "pipe", "pipe"] });
    const bob = open("bob", "alice");
    const alice = open("alice", "bob");
    let bobOut = "";
    const seenAt = new Map<string, number>();
    bob.stdout.on("data", (d: Buffer) => {
      const now = performance.now();
      bobOut += d.toString();
      for (const m of bobOut.matchAll(/probe-(\d+)/g)) if (!seenAt.has(m[1]!)) seenAt.set(m[1]!, now);
    });
    // Let both connect and sync before measuring.
    await new Promise((r) => setTimeout(r, 3000));
    const sentAt = new Map<string, number>();
    for (let i = 0; i < MESSAGES; i++) {
      sentAt.set(String(i), performance.now());
      alice.stdin.write(`probe-${i}\n`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const deadline = performance.now() + 10_000;
    while (seenAt.size < MESSAGES && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    alice.stdin.end();
    bob.stdin.end();
    const latencies = [...sentAt].filter(([k]) => seenAt.has(k)).map(([k, t]) => seenAt.get(k)! - t);
    await Promise.all([new Promise((r) => alice.once("exit", r)), new Promise((r) => bob.once("exit", r))]);
    console.log(
      JSON.stringify(
        {
          node: process.version,
          oneShotSendWallMs: stats(sendMs),
          interactiveSendToDisplayMs: { ...stats(latencies), delivered: latencies.length, sent: MESSAGES },
        },
        null,
        2,
      ),
    );
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
