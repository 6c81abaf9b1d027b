/**
 * Durability: the relay is killed with SIGKILL while three senders are mid-burst, then
 * restarted on the same data. Every message a sender saw acknowledged must be delivered, and
 * after the senders retry what was not acknowledged (same idempotency ids), every message is
 * delivered exactly once. Runs the real `smsg relay serve` on its embedded PostgreSQL, and on external PostgreSQL when
 * TEST_DATABASE_URL is set.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { RelayClient, loginSignature } from "../../client/relay-client.js";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { generateSignedPrekey } from "../../crypto/prekeys.js";
import { systemRng } from "../../src/system-rng.js";
import { createThrowawayDatabase, pgUrl } from "../helpers/throwaway-pg.js";
import { freePort, inviteCode, startRelayProcess } from "../../bench/relay-process.js";

interface User {
  name: string;
  credential: Uint8Array;
  identity: ReturnType<typeof generateIdentity>;
}

async function connect(port: number, relayKey: Uint8Array): Promise<RelayClient> {
  return RelayClient.connect({ host: "127.0.0.1", port, relayKey, rng: systemRng, timeoutMs: 10_000 });
}

async function joinAccount(port: number, relayKey: Uint8Array, code: Uint8Array, name: string): Promise<User> {
  const identity = generateIdentity(systemRng);
  const spk = generateSignedPrekey(systemRng, identity, 1);
  const credential = systemRng(32);
  const c = await connect(port, relayKey);
  await c.request<"join">({
    t: "join",
    invite: code,
    username: name,
    credential,
    identity: encodeIdentityPublic(identity.publicKey),
    signed_prekey: { key_id: 1, public_key: spk.keyPair.publicKey, signature: spk.signature },
    one_time_prekeys: [],
    signature: loginSignature(identity, c.handshakeHash),
  });
  c.close();
  return { name, credential, identity };
}

async function login(port: number, relayKey: Uint8Array, u: User): Promise<RelayClient> {
  const c = await connect(port, relayKey);
  await c.login(u.name, u.credential, u.identity);
  return c;
}

async function scenario(extraArgs: string[]): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "smsg-durability-"));
  const port = await freePort();
  let relay = await startRelayProcess(dataDir, port, extraArgs);
  const { code, relayKey } = await inviteCode(dataDir, 4, extraArgs);
  const reader = await joinAccount(port, relayKey, code, "reader");
  const senders = await Promise.all(["sender1", "sender2", "sender3"].map((n) => joinAccount(port, relayKey, code, n)));

  // One direct chat per sender with the reader.
  const chats = new Map<string, number>();
  for (const s of senders) {
    const c = await login(port, relayKey, s);
    chats.set(s.name, (await c.request<"open_direct">({ t: "open_direct", username: "reader" })).chat.id);
    c.close();
  }

  // Every message: a unique envelope and idempotency id, per sender.
  const PER_SENDER = 400;
  const plan = senders.map((s) =>
    Array.from({ length: PER_SENDER }, (_, i) => ({
      idem: new Uint8Array(randomBytes(16)),
      envelope: new TextEncoder().encode(`${s.name}#${i}#${randomBytes(4).toString("hex")}`),
    })),
  );
  const acked = new Set<string>();
  const key = (e: Uint8Array) => Buffer.from(e).toString("hex");

  // Burst: each sender keeps a window of sends in flight; the relay is killed once some acks are in.
  const WINDOW = 16;
  const clients = await Promise.all(senders.map((s) => login(port, relayKey, s)));
  let killed = false;
  const bursts = clients.map(async (c, si) => {
    const chat = chats.get(senders[si]!.name)!;
    let next = 0;
    const worker = async () => {
      while (next < PER_SENDER && !c.isClosed) {
        const m = plan[si]![next++]!;
        try {
          await c.request<"send">({ t: "send", chat, idem: m.idem, envelope: m.envelope });
        } catch {
          return; // the relay died under us: that send is unacknowledged
        }
        acked.add(key(m.envelope));
        if (!killed && acked.size >= 300) {
          killed = true;
          relay.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
  });
  await Promise.all(bursts);
  expect(killed).toBe(true);
  expect(await relay.exited).toBe("SIGKILL");
  const ackedBeforeKill = new Set(acked);
  expect(ackedBeforeKill.size).toBeGreaterThanOrEqual(300);
  expect(ackedBeforeKill.size).toBeLessThan(3 * PER_SENDER); // the kill really interrupted the burst

  relay = await startRelayProcess(dataDir, port, extraArgs);
  try {
    // What the reader has after the restart: every acked message, none twice.
    const readAll = async () => {
      const c = await login(port, relayKey, reader);
      const got: { id: number; envelope: string; chat: number }[] = [];
      c.on("msg", (m) => got.push({ id: m.msg, envelope: key(m.envelope), chat: m.chat }));
      for (;;) {
        const before = got.length;
        const r = await c.request<"sync">({ t: "sync", limit: 500 });
        const lastByChat = new Map<number, number>();
        for (const g of got.slice(before)) lastByChat.set(g.chat, Math.max(lastByChat.get(g.chat) ?? 0, g.id));
        for (const [chat, upto] of lastByChat) c.notify({ t: "ack", chat, upto });
        if (!r.more) break;
      }
      c.close();
      return got;
    };
    const first = await readAll();
    const envelopes = first.map((g) => g.envelope);
    expect(new Set(envelopes).size).toBe(envelopes.length); // none twice
    for (const e of ackedBeforeKill) expect(envelopes).toContain(e);

    // The senders retry everything with the same idempotency ids: nothing is stored twice.
    const retryClients = await Promise.all(senders.map((s) => login(port, relayKey, s)));
    await Promise.all(
      retryClients.map((c, si) =>
        Promise.all(
          plan[si]!.map((m) =>
            c.request<"send">({ t: "send", chat: chats.get(senders[si]!.name)!, idem: m.idem, envelope: m.envelope }),
          ),
        ),
      ),
    );
    for (const c of retryClients) c.close();
    const second = await readAll();
    const all = [...envelopes, ...second.map((g) => g.envelope)];
    expect(new Set(all).size).toBe(all.length); // nothing delivered twice across both reads
    expect(all.length).toBe(3 * PER_SENDER); // and now everything is there
  } finally {
    relay.child.kill("SIGTERM");
    await relay.exited;
  }
}

describe("durability across SIGKILL", () => {
  test("embedded PostgreSQL: every acked message survives, none is delivered twice", async () => {
    await scenario([]);
  }, 120_000);

  const databases: { drop(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const d of databases) await d.drop();
  });
  test.skipIf(!pgUrl)(
    "PostgreSQL: every acked message survives, none is delivered twice",
    async () => {
      const db = await createThrowawayDatabase(pgUrl!);
      databases.push(db);
      await scenario(["--database-url", db.url]);
    },
    120_000,
  );
  if (!pgUrl) console.log("durability on PostgreSQL: skipped, TEST_DATABASE_URL is not set");
});
