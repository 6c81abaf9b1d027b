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
 * after with the same CLI) / N: process start, connect and login are taken out. With
 * --old-cli, every round measures both CLIs on the same receiver profile, alternating which
 * goes first, so old and new are compared in the same minutes (docs: bench/RESULTS.md).
 */
import { execFile } from "node:child_process";
import { loadavg } from "node:os";
import { promisify } from "node:util";
import { goOnline } from "../client/engine/online.js";
import { closeAccount, openLocalAccount } from "../client/engine/open-account.js";
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
      for (let done = 0; done < n;) {
        const k = Math.min(SEED_CHUNK, n - done);
        acct.store.transaction(() => {
          for (let i = 0; i < k; i++) queueText(acct, chat, `message ${done + i} ${"m".repeat(80)}`);
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

/** Wall time of bob's `smsg history alice --limit 1` with `cli`, in ms. */
async function history(cli: string): Promise<number> {
  const t0 = performance.now();
  await run(process.execPath, [...clientNodeArgs, cli, "history", "alice", "--limit", "1"], { env: h.env("bob") });
  return performance.now() - t0;
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
  try {
    await joinAliceAndBob(h);
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of SIZES) {
        const order = round % 2 === 0 ? clis : [...clis].reverse();
        for (const [name, cli] of order) {
          await seed(n);
          const wall = await history(cli);
          const empty = await history(cli);
          const ms = (wall - empty) / n;
          const key = `${name} N=${n}`;
          perMsg.set(key, [...(perMsg.get(key) ?? []), ms]);
          console.log(
            JSON.stringify({
              round,
              cli: name,
              n,
              wallMs: Math.round(wall),
              emptyMs: Math.round(empty),
              msPerMessage: +ms.toFixed(3),
              load1: +loadavg()[0]!.toFixed(1),
            }),
          );
        }
      }
    }
    const summary: Record<string, { medianMsPerMessage: number; runs: number[] }> = {};
    for (const [k, xs] of perMsg)
      summary[k] = { medianMsPerMessage: +median(xs).toFixed(3), runs: xs.map((x) => +x.toFixed(3)) };
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
