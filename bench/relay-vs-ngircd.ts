/**
 * The relay next to ngircd (issue 13): the same load shapes (bench/relay.ts, and
 * bench/irc-load.ts for IRC) against both servers in the same run, alternating, so each ratio
 * comes from one run on this machine. Every round runs ngircd, then the relay on each storage,
 * per scenario; the relay side is `dist/bench/relay.js` as a child process (its own load
 * generator process, as ngircd's is this one), on a fresh database per run for `pg`.
 *
 *   npm run build
 *   node dist/bench/relay-vs-ngircd.js [--install-peer] [--storages embedded,pg]
 *       [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--rounds 3]
 *       [--scenario all|throughput|latency|group] [--seconds 8] [--pairs 50] [--window 32]
 *       [--rate 2000] [--peer-nodelay yes|no] [--peer-window pong|receipt] [--relay-build DIR]
 *       [--relay-flags "--commit-shards 4"]
 *
 * --install-peer installs Debian's `ngircd` with apt-get first (only then; never in npm test).
 * --peer-window: what frees an IRC sender's window slot (bench/irc-load.ts, WindowRelease).
 * --relay-build: the checkout whose dist/ relay is measured (default this one), e.g. a build of
 * an older commit for alternating before/after runs.
 * --database-url names a server where fresh benchmark databases may be created and dropped.
 * Prints one JSON line per measurement, then medians and the ratios (relay ÷ ngircd; for
 * latency, ngircd's p99 ÷ the relay's, so above 1 means the relay is faster there too).
 */
import { execFile } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { packageRoot } from "../src/paths.js";
import { ircGroup, ircLatency, ircThroughput, type ScenarioResult, type WindowRelease } from "./irc-load.js";
import { installNgircd, startNgircd } from "./ngircd-process.js";
import { freePort } from "./relay-process.js";
import { median } from "./median.js";

const run = promisify(execFile);
const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const storages = arg("storages", "embedded,pg")
  .split(",")
  .filter((s) => s !== "none");
const databaseUrl = arg("database-url", process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres");
const rounds = Number(arg("rounds", "3"));
const scenarioArg = arg("scenario", "all");
const scenarios = scenarioArg === "all" ? ["throughput", "latency", "group"] : scenarioArg.split(",");
const seconds = Number(arg("seconds", "8"));
const pairs = Number(arg("pairs", "50"));
const window = Number(arg("window", "32"));
const rate = Number(arg("rate", "2000"));
/** A checkout whose built relay (and its bench/relay.ts) is measured: another build for before/after runs. */
const relayBuild = arg("relay-build", packageRoot());
/** More `relay serve` flags, passed on to bench/relay.ts (e.g. "--commit-shards 4"). */
const relayFlags = arg("relay-flags", "");
const peerNoDelay = arg("peer-nodelay", "yes") !== "no";
const peerWindow = arg("peer-window", "receipt") as WindowRelease;
if (peerWindow !== "pong" && peerWindow !== "receipt") throw new Error("--peer-window is pong or receipt");

/** The figure compared: delivered msg/s, or the p99 latency in ms for the paced scenario. */
interface Figure {
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  /** The relay process's CPU µs per delivered message (bench/relay.ts), where it reports it. */
  relayCpuUs?: number;
}

async function withFreshDatabase<T>(use: (url: string) => Promise<T>): Promise<T> {
  const name = `smsg_bench_vs_irc_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    return await use(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

async function relayRun(storage: string, scenario: string): Promise<Figure> {
  const once = async (extra: string[]): Promise<Figure> => {
    const args = [
      join(relayBuild, "dist", "bench", "relay.js"),
      "--storage",
      storage,
      ...extra,
      "--scenario",
      scenario,
      "--seconds",
      String(seconds),
      "--pairs",
      String(pairs),
      "--window",
      String(window),
      "--rate",
      String(rate),
      ...(relayFlags ? ["--relay-flags", relayFlags] : []),
    ];
    const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024, env: process.env });
    const r = (JSON.parse(stdout) as { results: Record<string, unknown>[] }).results[0]!;
    const lat = r["latencyMs"] as { p50: number; p95: number; p99: number };
    const perSecond = Number(r["deliveredPerSecond"] ?? r["achievedPerSecond"]);
    const cpu = r["relayCpuMicrosPerDelivered"];
    return {
      perSecond,
      p50: lat.p50,
      p95: lat.p95,
      p99: lat.p99,
      ...(cpu !== undefined ? { relayCpuUs: Number(cpu) } : {}),
    };
  };
  return storage === "pg" ? withFreshDatabase((url) => once(["--database-url", url])) : once([]);
}

async function ircRun(port: number, scenario: string): Promise<Figure> {
  let r: ScenarioResult;
  if (scenario === "throughput") r = await ircThroughput(port, pairs, window, seconds, peerWindow);
  else if (scenario === "latency") r = await ircLatency(port, pairs, rate, seconds);
  else r = await ircGroup(port, seconds, peerWindow);
  return { perSecond: r.deliveredPerSecond, ...r.latencyMs };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  if (argv.includes("--install-peer")) installNgircd();
  const port = await freePort();
  const irc = await startNgircd(port, { noDelay: peerNoDelay });
  const figures = new Map<string, Figure[]>(); // "scenario/server" → one per round
  const record = (scenario: string, server: string, f: Figure): void => {
    const key = `${scenario}/${server}`;
    figures.set(key, [...(figures.get(key) ?? []), f]);
    console.log(JSON.stringify({ scenario, server, ...f, loadAverage: loadAverage() }));
  };
  try {
    for (let round = 1; round <= rounds; round++)
      for (const scenario of scenarios) {
        record(scenario, "ngircd", await ircRun(port, scenario));
        for (const s of storages) record(scenario, `relay-${s}`, await relayRun(s, scenario));
      }
  } finally {
    await irc.stop();
  }
  const med = (scenario: string, server: string, k: keyof Figure): number =>
    median((figures.get(`${scenario}/${server}`) ?? []).map((f) => f[k] ?? NaN));
  const summary = scenarios.map((scenario) => {
    const row: Record<string, unknown> = { scenario };
    const k: keyof Figure = scenario === "latency" ? "p99" : "perSecond";
    row["ngircd"] = scenario === "latency" ? latencyOf(scenario, "ngircd", med) : med(scenario, "ngircd", k);
    for (const s of storages) {
      const server = `relay-${s}`;
      row[server] = scenario === "latency" ? latencyOf(scenario, server, med) : med(scenario, server, k);
      row[`ratio-${s}`] =
        scenario === "latency"
          ? round2(med(scenario, "ngircd", "p99") / med(scenario, server, "p99"))
          : round2(med(scenario, server, k) / med(scenario, "ngircd", k));
      if (scenario !== "latency") row[`relayCpuUsPerDelivered-${s}`] = med(scenario, server, "relayCpuUs");
    }
    return row;
  });
  console.log(
    JSON.stringify(
      {
        relayBuild,
        peer: irc.version,
        peerNoDelay: irc.noDelay,
        peerWindow,
        rounds,
        seconds,
        pairs,
        window,
        rate,
        medians: summary,
      },
      null,
      2,
    ),
  );
}

function latencyOf(
  scenario: string,
  server: string,
  med: (scenario: string, server: string, k: keyof Figure) => number,
): string {
  const at = (k: keyof Figure): number => round2(med(scenario, server, k));
  return `p50 ${at("p50")} / p95 ${at("p95")} / p99 ${at("p99")} ms`;
}

function loadAverage(): number {
  return round2(loadavg()[0]!);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
