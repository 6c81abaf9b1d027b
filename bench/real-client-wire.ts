/**
 * Bytes on the wire per delivered 100-byte 1:1 message with the real client, against a real
 * relay process; the bytes are the relay's own TCP counters (Noise included, both directions,
 * every connection: `smsg_relay_received_bytes_total` + `smsg_relay_sent_bytes_total` on its
 * /metrics), the copies its `smsg_relay_messages_delivered_total` (every msg frame written to a
 * recipient, pushed or in a sync reply), the breakdown its frame counters by wire type.
 *
 *   npm run build && node dist/bench/real-client-wire.js [--messages 20] [--steady 100]
 *
 * One-shot (`--messages`): the sender runs `smsg send` per message, the receiver `smsg listen`.
 * Phase 1, the sending leg alone: the receiver is offline while the sender sends. Phase 2,
 * both legs: the receiver listens while the sender sends as many again; the phase ends once
 * the relay has deleted every message (each was acked). Recipient leg = phase 2 − phase 1.
 *
 * Steady state (`--steady`): the sender is one `smsg open bob --json` fed lines on stdin (its
 * command connection opened by a first line before counting), the receiver `smsg listen`.
 * Paced: one line at a time, the next once the receiver has it and acked it (every message
 * isolated: the most a message costs). Burst: every line at once. Each runs with the receiver
 * offline (the sending leg) and listening (both legs).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { CLI, freePort, startRelayProcess } from "./relay-process.js";
import { benchHomes, joinAliceAndBob } from "./cli-pair.js";
import { type JsonLineProcess, startJsonLineProcess } from "./json-line-process.js";
import { type WireCounters, framesPerMessage, scrapeWireCounters } from "./relay-metrics-scrape.js";

const argv = process.argv.slice(2);
const i = argv.indexOf("--messages");
const MESSAGES = i >= 0 ? Number(argv[i + 1]) : 20;
const j = argv.indexOf("--steady");
const STEADY = j >= 0 ? Number(argv[j + 1]) : 100;
/** A 100-byte text body. */
const body = (n: number) => `${String(n).padStart(4, "0")} ${"b".repeat(95)}`;

const h = benchHomes("smsg-bench-wire-");

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sendAll(from: number): Promise<void> {
  for (let n = from; n < from + MESSAGES; n++) await h.smsg("alice", ["send", "bob", body(n)]);
}

function listen(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, "listen", "--json"], {
    env: h.env("bob"),
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes('"listening"')) resolve(child);
    });
    child.once("exit", (c) => reject(new Error(`listen exited with ${c}`)));
  });
}

/** Per message of `n`: the bytes between two scrapes. */
const perMessage = (a: WireCounters, b: WireCounters, n: number) => (b.bytes - a.bytes) / n;

/**
 * Until the receiver has acked everything it got: it printed `messages` messages and the
 * relay's ack count then stays the same for a second (its sync comes 300 ms after a push).
 */
async function untilAcked(httpPort: number, bob: JsonLineProcess, messages: number): Promise<void> {
  await bob.until("message", messages);
  let last = -1;
  let stableSince = Date.now();
  await until("the receiver's acks", async () => {
    const acks = (await scrapeWireCounters(httpPort)).acks;
    if (acks !== last) [last, stableSince] = [acks, Date.now()];
    return Date.now() - stableSince > 1_000;
  });
}

/**
 * The steady state: one `smsg open bob --json` sends STEADY lines, paced or at once, with bob
 * offline (`bob` undefined: the sending leg) or listening; returns the counters before and after.
 */
async function steady(
  httpPort: number,
  paced: boolean,
  bob: JsonLineProcess | undefined,
  from: number,
): Promise<[WireCounters, WireCounters]> {
  const alice = await startJsonLineProcess(["open", "bob", "--json"], h.env("alice"));
  alice.writeLine(body(from)); // opens the command connection, not counted
  await alice.until("sent", 1);
  if (bob) await untilAcked(httpPort, bob, bob.count("message") + 1);
  const base = bob?.count("message") ?? 0;
  const c0 = await scrapeWireCounters(httpPort);
  for (let n = 1; n <= STEADY; n++) {
    alice.writeLine(body(from + n));
    if (!paced) continue;
    await alice.until("sent", n + 1);
    if (bob) await untilAcked(httpPort, bob, base + n);
  }
  await alice.until("sent", STEADY + 1);
  if (bob) await untilAcked(httpPort, bob, base + STEADY);
  const c1 = await scrapeWireCounters(httpPort);
  await alice.end();
  return [c0, c1];
}

async function main() {
  const port = await freePort();
  const httpPort = await freePort();
  const relay = await startRelayProcess(h.relayData, port, ["--http", `127.0.0.1:${httpPort}`]);
  try {
    await joinAliceAndBob(h);
    // Phase 1: the sending leg (bob offline); his sync afterwards is not counted.
    const c0 = await scrapeWireCounters(httpPort);
    await sendAll(0);
    const c1 = await scrapeWireCounters(httpPort);
    await h.smsg("bob", ["history", "alice"]);
    // Phase 2: both legs, bob listening.
    const bob = await listen();
    const c2 = await scrapeWireCounters(httpPort);
    await sendAll(MESSAGES);
    await until("every message acked", async () => (await scrapeWireCounters(httpPort)).acked - c2.acked >= MESSAGES);
    const c3 = await scrapeWireCounters(httpPort);
    bob.kill("SIGTERM");
    const send = (c1.bytes - c0.bytes) / MESSAGES;
    const both = (c3.bytes - c2.bytes) / MESSAGES;

    // Steady state: the sending leg with bob offline, then both legs with bob listening.
    const result: Record<string, unknown> = {};
    let from = 2 * MESSAGES;
    for (const paced of [true, false]) {
      const [s0, s1] = await steady(httpPort, paced, undefined, from);
      from += STEADY + 1;
      await h.smsg("bob", ["history", "alice"]);
      const listener = await startJsonLineProcess(["listen", "--json"], h.env("bob"));
      const [b0, b1] = await steady(httpPort, paced, listener, from);
      from += STEADY + 1;
      await listener.stop();
      const sendLeg = perMessage(s0, s1, STEADY);
      const bothLegs = perMessage(b0, b1, STEADY);
      result[paced ? "steadyPaced" : "steadyBurst"] = {
        sendLegBytesPerMessage: Math.round(sendLeg),
        recipientLegBytesPerMessage: Math.round(bothLegs - sendLeg),
        bothLegsBytesPerMessage: Math.round(bothLegs),
        copiesDeliveredPerMessage: +((b1.delivered - b0.delivered) / STEADY).toFixed(2),
        sendLegFrames: framesPerMessage(s0, s1, STEADY),
        bothLegsFrames: framesPerMessage(b0, b1, STEADY),
      };
    }
    console.log(
      JSON.stringify(
        {
          node: process.version,
          bodyBytes: 100,
          oneShot: {
            messages: MESSAGES,
            sendLegBytesPerMessage: Math.round(send),
            bothLegsBytesPerMessage: Math.round(both),
            recipientLegBytesPerMessage: Math.round(both - send),
            copiesDeliveredPerMessage: +((c3.delivered - c2.delivered) / MESSAGES).toFixed(2),
          },
          steadyMessages: STEADY,
          ...result,
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
