/**
 * Bytes on the wire per delivered 100-byte 1:1 message with the real client: the sender runs
 * one-shot `smsg send`, the receiver `smsg listen`, against a real relay process; the bytes are
 * the relay's own TCP counters (Noise included, both directions, every connection:
 * `smsg_relay_received_bytes_total` + `smsg_relay_sent_bytes_total` on its /metrics), and the
 * copies are its `smsg_relay_messages_delivered_total` (every msg frame written to a recipient,
 * pushed or in a sync reply).
 *
 *   npm run build && node dist/bench/real-client-wire.js [--messages 20]
 *
 * Phase 1, the sending leg alone: the receiver is offline while the sender sends. Phase 2,
 * both legs: the receiver listens while the sender sends as many again; the phase ends once
 * the relay has deleted every message (each was acked). Recipient leg = phase 2 − phase 1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { CLI, freePort, startRelayProcess } from "./relay-process.js";
import { benchHomes, joinAliceAndBob } from "./cli-pair.js";

const argv = process.argv.slice(2);
const i = argv.indexOf("--messages");
const MESSAGES = i >= 0 ? Number(argv[i + 1]) : 20;
/** A 100-byte text body. */
const body = (n: number) => `${String(n).padStart(4, "0")} ${"b".repeat(95)}`;

const h = benchHomes("smsg-bench-wire-");

type Counters = { bytes: number; delivered: number; acked: number };

async function counters(httpPort: number): Promise<Counters> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return {
    bytes: value("smsg_relay_received_bytes_total") + value("smsg_relay_sent_bytes_total"),
    delivered: value("smsg_relay_messages_delivered_total"),
    acked: value("smsg_relay_messages_acked_total"),
  };
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
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

async function main() {
  const port = await freePort();
  const httpPort = await freePort();
  const relay = await startRelayProcess(h.relayData, port, ["--http", `127.0.0.1:${httpPort}`]);
  try {
    await joinAliceAndBob(h);
    // Phase 1: the sending leg (bob offline); his sync afterwards is not counted.
    const c0 = await counters(httpPort);
    await sendAll(0);
    const c1 = await counters(httpPort);
    await h.smsg("bob", ["history", "alice"]);
    // Phase 2: both legs, bob listening.
    const bob = await listen();
    const c2 = await counters(httpPort);
    await sendAll(MESSAGES);
    await until("every message acked", async () => (await counters(httpPort)).acked - c2.acked >= MESSAGES);
    const c3 = await counters(httpPort);
    bob.kill("SIGTERM");
    const send = (c1.bytes - c0.bytes) / MESSAGES;
    const both = (c3.bytes - c2.bytes) / MESSAGES;
    console.log(
      JSON.stringify(
        {
          node: process.version,
          messages: MESSAGES,
          bodyBytes: 100,
          sendLegBytesPerMessage: Math.round(send),
          bothLegsBytesPerMessage: Math.round(both),
          recipientLegBytesPerMessage: Math.round(both - send),
          copiesDeliveredPerMessage: +((c3.delivered - c2.delivered) / MESSAGES).toFixed(2),
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
