/**
 * First-sync benchmark: how long `smsg history PEER` takes when N messages wait for it on the
 * relay, per message. A real relay process (`smsg relay serve`); the receiver is the real CLI
 * in a child process, so the whole client path runs (open the profile, connect, sync every
 * page: decrypt, store, ack). The sender is this process, through the client engine itself
 * (queueText + flushOutbox), which is only the fastest way to put N real ratchet messages on
 * the relay.
 *
 *   npm run build && node dist/bench/first-sync.js [--sizes 100,1000,10000] [--rounds 3]
 *       [--old-cli /tmp/old/dist/bin/smsg.js]
 *
 * ms per message = (wall time with N waiting − wall time with none waiting, measured right
 * after with the same CLI) / N: process start, connect and login are taken out. CPU ms per
 * message is the same difference of the receiving process's CPU time (user + sys, written by
 * child-cpu.ts as it exits), which the other load of a shared machine hardly changes. With
 * --old-cli, every round measures both CLIs on the same receiver profile, alternating which
 * goes first, so old and new are compared in the same minutes (docs: bench/RESULTS.md).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { goOnline } from "../client/engine/online.js";
import { closeAccount, openLocalAccount } from "../client/engine/open-account.js";
import { prepareTargets } from "../client/engine/fanout-targets.js";
import { flushOutbox, queueText } from "../client/engine/outbox.js";
import { CLI, freePort, startRelayProcess } from "./relay-process.js";
import { benchHomes, joinAliceAndBob } from "./cli-pair.js";
import { median } from "./median.js";

const run = promisify(execFile);
const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const SIZES = (arg("sizes") ?? "100,1000,10000").split(",").map(Number);
const ROUNDS = Number(arg("rounds") ?? 3);
const OLD_CLI = arg("old-cli");
/** Messages queued per sender transaction while seeding. */
const SEED_CHUNK = 500;

const h = benchHomes("smsg-bench-first-sync-");

/** Puts `n` texts from alice to bob on the relay (bob offline). */
async function seed(n: number): Promise<void> {
  const acct = openLocalAccount({ dir: h.home("alice") });
  try {
    const online = await goOnline(acct, { sync: false });
    try {
      const chat = acct.store.chats.directWith("bob")!;
      // As `smsg send` does (send.ts): every device of both accounts, each with a session, so the
      // texts carry the fan-out header (§17.5). Without it bob refuses every one of them, and the
      // sync measured would be that of N refusals, not of N texts.
      const { targets } = await prepareTargets(acct, online.relay, "bob");
      for (let done = 0; done < n;) {
        const k = Math.min(SEED_CHUNK, n - done);
        acct.store.transaction(() => {
          for (let i = 0; i < k; i++) queueText(acct, chat, `message ${done + i} ${"m".repeat(80)}`, targets);
        });
        done += k;
        await flushOutbox(acct, online.relay);
      }
    } finally {
      online.close();
    }
  } finally {
    closeAccount(acct);
  }
}

// SMSG_CLIENT_NODE_ARGS: extra node flags for the receiving CLI, e.g. "--cpu-prof" when profiling it.
const clientNodeArgs = (process.env["SMSG_CLIENT_NODE_ARGS"] ?? "").split(" ").filter(Boolean);

/** Preloaded into the receiving CLI: writes its CPU time to SMSG_BENCH_CPU_FILE on exit. */
const CHILD_CPU = join(fileURLToPath(new URL(".", import.meta.url)), "child-cpu.js");
const cpuFile = join(h.root, "child-cpu.json");

/** Wall time, CPU time (user + sys) and its sys part of bob's `smsg history alice --limit 1` with `cli`, in ms, and what it printed. */
async function history(cli: string): Promise<{ wall: number; cpu: number; sys: number; stdout: string }> {
  const t0 = performance.now();
  const { stdout } = await run(
    process.execPath,
    [...clientNodeArgs, "--import", CHILD_CPU, cli, "history", "alice", "--limit", "1"],
    {
      env: { ...h.env("bob"), SMSG_BENCH_CPU_FILE: cpuFile },
    },
  );
  const wall = performance.now() - t0;
  const { userMs, sysMs } = JSON.parse(readFileSync(cpuFile, "utf8")) as { userMs: number; sysMs: number };
  return { wall, cpu: userMs + sysMs, sys: sysMs, stdout };
}

async function main() {
  const port = await freePort();
  const limits = ["--message-rate", "1000000", "--message-burst", "1000000"];
  const relay = await startRelayProcess(h.relayData, port, limits);
  const clis: [name: string, path: string][] = [
    ["new", CLI],
    ...(OLD_CLI ? [["old", OLD_CLI] as [string, string]] : []),
  ];
  const perMsg = new Map<string, number[]>();
  const cpuPerMsg = new Map<string, number[]>();
  try {
    await joinAliceAndBob(h);
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of SIZES) {
        const order = round % 2 === 0 ? clis : [...clis].reverse();
        for (const [name, cli] of order) {
          await seed(n);
          const full = await history(cli);
          // The last text must be what bob shows: a sync that stored them as undecryptable measures nothing useful.
          if (!full.stdout.includes(`message ${n - 1} `))
            throw new Error(`${name}: the last message is not in bob's history:\n${full.stdout}`);
          const empty = await history(cli);
          const ms = (full.wall - empty.wall) / n;
          const cpuMs = (full.cpu - empty.cpu) / n;
          const key = `${name} N=${n}`;
          perMsg.set(key, [...(perMsg.get(key) ?? []), ms]);
          cpuPerMsg.set(key, [...(cpuPerMsg.get(key) ?? []), cpuMs]);
          console.log(
            JSON.stringify({
              round,
              cli: name,
              n,
              wallMs: Math.round(full.wall),
              emptyMs: Math.round(empty.wall),
              msPerMessage: +ms.toFixed(3),
              cpuMs: Math.round(full.cpu),
              emptyCpuMs: Math.round(empty.cpu),
              cpuMsPerMessage: +cpuMs.toFixed(3),
              // The kernel's part of it (writes, fsyncs, the socket), per message.
              sysMsPerMessage: +((full.sys - empty.sys) / n).toFixed(3),
              load1: +loadavg()[0]!.toFixed(1),
            }),
          );
        }
      }
    }
    const summary: Record<
      string,
      { medianMsPerMessage: number; runs: number[]; medianCpuMsPerMessage: number; cpuRuns: number[] }
    > = {};
    for (const [k, xs] of perMsg) {
      const cpu = cpuPerMsg.get(k)!;
      summary[k] = {
        medianMsPerMessage: +median(xs).toFixed(3),
        runs: xs.map((x) => +x.toFixed(3)),
        medianCpuMsPerMessage: +median(cpu).toFixed(3),
        cpuRuns: cpu.map((x) => +x.toFixed(3)),
      };
    }
    console.log(JSON.stringify({ node: process.version, summary }, null, 2));
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
