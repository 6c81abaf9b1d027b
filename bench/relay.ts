/**
 * Relay benchmark: a real `smsg relay serve` child process and this process as the load
 * generator, both on this machine, over loopback with the full Noise transport.
 *
 *   npm run build
 *   node dist/bench/relay.js [--storage embedded|pg] [--database-url URL]
 *       [--scenario all|throughput|latency|group|idle|footprint]
 *       [--pairs 50] [--window 64] [--seconds 10] [--rate 5000] [--idle 10000]
 *       [--relay-flags "--commit-shards 4 …"]
 *
 * Scenarios:
 * - throughput: --pairs sender→receiver pairs, each sender keeping --window sends in flight;
 *   reports delivered messages per second (each send is committed before its ack).
 * - latency: the same pairs, paced at --rate messages per second in total; send-to-receipt
 *   latency p50/p95/p99.
 * - group: one sender per 20-member group (several groups), delivered messages per second and latency.
 * - idle: --idle logged-in idle connections; relay memory (RSS) per connection.
 * - footprint: memory of the idle relay and of its embedded PostgreSQL (PSS of every process,
 *   so shared pages are counted once), and start-up times: the first start of a new data
 *   folder (initdb) and a restart (spawn to listening), measured by main() for every run.
 * The 1:1 and group scenarios also report the relay process's CPU time (user + system, from
 * /proc) per delivered message: steadier than messages per second on a busy machine.
 * --relay-flags: more `relay serve` flags (e.g. a limit to compare two settings).
 * Every scenario reports bytes on the wire per delivered message: all bytes both ways on every
 * socket of the scenario (sends, acks, pushes, records, tags) divided by messages delivered.
 * Envelopes are 162 random bytes: the size of a 1:1 MESSAGE envelope carrying a 100-byte
 * message (SECURITY.md §6.5: 1 + 41-byte header + Padmé(101) = 104 + 16-byte tag).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RelayClient, loginSignature } from "../client/relay-client.js";
import { encodeIdentityPublic, generateIdentity, type IdentityKeyPair } from "../crypto/identity.js";
import { generateSignedPrekey } from "../crypto/prekeys.js";
import { systemRng } from "../src/system-rng.js";
import { freePort, inviteCode, startRelayProcess, type RelayProcess } from "./relay-process.js";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const storage = arg("storage", "embedded");
const scenario = arg("scenario", "all");
const PAIRS = Number(arg("pairs", "50"));
const WINDOW = Number(arg("window", "64"));
const SECONDS = Number(arg("seconds", "10"));
const RATE = Number(arg("rate", "5000"));
const IDLE = Number(arg("idle", "10000"));
const ENVELOPE_BYTES = 162;
const RELAY_FLAGS = arg("relay-flags", "").split(" ").filter(Boolean);

interface User {
  name: string;
  credential: Uint8Array;
  identity: IdentityKeyPair;
}

let relay: RelayProcess;
let port = 0;
let relayKey: Uint8Array;
let dataDir = "";
let extra: string[] = [];
let codeCounter = 0;

/** Every client socket, to count bytes both ways. */
const sockets: Socket[] = [];

async function connect(): Promise<RelayClient> {
  const c = await RelayClient.connect({
    host: "127.0.0.1",
    port,
    relayKey,
    rng: systemRng,
    timeoutMs: 60_000,
    requestTimeoutMs: 120_000,
  });
  sockets.push(socketOf(c));
  return c;
}

async function makeUsers(n: number, prefix: string): Promise<User[]> {
  const { code } = await inviteCode(dataDir, n, extra);
  const users: User[] = [];
  for (let i = 0; i < n; i++) {
    const identity = generateIdentity(systemRng);
    const spk = generateSignedPrekey(systemRng, identity, 1);
    const u: User = { name: `${prefix}-user-${codeCounter++}`, credential: systemRng(32), identity };
    const c = await connect();
    await c.request<"join">({
      t: "join",
      invite: code,
      username: u.name,
      credential: u.credential,
      identity: encodeIdentityPublic(identity.publicKey),
      signed_prekey: { key_id: 1, public_key: spk.keyPair.publicKey, signature: spk.signature },
      one_time_prekeys: [],
      signature: loginSignature(identity, c.handshakeHash),
    });
    c.close();
    users.push(u);
  }
  return users;
}

async function login(u: User): Promise<RelayClient> {
  const c = await connect();
  await c.login(u.name, u.credential, u.identity);
  return c;
}

/** CPU time the relay process has used so far, µs (utime + stime of /proc/PID/stat). */
function relayCpuMicros(): number {
  const fields = readFileSync(`/proc/${relay.child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}
/** Linux's USER_HZ, what /proc/PID/stat counts in. */
const CLOCK_TICKS = 100;

function wireBytes(clients?: RelayClient[]): number {
  const of = clients ? clients.map(socketOf) : sockets;
  return of.reduce((n, s) => n + s.bytesRead + s.bytesWritten, 0);
}

function socketOf(c: RelayClient): Socket {
  return (c as unknown as { noise: { stream: Socket } }).noise.stream;
}

/**
 * Envelopes and idempotency ids are cheap to make, so the load generator spends its share of
 * the two cores on the protocol, not on randomness: random filler drawn once, then a counter.
 */
const FILLER = new Uint8Array(randomBytes(ENVELOPE_BYTES));
let counter = 0n;

function envelopeAt(t: bigint): Uint8Array {
  const e = FILLER.slice();
  const v = new DataView(e.buffer);
  v.setBigUint64(0, t);
  v.setBigUint64(8, counter++);
  return e;
}

const IDEM_PREFIX = new Uint8Array(randomBytes(8));
function nextIdem(): Uint8Array {
  const idem = new Uint8Array(16);
  idem.set(IDEM_PREFIX);
  new DataView(idem.buffer).setBigUint64(8, counter++);
  return idem;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Receivers push latencies here and count deliveries. */
interface Sink {
  delivered: number;
  latenciesMs: number[];
}

function receive(c: RelayClient, sink: Sink, ackEvery = 256): void {
  let sinceAck = 0;
  c.on("msg", (m) => {
    sink.delivered++;
    const sentAt = new DataView(m.envelope.buffer, m.envelope.byteOffset, 8).getBigUint64(0);
    sink.latenciesMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    if (++sinceAck >= ackEvery) {
      sinceAck = 0;
      c.notify({ t: "ack", chat: m.chat, upto: m.msg });
    }
  });
}

async function pairsSetup(n: number) {
  const senders = await makeUsers(n, "s");
  const receivers = await makeUsers(n, "r");
  const sc = await Promise.all(senders.map(login));
  const rc = await Promise.all(receivers.map(login));
  const chats = await Promise.all(
    sc.map((c, i) =>
      c.request<"open_direct">({ t: "open_direct", username: receivers[i]!.name }).then((r) => r.chat.id),
    ),
  );
  return { sc, rc, chats };
}

async function throughput() {
  const { sc, rc, chats } = await pairsSetup(PAIRS);
  const sink: Sink = { delivered: 0, latenciesMs: [] };
  for (const c of rc) receive(c, sink);
  const bytes0 = wireBytes();
  const up0 = wireBytes(sc);
  const down0 = wireBytes(rc);
  const cpu0 = relayCpuMicros();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let acked = 0;
  await Promise.all(
    sc.map(async (c, i) => {
      const worker = async () => {
        while (performance.now() < end) {
          await c.request<"send">({
            t: "send",
            chat: chats[i]!,
            idem: nextIdem(),
            envelope: envelopeAt(process.hrtime.bigint()),
          });
          acked++;
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, worker));
    }),
  );
  await settle(sink, acked);
  const secs = (performance.now() - t0) / 1000;
  const lat = [...sink.latenciesMs].sort((a, b) => a - b);
  const result = {
    scenario: "throughput 1:1",
    pairs: PAIRS,
    window: WINDOW,
    acked,
    delivered: sink.delivered,
    deliveredPerSecond: Math.round(sink.delivered / secs),
    relayCpuMicrosPerDelivered: Math.round(((relayCpuMicros() - cpu0) / Math.max(1, sink.delivered)) * 10) / 10,
    latencyMs: { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99) },
    wireBytesPerDelivered: Math.round((wireBytes() - bytes0) / Math.max(1, sink.delivered)),
    // The two legs: sender↔relay (send + sent) and relay↔recipient (msg + its acks).
    senderLegBytesPerMessage: Math.round((wireBytes(sc) - up0) / Math.max(1, acked)),
    recipientLegBytesPerMessage: Math.round((wireBytes(rc) - down0) / Math.max(1, sink.delivered)),
  };
  for (const c of [...sc, ...rc]) c.close();
  return result;
}

/** Waits until every acked message has been delivered (or 10 s pass). */
async function settle(sink: Sink, expected: number): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (sink.delivered < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function latency() {
  const { sc, rc, chats } = await pairsSetup(PAIRS);
  const sink: Sink = { delivered: 0, latenciesMs: [] };
  for (const c of rc) receive(c, sink);
  const bytes0 = wireBytes();
  const up0 = wireBytes(sc);
  const down0 = wireBytes(rc);
  const total = RATE * SECONDS;
  const intervalMs = 1000 / RATE;
  const t0 = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  // Paced: message k leaves at t0 + k·interval, round-robin over the pairs.
  while (sent < total) {
    const due = t0 + sent * intervalMs;
    const now = performance.now();
    if (due > now) await new Promise((r) => setTimeout(r, Math.max(0, due - now - 0.5)));
    while (sent < total && t0 + sent * intervalMs <= performance.now()) {
      const i = sent % PAIRS;
      pending.push(
        sc[i]!.request<"send">({
          t: "send",
          chat: chats[i]!,
          idem: nextIdem(),
          envelope: envelopeAt(process.hrtime.bigint()),
        }),
      );
      sent++;
    }
  }
  await Promise.all(pending);
  await settle(sink, sent);
  const lat = [...sink.latenciesMs].sort((a, b) => a - b);
  const result = {
    scenario: `latency 1:1 paced at ${RATE}/s`,
    pairs: PAIRS,
    sent,
    delivered: sink.delivered,
    achievedPerSecond: Math.round(sent / ((performance.now() - t0) / 1000)),
    latencyMs: {
      p50: percentile(lat, 50),
      p95: percentile(lat, 95),
      p99: percentile(lat, 99),
      max: lat[lat.length - 1],
    },
    wireBytesPerDelivered: Math.round((wireBytes() - bytes0) / Math.max(1, sink.delivered)),
    senderLegBytesPerMessage: Math.round((wireBytes(sc) - up0) / Math.max(1, sent)),
    recipientLegBytesPerMessage: Math.round((wireBytes(rc) - down0) / Math.max(1, sink.delivered)),
  };
  for (const c of [...sc, ...rc]) c.close();
  return result;
}

async function group() {
  const GROUPS = 5;
  const MEMBERS = 20;
  const users = await makeUsers(GROUPS * MEMBERS, "g");
  const clients = await Promise.all(users.map(login));
  const sink: Sink = { delivered: 0, latenciesMs: [] };
  const chats: number[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const members = users.slice(g * MEMBERS, (g + 1) * MEMBERS);
    const creator = clients[g * MEMBERS]!;
    const chat = await creator.request<"create_group">({
      t: "create_group",
      members: members.slice(1).map((u) => u.name),
    });
    chats.push(chat.chat.id);
    for (let m = 1; m < MEMBERS; m++) receive(clients[g * MEMBERS + m]!, sink);
  }
  const bytes0 = wireBytes();
  const cpu0 = relayCpuMicros();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let acked = 0;
  await Promise.all(
    chats.map(async (chat, g) => {
      const c = clients[g * MEMBERS]!;
      const worker = async () => {
        while (performance.now() < end) {
          await c.request<"send">({ t: "send", chat, idem: nextIdem(), envelope: envelopeAt(process.hrtime.bigint()) });
          acked++;
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    }),
  );
  await settle(sink, acked * (MEMBERS - 1));
  const secs = (performance.now() - t0) / 1000;
  const lat = [...sink.latenciesMs].sort((a, b) => a - b);
  const result = {
    scenario: `group: ${GROUPS} groups of ${MEMBERS}, one sender each`,
    sendsAcked: acked,
    delivered: sink.delivered,
    deliveredPerSecond: Math.round(sink.delivered / secs),
    relayCpuMicrosPerDelivered: Math.round(((relayCpuMicros() - cpu0) / Math.max(1, sink.delivered)) * 10) / 10,
    latencyMs: { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99) },
    wireBytesPerDelivered: Math.round((wireBytes() - bytes0) / Math.max(1, sink.delivered)),
  };
  for (const c of clients) c.close();
  return result;
}

function relayRssKiB(): number {
  const status = readFileSync(`/proc/${relay.child.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function idle() {
  const users = await makeUsers(50, "i");
  await new Promise((r) => setTimeout(r, 1000));
  const before = relayRssKiB();
  const clients: RelayClient[] = [];
  for (let i = 0; i < IDLE; i += 200) {
    clients.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(200, IDLE - i) }, (_, k) => login(users[(i + k) % users.length]!)),
      )),
    );
  }
  await new Promise((r) => setTimeout(r, 2000));
  const after = relayRssKiB();
  const result = {
    scenario: "idle connections",
    connections: clients.length,
    relayRssBeforeKiB: before,
    relayRssAfterKiB: after,
    bytesPerIdleConnection: Math.round(((after - before) * 1024) / clients.length),
  };
  for (const c of clients) c.close();
  return result;
}

/** Proportional set size of a process, KiB (shared pages divided among their users). */
function pssKiB(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  return Number(/^Pss:\s+(\d+)/m.exec(rollup)![1]);
}

/** The pids of the embedded PostgreSQL of the data folder (postmaster and its children) and its watchdog shells. */
function databasePids(): number[] {
  const pgDir = join(dataDir, "pg");
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8");
      const parent = Number(readFileSync(`/proc/${e}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      if (cmd.includes(pgDir) || pids.includes(parent)) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function footprint() {
  await new Promise((r) => setTimeout(r, 3000)); // idle: let start-up garbage be collected
  const relayPss = pssKiB(relay.child.pid!);
  const db = storage === "embedded" ? databasePids() : [];
  const dbPss = db.reduce((n, pid) => n + pssKiB(pid), 0);
  return {
    scenario: "footprint (idle, no clients)",
    relayPssKiB: relayPss,
    databaseProcesses: db.length,
    databasePssKiB: dbPss,
    totalPssKiB: relayPss + dbPss,
    firstStartMs: startTimes.first,
    restartMs: startTimes.restart,
  };
}

const startTimes = { first: 0, restart: 0 };

async function main() {
  dataDir = mkdtempSync(join(tmpdir(), "smsg-bench-"));
  port = await freePort();
  if (storage === "pg") {
    const url = arg("database-url", process.env["DATABASE_URL"] ?? "");
    if (!url) throw new Error("--storage pg needs --database-url (an empty database)");
    extra = ["--database-url", url];
  }
  const limits = [
    "--max-connections-per-address",
    "100000",
    "--message-rate",
    "1000000",
    "--message-burst",
    "1000000",
    "--max-outbound-bytes",
    String(64 * 1024 * 1024),
    ...RELAY_FLAGS,
  ];
  let t0 = performance.now();
  relay = await startRelayProcess(dataDir, port, [...extra, ...limits]);
  startTimes.first = Math.round(performance.now() - t0);
  relay.child.kill("SIGTERM");
  await relay.exited;
  t0 = performance.now();
  relay = await startRelayProcess(dataDir, port, [...extra, ...limits]);
  startTimes.restart = Math.round(performance.now() - t0);
  relayKey = (await inviteCode(dataDir, 1, extra)).relayKey;
  const results: unknown[] = [];
  try {
    if (scenario === "all" || scenario === "footprint") results.push(await footprint());
    if (scenario === "all" || scenario === "throughput") results.push(await throughput());
    if (scenario === "all" || scenario === "latency") results.push(await latency());
    if (scenario === "all" || scenario === "group") results.push(await group());
    if (scenario === "all" || scenario === "idle") results.push(await idle());
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
  console.log(JSON.stringify({ storage, node: process.version, results }, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  relay?.child.kill("SIGKILL");
  process.exitCode = 1;
});
