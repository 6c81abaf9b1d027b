/**
 * `smsg relay …` as an operator runs it: the first start (key file, fingerprint, admin invite),
 * the operator commands through the admin socket while the relay runs and directly when it
 * does not, a clean stop on SIGTERM with sends in flight, and the refusal to run on a
 * PostgreSQL that could lose acknowledged messages.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { RelayClient, loginSignature } from "../../client/relay-client.js";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { generateSignedPrekey } from "../../crypto/prekeys.js";
import { parseInviteLink } from "../../src/invite-link.js";
import { systemRng } from "../../src/system-rng.js";
import { CLI, freePort, startRelayProcess } from "../../bench/relay-process.js";
import { createThrowawayDatabase, pgUrl } from "../helpers/throwaway-pg.js";
import { waitFor } from "../helpers/wait-for.js";

const run = promisify(execFile);
const smsg = (...args: string[]) =>
  run(process.execPath, [CLI, ...args], { env: { ...process.env, SMSG_LOG_LEVEL: "silent" } });

async function joinWith(port: number, link: string, username: string) {
  const { relayKey, code } = parseInviteLink(link);
  const identity = generateIdentity(systemRng);
  const spk = generateSignedPrekey(systemRng, identity, 1);
  const credential = systemRng(32);
  const c = await RelayClient.connect({ host: "127.0.0.1", port, relayKey, rng: systemRng });
  const joined = await c.request<"join">({
    t: "join",
    invite: code,
    username,
    credential,
    identity: encodeIdentityPublic(identity.publicKey),
    signed_prekey: { key_id: 1, public_key: spk.keyPair.publicKey, signature: spk.signature },
    one_time_prekeys: [],
    signature: loginSignature(identity, c.handshakeHash),
  });
  return { c, joined, relayKey, credential, identity };
}

describe("smsg relay (operator commands)", () => {
  test("first start: key file 0600, fingerprint, one-time admin invite; operator commands with and without a running relay", async () => {
    const data = mkdtempSync(join(tmpdir(), "smsg-relay-cli-"));
    const port = await freePort();
    const relay = await startRelayProcess(data, port);
    try {
      const out = relay.stdout.join("\n");
      expect(out).toMatch(/Relay key fingerprint: ([0-9a-f]{8} ){4}[0-9a-f]{8} \(new key created\)/);
      const link = /smsg:\/\/\S+/.exec(out)?.[0];
      expect(link).toBeDefined();
      expect(statSync(join(data, "relay.key")).mode & 0o777).toBe(0o600);
      expect(statSync(join(data, "admin.sock")).mode & 0o777).toBe(0o600);

      // The printed invite makes the first account, an admin, and only once.
      const first = await joinWith(port, link!, "root");
      expect(first.joined.is_admin).toBe(true);
      first.c.close();
      await expect(joinWith(port, link!, "second")).rejects.toMatchObject({ code: "INVITE_INVALID" });

      // Through the admin socket while the relay runs.
      const inv = await smsg("relay", "invite", "--data", data, "--uses", "2", "--expires", "1h", "--json");
      const parsed = JSON.parse(inv.stdout) as { type: string; link: string; expiresAt: string };
      expect(parsed.type).toBe("invite");
      expect(parseInviteLink(parsed.link).port).toBe(port);
      const member = await joinWith(port, parsed.link, "member1");
      expect(member.joined.is_admin).toBe(false);
      const accounts = (await smsg("relay", "accounts", "--data", data, "--json")).stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { username: string; is_admin: boolean });
      expect(accounts.map((a) => [a.username, a.is_admin])).toEqual([
        ["root", true],
        ["member1", false],
      ]);
      // Disabling logs the account out at once.
      const closed = new Promise((r) => member.c.once("close", r));
      await smsg("relay", "disable", "member1", "--data", data);
      await expect(closed).resolves.toMatchObject({ code: "ACCOUNT_DISABLED" });
      const unknown = smsg("relay", "disable", "nobody", "--data", data);
      await expect(unknown).rejects.toMatchObject({ stderr: expect.stringContaining("no user named nobody") });
      // A second relay on the same folder is refused before it touches the database.
      const second = smsg("relay", "serve", "--data", data, "--port", "0");
      await expect(second).rejects.toMatchObject({ code: 2, stderr: `smsg: a relay is already running on ${data}\n` });
    } finally {
      relay.child.kill("SIGTERM");
      expect(await relay.exited).toBe(0);
    }
    // Without a running relay the commands open the database themselves.
    const list = await smsg("relay", "accounts", "--data", data);
    expect(list.stdout).toMatch(/member1\s+member disabled/);
    const again = await startRelayProcess(data, port);
    try {
      expect(again.stdout.join("\n")).not.toContain("new key created");
      expect(again.stdout.join("\n")).not.toContain("No accounts yet");
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  }, 90_000);

  test("SIGTERM with sends in flight: every acked send is committed and the relay exits 0", async () => {
    const data = mkdtempSync(join(tmpdir(), "smsg-relay-term-"));
    const port = await freePort();
    let relay = await startRelayProcess(data, port);
    const link = /smsg:\/\/\S+/.exec(relay.stdout.join("\n"))![0];
    const a = await joinWith(port, link, "writer");
    const inv = JSON.parse((await smsg("relay", "invite", "--data", data, "--json")).stdout) as { link: string };
    const b = await joinWith(port, inv.link, "reader");
    b.c.close();
    const chat = (await a.c.request<"open_direct">({ t: "open_direct", username: "reader" })).chat.id;
    const acked: number[] = [];
    const sends = Array.from({ length: 400 }, (_, i) =>
      a.c
        .request<"send">({ t: "send", chat, idem: systemRng(16), envelope: new TextEncoder().encode(`m${i}`) })
        .then((r) => acked.push(r.msg))
        .catch(() => undefined),
    );
    // SIGTERM once the relay is committing them: the first ack is back, most are still in flight.
    await waitFor(() => acked.length > 0, { what: "the first of the 400 sends to be acknowledged" });
    relay.child.kill("SIGTERM");
    await Promise.all(sends);
    expect(await relay.exited).toBe(0);
    // Restart: the reader logs in again and syncs; every acked send is there.
    relay = await startRelayProcess(data, port);
    try {
      const c = await RelayClient.connect({ host: "127.0.0.1", port, relayKey: a.relayKey, rng: systemRng });
      await c.login("reader", b.credential, b.identity);
      const got: number[] = [];
      c.on("msg", (m) => got.push(m.msg));
      while ((await c.request<"sync">({ t: "sync", limit: 1000 })).more);
      c.close();
      expect(acked.length).toBeGreaterThan(0);
      for (const id of acked) expect(got).toContain(id);
    } finally {
      relay.child.kill("SIGTERM");
      await relay.exited;
    }
  }, 90_000);
});

describe.skipIf(!pgUrl)("smsg relay on PostgreSQL", () => {
  const dbs: { drop(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });
  test("refuses a message burst below 2 (a client sends hello and login together), before it starts", async () => {
    const data = mkdtempSync(join(tmpdir(), "smsg-relay-cli-"));
    const refused = await smsg("relay", "serve", "--data", data, "--message-burst", "1").then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toContain("--message-burst must be at least 2");
  });

  test("refuses a server with synchronous_commit off unless the risk is accepted", async () => {
    const db = await createThrowawayDatabase(pgUrl!);
    dbs.push(db);
    const name = new URL(db.url).pathname.slice(1);
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
    await c.end();
    const data = mkdtempSync(join(tmpdir(), "smsg-relay-unsafe-"));
    const port = await freePort();
    await expect(startRelayProcess(data, port, ["--database-url", db.url])).rejects.toThrow(
      /synchronous_commit off.*--allow-unsafe-durability/s,
    );
    const relay = await startRelayProcess(data, port, ["--database-url", db.url, "--allow-unsafe-durability"]);
    relay.child.kill("SIGTERM");
    expect(await relay.exited).toBe(0);
  }, 60_000);
});
if (!pgUrl) console.log("smsg relay on PostgreSQL: skipped, TEST_DATABASE_URL is not set");
