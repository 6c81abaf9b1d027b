/**
 * What one one-shot `smsg send` asks the relay, counted by the relay itself: a text in a group of
 * `--members` members (default 20, the sender included) and a 1:1 text, with the real CLI
 * against a real relay process (embedded PostgreSQL). Requests are the relay's frames received
 * by wire type (`smsg_relay_frames_received_total`), bytes its TCP counters both ways (Noise
 * included, every connection). Counts, not time: the result does not depend on the machine's
 * load (SECURITY.md §17.8 "Versions" is what it measures: device lists kept current with one
 * `fetch_device_list_versions` instead of one `fetch_device_list` per member).
 *
 *   npm run build && node dist/bench/device-list-requests.js [--members 20] [--sends 3] [--old-cli PATH]
 *
 * `--old-cli`: another build's `dist/bin/smsg.js` (e.g. main's, built in a separate worktree),
 * measured on the same profiles, alternating with this build's send by send; the relay is this
 * build's for both (a client that predates the question never asks it).
 *
 * `--rtt-ms R`: the CLIs reach the relay through bench/delay-proxy.ts, and each send runs twice,
 * on a link without delay and with R ms of round-trip time; the difference in wall time divided
 * by R is the round trips the send waited for (requests a client sends without waiting for the
 * previous answer share one), which is what a user on a slow link feels.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { benchHomes } from "./cli-pair.js";
import { type DelayProxy, startDelayProxy } from "./delay-proxy.js";
import { CLI, freePort, startRelayProcess } from "./relay-process.js";

const run = promisify(execFile);
const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const MEMBERS = Number(arg("--members") ?? 20);
const SENDS = Number(arg("--sends") ?? 3);
const OLD_CLI = arg("--old-cli");
const RTT_MS = Number(arg("--rtt-ms") ?? 0);

const h = benchHomes("smsg-bench-lists-");

interface Counters {
  readonly bytes: number;
  /** Frames received from clients, by wire type. */
  readonly frames: ReadonlyMap<string, number>;
}

async function counters(httpPort: number): Promise<Counters> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  const frames = new Map<string, number>();
  for (const m of text.matchAll(/^smsg_relay_frames_received_total\{type="([a-z_]+)"\} (\S+)$/gm))
    frames.set(m[1]!, Number(m[2]));
  return { bytes: value("smsg_relay_received_bytes_total") + value("smsg_relay_sent_bytes_total"), frames };
}

/** What happened between two readings: bytes, and frames by type (those that changed). */
function delta(a: Counters, b: Counters): { bytes: number; frames: Record<string, number> } {
  const frames: Record<string, number> = {};
  for (const [t, n] of b.frames) if (n !== (a.frames.get(t) ?? 0)) frames[t] = n - (a.frames.get(t) ?? 0);
  return { bytes: b.bytes - a.bytes, frames };
}

/** Requests among the frames: everything but `ack` and `pong`, which wait for no answer. */
const requestsOf = (frames: Record<string, number>) =>
  Object.entries(frames).reduce((sum, [t, n]) => sum + (t === "ack" || t === "pong" ? 0 : n), 0);

type Measured = ReturnType<typeof delta> & {
  requests: number;
  /** With --rtt-ms: wall ms without delay and with it, and the round trips their difference makes. */
  ms?: number;
  msWithRtt?: number;
  roundTrips?: number;
};

/** Runs `args` as alice with `cli`; its wall time in ms. */
async function timed(cli: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await h.smsg("alice", args, cli);
  return performance.now() - t0;
}

/**
 * Runs `args` as alice with `cli` and returns what the relay counted meanwhile; through `proxy`
 * (when --rtt-ms is given), once more with the round-trip time on, for the round trips.
 */
async function measured(httpPort: number, cli: string, args: string[], proxy?: DelayProxy): Promise<Measured> {
  const before = await counters(httpPort);
  const ms = await timed(cli, args);
  const d = delta(before, await counters(httpPort));
  const m: Measured = { ...d, requests: requestsOf(d.frames) };
  if (proxy === undefined) return m;
  proxy.oneWayMs = RTT_MS / 2;
  const msWithRtt = await timed(cli, [...args.slice(0, -1), `${args.at(-1)!} (slow link)`]).finally(
    () => (proxy.oneWayMs = 0),
  );
  return {
    ...m,
    ms: Math.round(ms),
    msWithRtt: Math.round(msWithRtt),
    roundTrips: +((msWithRtt - ms) / RTT_MS).toFixed(1),
  };
}

async function main() {
  const port = await freePort();
  const httpPort = await freePort();
  const relay = await startRelayProcess(h.relayData, port, ["--http", `127.0.0.1:${httpPort}`]);
  // Every CLI joins through the proxy (its port in the invite), so every later command uses it.
  const proxy = RTT_MS > 0 ? await startDelayProxy(port) : undefined;
  try {
    const invite = (
      await run(process.execPath, [CLI, "relay", "invite", "--data", h.relayData, "--uses", String(MEMBERS)])
    ).stdout.trim();
    const link = proxy ? invite.replace(`:${port}/`, `:${proxy.port}/`) : invite;
    if (proxy && link === invite) throw new Error(`the invite names no port ${port}: ${invite}`);
    const others = Array.from({ length: MEMBERS - 1 }, (_, i) => `m${String(i + 1).padStart(2, "0")}`);
    for (const name of ["alice", ...others]) {
      await h.smsg(name, ["join", link, "--name", name]);
      // Going online once publishes the account's first device list (§17.1), as any §17 client has.
      await h.smsg(name, ["chat", "list"]);
    }
    await h.smsg("alice", ["chat", "create", "team", "--members", others.join(",")]);
    // The first texts make the sessions (X3DH per member) and hand our sender key over.
    await h.smsg("alice", ["send", "team", "warm-up: sessions and sender keys"]);
    await h.smsg("alice", ["chat", "open", others[0]!]);
    await h.smsg("alice", ["send", others[0]!, "warm-up: the session"]);

    const clis: [string, string][] = [["new", CLI]];
    if (OLD_CLI !== undefined) clis.unshift(["old", OLD_CLI]);
    const results: Record<string, { group: Measured[]; direct: Measured[] }> = {};
    for (const [name] of clis) results[name] = { group: [], direct: [] };
    for (let n = 0; n < SENDS; n++) {
      // Alternating old and new, which goes first changing each round.
      const order = n % 2 === 0 ? clis : [...clis].reverse();
      for (const [name, cli] of order) {
        results[name]!.group.push(await measured(httpPort, cli, ["send", "team", `text ${n} from ${name}`], proxy));
        results[name]!.direct.push(
          await measured(httpPort, cli, ["send", others[0]!, `text ${n} from ${name}`], proxy),
        );
      }
    }
    console.log(
      JSON.stringify({ node: process.version, members: MEMBERS, sends: SENDS, rttMs: RTT_MS, results }, null, 2),
    );
  } finally {
    await proxy?.close();
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
