/**
 * The relay benchmark's load shapes (bench/relay.ts) spoken in IRC to ngircd
 * (bench/ngircd-process.ts), so the two servers are compared on the same work:
 * - throughput: `pairs` sender→receiver pairs, each sender keeping `window` messages in
 *   flight. IRC has no ack: a message leaves the window when its receiver has it (release
 *   "receipt", the default: no extra traffic, IRC's 250 B per delivered message), or, with
 *   release "pong", when the server answers the PING sent after it (it has then handled the
 *   PRIVMSG and queued it to every recipient), the analogue of the relay's `sent`;
 * - latency: the same pairs, paced at `rate` messages per second in total, round-robin;
 * - group: GROUPS channels of MEMBERS members, one sender each with GROUP_WINDOW in flight
 *   (PING/PONG windows too).
 * Messages are PRIVMSGs with a 100-byte text: what the relay's 162-byte envelope carries. The
 * generator keeps its own cost low (raw sockets, lines found with Buffer.indexOf, one write
 * per socket per received chunk) so it is not what limits either server.
 */
import { type Socket, connect } from "node:net";
import { OPER_NAME, OPER_PASSWORD } from "./ngircd-process.js";

/** bench/relay.ts's group scenario: 5 groups of 20, 8 sends in flight per sender. */
export const GROUPS = 5;
export const MEMBERS = 20;
export const GROUP_WINDOW = 8;
/** The plaintext of the relay benchmark's 162-byte envelope. */
const TEXT_BYTES = 100;
const NL = 0x0a;
const PRIVMSG = Buffer.from(" PRIVMSG ");
const PONG = Buffer.from(" PONG ");
/** Follows each windowed PRIVMSG: its PONG is the server's "handled" (see above). */
const PING = "PING :w\r\n";

export interface ScenarioResult {
  scenario: string;
  sent: number;
  delivered: number;
  deliveredPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
  wireBytesPerDelivered: number;
}

/** One IRC connection: registered, operator, user mode +F. Hands each received PRIVMSG line to `onMessage`. */
class IrcClient {
  onMessage: (line: Buffer, bodyAt: number) => void = () => undefined;
  onPong: () => void = () => undefined;
  private rest: Buffer | undefined;
  private waiters: { match: string; resolve: () => void }[] = [];

  private constructor(
    readonly socket: Socket,
    readonly nick: string,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => undefined);
  }

  static async connect(port: number, nick: string): Promise<IrcClient> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new IrcClient(socket, nick);
    const welcome = c.expect(" 001 ");
    socket.write(`NICK ${nick}\r\nUSER ${nick} 0 * :bench\r\n`);
    await welcome;
    const oper = c.expect(" 381 ");
    c.write(`OPER ${OPER_NAME} ${OPER_PASSWORD}\r\n`);
    await oper;
    const mode = c.expect(" MODE ");
    c.write(`MODE ${nick} +F\r\n`);
    await mode;
    return c;
  }

  /** Resolves once a non-PRIVMSG line containing `match` arrives. */
  expect(match: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  get bytes(): number {
    return this.socket.bytesRead + this.socket.bytesWritten;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const end = buf.indexOf(NL, start);
      if (end < 0) break;
      const line = buf.subarray(start, end);
      start = end + 1;
      const p = line.indexOf(PRIVMSG);
      if (p >= 0) {
        this.onMessage(line, line.indexOf(" :", p) + 2);
        continue;
      }
      if (line.indexOf(PONG) >= 0) {
        this.onPong();
        continue;
      }
      if (line[0] === 0x50 /* P */ && line.toString("latin1", 0, 5) === "PING ") {
        this.write(`PONG ${line.toString("latin1", 5).trim()}\r\n`);
        continue;
      }
      if (this.waiters.length > 0) {
        const text = line.toString("latin1");
        this.waiters = this.waiters.filter((w) => (text.includes(w.match) ? (w.resolve(), false) : true));
      }
    }
    this.rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
  }
}

let nickCounter = 0;
async function clients(port: number, n: number, prefix: string): Promise<IrcClient[]> {
  const out: IrcClient[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, () =>
      IrcClient.connect(port, `${prefix}${nickCounter++}`),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** `PRIVMSG target :` + 16 hex digits of hrtime + filler, TEXT_BYTES of text in all (+ a PING). */
function messageLine(target: string, at: bigint, ping: boolean): Buffer {
  const ts = at.toString(16).padStart(16, "0");
  return Buffer.from(`PRIVMSG ${target} :${ts}${"x".repeat(TEXT_BYTES - 16)}\r\n${ping ? PING : ""}`, "latin1");
}

/** Lines differ only in their timestamp: a template per target, the digits written in place. */
function lineMaker(target: string, ping = false): (at: bigint) => Buffer {
  const template = messageLine(target, 0n, ping);
  const tsAt = template.indexOf(" :") + 2;
  return (at) => {
    const line = Buffer.from(template);
    line.write(at.toString(16).padStart(16, "0"), tsAt, "latin1");
    return line;
  };
}

function sentAt(line: Buffer, bodyAt: number): bigint {
  return BigInt("0x" + line.toString("latin1", bodyAt, bodyAt + 16));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function latencies(ms: number[]): ScenarioResult["latencyMs"] {
  const s = ms.sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
}

async function settle(done: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/**
 * What frees a window slot: "receipt", the message reaching its receiver(s) (no PINGs; for a
 * group, every MEMBERS − 1 deliveries free one slot), or "pong", the server's answer to the
 * PING after the message (the analogue of the relay's `sent`).
 */
export type WindowRelease = "pong" | "receipt";

export async function ircThroughput(
  port: number,
  pairs: number,
  window: number,
  seconds: number,
  release: WindowRelease,
) {
  const senders = await clients(port, pairs, "s");
  const receivers = await clients(port, pairs, "r");
  const lat: number[] = [];
  let sent = 0;
  let delivered = 0;
  let end = Infinity;
  const bytes0 = [...senders, ...receivers].reduce((n, c) => n + c.bytes, 0);
  senders.forEach((s, i) => {
    const r = receivers[i]!;
    const make = lineMaker(r.nick, release === "pong");
    // A freed slot is refilled at once, one write per received chunk.
    let owed = 0;
    const free = (): void => {
      if (performance.now() < end && owed++ === 0) queueMicrotask(refill);
    };
    r.onMessage = (line, bodyAt) => {
      delivered++;
      if ((delivered & 63) === 0) lat.push(Number(process.hrtime.bigint() - sentAt(line, bodyAt)) / 1e6);
      if (release === "receipt") free();
    };
    if (release === "pong") s.onPong = free;
    const refill = (): void => {
      const now = process.hrtime.bigint();
      const lines = Array.from({ length: owed }, () => make(now));
      sent += owed;
      owed = 0;
      s.write(lines.length === 1 ? lines[0]! : Buffer.concat(lines));
    };
  });
  const t0 = performance.now();
  end = t0 + seconds * 1000;
  for (let i = 0; i < pairs; i++) {
    const make = lineMaker(receivers[i]!.nick, release === "pong");
    const now = process.hrtime.bigint();
    senders[i]!.write(Buffer.concat(Array.from({ length: window }, () => make(now))));
    sent += window;
  }
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await settle(() => delivered >= sent);
  const secs = (performance.now() - t0) / 1000;
  const all = [...senders, ...receivers];
  const result: ScenarioResult = {
    scenario: "throughput 1:1",
    sent,
    delivered,
    deliveredPerSecond: Math.round(delivered / secs),
    latencyMs: latencies(lat),
    wireBytesPerDelivered: Math.round((all.reduce((n, c) => n + c.bytes, 0) - bytes0) / Math.max(1, delivered)),
  };
  for (const c of all) c.close();
  return result;
}

export async function ircLatency(port: number, pairs: number, rate: number, seconds: number) {
  const senders = await clients(port, pairs, "ls");
  const receivers = await clients(port, pairs, "lr");
  const makers = receivers.map((r) => lineMaker(r.nick));
  const lat: number[] = [];
  let delivered = 0;
  for (const r of receivers)
    r.onMessage = (line, bodyAt) => {
      delivered++;
      lat.push(Number(process.hrtime.bigint() - sentAt(line, bodyAt)) / 1e6);
    };
  const all = [...senders, ...receivers];
  const bytes0 = all.reduce((n, c) => n + c.bytes, 0);
  const total = rate * seconds;
  const intervalMs = 1000 / rate;
  const t0 = performance.now();
  let sent = 0;
  // Paced as bench/relay.ts does: message k leaves at t0 + k·interval, round-robin over the pairs.
  while (sent < total) {
    const due = t0 + sent * intervalMs;
    const now = performance.now();
    if (due > now) await new Promise((r) => setTimeout(r, Math.max(0, due - now - 0.5)));
    while (sent < total && t0 + sent * intervalMs <= performance.now()) {
      const i = sent % pairs;
      senders[i]!.write(makers[i]!(process.hrtime.bigint()));
      sent++;
    }
  }
  await settle(() => delivered >= sent);
  const result: ScenarioResult = {
    scenario: `latency 1:1 paced at ${rate}/s`,
    sent,
    delivered,
    deliveredPerSecond: Math.round(sent / ((performance.now() - t0) / 1000)),
    latencyMs: latencies(lat),
    wireBytesPerDelivered: Math.round((all.reduce((n, c) => n + c.bytes, 0) - bytes0) / Math.max(1, delivered)),
  };
  for (const c of all) c.close();
  return result;
}

export async function ircGroup(port: number, seconds: number, release: WindowRelease) {
  const members = await clients(port, GROUPS * MEMBERS, "g");
  const lat: number[] = [];
  let sent = 0;
  let delivered = 0;
  let end = Infinity;
  const starts: (() => void)[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const channel = `#bench${g}`;
    const group = members.slice(g * MEMBERS, (g + 1) * MEMBERS);
    const joined = group.map((c) => c.expect(` 366 ${c.nick} `)); // end of NAMES: the JOIN is done
    for (const c of group) c.write(`JOIN ${channel}\r\n`);
    await Promise.all(joined);
    const sender = group[0]!;
    const make = lineMaker(channel, release === "pong");
    let owed = GROUP_WINDOW;
    let groupDelivered = 0;
    const refill = (): void => {
      const now = process.hrtime.bigint();
      const lines = Array.from({ length: owed }, () => make(now));
      sent += owed;
      owed = 0;
      sender.write(lines.length === 1 ? lines[0]! : Buffer.concat(lines));
    };
    const free = (): void => {
      if (performance.now() < end && owed++ === 0) queueMicrotask(refill);
    };
    if (release === "pong") sender.onPong = free;
    for (const c of group.slice(1))
      c.onMessage = (line, bodyAt) => {
        delivered++;
        if ((delivered & 63) === 0) lat.push(Number(process.hrtime.bigint() - sentAt(line, bodyAt)) / 1e6);
        if (release === "receipt" && ++groupDelivered % (MEMBERS - 1) === 0) free();
      };
    starts.push(refill);
  }
  const bytes0 = members.reduce((n, c) => n + c.bytes, 0);
  const t0 = performance.now();
  end = t0 + seconds * 1000;
  for (const s of starts) s();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await settle(() => delivered >= sent * (MEMBERS - 1));
  const secs = (performance.now() - t0) / 1000;
  const result: ScenarioResult = {
    scenario: `group: ${GROUPS} channels of ${MEMBERS}, one sender each`,
    sent,
    delivered,
    deliveredPerSecond: Math.round(delivered / secs),
    latencyMs: latencies(lat),
    wireBytesPerDelivered: Math.round((members.reduce((n, c) => n + c.bytes, 0) - bytes0) / Math.max(1, delivered)),
  };
  for (const c of members) c.close();
  return result;
}
