/**
 * The relay on its embedded PostgreSQL killed with SIGKILL at random moments (seeded; the seed
 * is printed and SMSG_TEST_SEED replays it) while a sender keeps sends in flight, restarted,
 * again and again; in some rounds the database server is killed with SIGKILL too. After every
 * kill no server is left running on the folder (the watchdog stops it), every restart works,
 * and at the end every acknowledged message is there. Restart times are printed (measured,
 * not asserted; bench/RESULTS.md has them).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { freePort, inviteCode, startRelayProcess } from "../../../bench/relay-process.js";
import { RelayClient, loginSignature } from "../../../client/relay-client.js";
import { encodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { generateSignedPrekey } from "../../../crypto/prekeys.js";
import { readPostmasterPid } from "../../../relay/embedded/postmaster-pid.js";
import { systemRng } from "../../../src/system-rng.js";

const SEED = Number(process.env["SMSG_TEST_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = 5;

/** mulberry32: a small seeded generator of floats in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Live postgres processes (postmaster or backends) whose command line names `pgDir`, or that are its children. */
function serversOn(pgDir: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      if (cmd[0]?.endsWith("/postgres") && cmd.includes(pgDir)) found.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what} (seed ${SEED})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe.skipIf(process.platform !== "linux")(
  "SIGKILL of the relay (and its database) at random, restart, repeat",
  () => {
    test(`no acked message lost, no server left behind (seed ${SEED})`, async () => {
      const random = seeded(SEED);
      const dataDir = mkdtempSync(join(tmpdir(), "smsg-kill-"));
      const pgDir = join(dataDir, "pg");
      const port = await freePort();
      let relay = await startRelayProcess(dataDir, port);
      const { code, relayKey } = await inviteCode(dataDir, 2);
      const connect = () =>
        RelayClient.connect({ host: "127.0.0.1", port, relayKey, rng: systemRng, timeoutMs: 10_000 });
      const users = await Promise.all(
        ["writer", "reader"].map(async (username) => {
          const identity = generateIdentity(systemRng);
          const spk = generateSignedPrekey(systemRng, identity, 1);
          const credential = systemRng(32);
          const c = await connect();
          await c.request<"join">({
            t: "join",
            invite: code,
            username,
            credential,
            identity: encodeIdentityPublic(identity.publicKey),
            signed_prekey: { key_id: 1, public_key: spk.keyPair.publicKey, signature: spk.signature },
            one_time_prekeys: [],
            signature: loginSignature(identity, c.handshakeHash),
          });
          c.close();
          return { username, identity, credential };
        }),
      );
      const login = async (u: (typeof users)[number]) => {
        const c = await connect();
        await c.login(u.username, u.credential, u.identity);
        return c;
      };
      const [writer, reader] = users as [(typeof users)[number], (typeof users)[number]];
      let w = await login(writer);
      const chat = (await w.request<"open_direct">({ t: "open_direct", username: "reader" })).chat.id;
      w.close();

      const acked = new Set<string>();
      const restarts: number[] = [];
      const reaped: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        w = await login(writer);
        const client = w;
        let stop = false;
        const worker = async () => {
          while (!stop && !client.isClosed) {
            const envelope = new TextEncoder().encode(`r${round}-${randomBytes(6).toString("hex")}`);
            try {
              await client.request<"send">({ t: "send", chat, idem: new Uint8Array(randomBytes(16)), envelope });
            } catch {
              return;
            }
            acked.add(Buffer.from(envelope).toString("hex"));
          }
        };
        const workers = Array.from({ length: 8 }, worker);
        await new Promise((r) => setTimeout(r, 20 + Math.floor(random() * 400)));
        const withDatabase = round === 0 || random() < 0.4; // the first round always kills the database too
        const server = readPostmasterPid(pgDir)?.pid;
        relay.child.kill("SIGKILL");
        if (withDatabase && server !== undefined) process.kill(server, "SIGKILL");
        stop = true;
        await Promise.all(workers);
        expect(await relay.exited).toBe("SIGKILL");
        // The watchdog stops the server (or it was killed): nothing stays behind on the folder.
        reaped.push(await until(() => serversOn(pgDir).length === 0, 20_000, "a server was left running"));
        const t0 = Date.now();
        relay = await startRelayProcess(dataDir, port);
        restarts.push(Date.now() - t0);
        expect(serversOn(pgDir).length).toBeGreaterThan(0);
      }
      console.log(
        `seed ${SEED}: ${acked.size} acked sends over ${ROUNDS} kills; server gone after the kill in ${reaped.join(", ")} ms; ` +
          `restart (spawn to listening) ${restarts.join(", ")} ms`,
      );

      try {
        const c = await login(reader);
        const got = new Set<string>();
        let last = 0;
        c.on("msg", (m) => {
          got.add(Buffer.from(m.envelope).toString("hex"));
          last = Math.max(last, m.msg);
        });
        for (;;) {
          const r = await c.request<"sync">({ t: "sync", limit: 500 });
          c.notify({ t: "ack", chat, upto: last }); // so the next page moves on
          if (!r.more) break;
        }
        c.close();
        const missing = [...acked].filter((e) => !got.has(e));
        expect(missing, `seed ${SEED}`).toEqual([]);
      } finally {
        relay.child.kill("SIGTERM");
        await relay.exited;
      }
      expect(serversOn(pgDir)).toEqual([]);
    }, 240_000);
  },
);
