/**
 * One-shot start-up benchmark: the wall time from starting a process to its exit, for
 * `node -e 0` (the floor any Node program pays), `smsg --version` (loading the command line
 * alone), and `smsg send`, `smsg history`, `smsg whoami` against a real relay on loopback with
 * a joined profile in a temporary folder. Each is reported as a median and as a ratio to
 * `node -e 0` measured in the same rounds (docs/ARCHITECTURE.md §2: results with their command
 * in bench/RESULTS.md).
 *
 *   npm run build && node dist/bench/startup.js [--runs 10] [--cli OTHER/dist/bin/smsg.js]...
 *
 * The commands run one after another in rounds, so every one sees the same load on a busy
 * machine. Each `--cli` adds a build of `smsg` to compare (an older checkout's
 * dist/bin/smsg.js, say); its commands run in the same rounds, alternating with this build's,
 * against the same relay and profile. The relay and the profiles always come from this build.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { relative } from "node:path";
import { promisify } from "node:util";
import { CLI, freePort, startRelayProcess } from "./relay-process.js";
import { benchHomes, joinAliceAndBob } from "./cli-pair.js";
import { median } from "./median.js";

const run = promisify(execFile);
const argv = process.argv.slice(2);
const RUNS = (() => {
  const i = argv.indexOf("--runs");
  return i >= 0 ? Number(argv[i + 1]) : 10;
})();
const CLIS = [CLI, ...argv.flatMap((a, i) => (a === "--cli" && argv[i + 1] ? [argv[i + 1]!] : []))];

const h = benchHomes("smsg-bench-startup-");

interface Case {
  readonly name: string;
  /** The process's arguments after node, given a CLI path and the round number. */
  readonly args: (cli: string, round: number) => string[];
  /** Only this build's CLI runs it (node -e 0 needs no CLI). */
  readonly once?: boolean;
}

const CASES: readonly Case[] = [
  { name: "node -e 0", args: () => ["-e", "0"], once: true },
  { name: "smsg --version", args: (cli) => [cli, "--version"] },
  { name: "smsg send", args: (cli, round) => [cli, "send", "bob", `start-up round ${round}`] },
  { name: "smsg history", args: (cli) => [cli, "history", "bob", "--limit", "20"] },
  { name: "smsg whoami", args: (cli) => [cli, "whoami"] },
];

async function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  await run(process.execPath, args, { env: h.env("alice") });
  return performance.now() - t0;
}

async function main() {
  const port = await freePort();
  const relay = await startRelayProcess(h.relayData, port);
  const load: number[] = [];
  try {
    await joinAliceAndBob(h);

    const samples = new Map<string, number[]>();
    const key = (c: Case, cli: string) => (c.once ? c.name : `${c.name} [${relative(process.cwd(), cli)}]`);
    for (let round = 0; round < RUNS; round++) {
      load.push(loadavg()[0]!);
      for (const c of CASES)
        for (const cli of c.once ? [CLI] : CLIS) {
          const ms = await timed(c.args(cli, round));
          const k = key(c, cli);
          samples.set(k, [...(samples.get(k) ?? []), ms]);
        }
    }
    const floor = median(samples.get("node -e 0")!);
    const rows = [...samples].map(([name, xs]) => ({
      name,
      medianMs: +median(xs).toFixed(1),
      minMs: +Math.min(...xs).toFixed(1),
      ratioToNode: +(median(xs) / floor).toFixed(2),
    }));
    console.log(
      JSON.stringify(
        {
          node: process.version,
          runs: RUNS,
          loadAverage1m: { min: +Math.min(...load).toFixed(1), max: +Math.max(...load).toFixed(1) },
          rows,
        },
        null,
        2,
      ),
    );
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
    rmSync(h.root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
