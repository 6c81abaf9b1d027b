/**
 * `smsg relay backup` and `smsg relay restore` as an operator runs them (issue 12): a backup
 * taken while the relay runs and accepts sends, restored into a new data folder (and, on
 * PostgreSQL, a new database), and a relay started there delivers exactly the messages that
 * were queued at backup time, with new ids above every old one. A damaged or truncated backup,
 * and a non-empty target, are refused and leave nothing behind.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

/**
 * A new temporary folder that the embedded PostgreSQL's user may pass through (mkdtemp makes
 * 0700; as root the server runs as another user: README, Storage).
 */
function passableTemp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, test } from "vitest";
import { RelayClient, loginSignature } from "../../client/relay-client.js";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { makeLoginProof } from "../../crypto/login-proof.js";
import { PASSPHRASE_ARGON2 } from "../../crypto/passphrase-kdf.js";
import { ed25519FromSeed } from "../../crypto/primitives.js";
import { generateSignedPrekey } from "../../crypto/prekeys.js";
import { parseInviteLink } from "../../src/invite-link.js";
import { systemRng } from "../../src/system-rng.js";
import { CLI, freePort, startRelayProcess } from "../../bench/relay-process.js";
import { createThrowawayDatabase, pgUrl } from "../helpers/throwaway-pg.js";

const run = promisify(execFile);
const smsg = (...args: string[]) =>
  run(process.execPath, [CLI, ...args], { env: { ...process.env, SMSG_LOG_LEVEL: "silent" } });

async function joinWith(port: number, link: string, username: string) {
  const { relayKey, code } = parseInviteLink(link);
  const identity = generateIdentity(systemRng);
  const spk = generateSignedPrekey(systemRng, identity, 1);
  const credential = systemRng(32);
  const c = await RelayClient.connect({ host: "127.0.0.1", port, relayKey, rng: systemRng });
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
  return { c, relayKey, credential, identity, username };
}

type Joined = Awaited<ReturnType<typeof joinWith>>;

/** Connects to `port` pinning `relayKey`, without logging in. */
const connectAt = (port: number, relayKey: Uint8Array) =>
  RelayClient.connect({ host: "127.0.0.1", port, relayKey, rng: systemRng });

/** What passphrase_salt answers for `username` on `port`. */
async function saltOf(port: number, relayKey: Uint8Array, username: string): Promise<Uint8Array> {
  const c = await connectAt(port, relayKey);
  try {
    return (await c.request<"passphrase_salt">({ t: "passphrase_salt", username })).salt;
  } finally {
    c.close();
  }
}

/** A passphrase_login for `username` with `loginSeed`'s key on `port`: the backup, or the error it got. */
async function passphraseBackup(port: number, relayKey: Uint8Array, username: string, loginSeed: Uint8Array) {
  const c = await connectAt(port, relayKey);
  try {
    const proof = makeLoginProof(ed25519FromSeed(loginSeed).privateKey, c.handshakeHash, username);
    await c.request<"passphrase_login">({ t: "passphrase_login", username, proof });
    return (await c.request<"backup_get">({ t: "backup_get", offset: 0 })).data;
  } finally {
    c.close();
  }
}

async function sendAll(c: RelayClient, chat: number, bodies: string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const b of bodies)
    ids.push(
      (await c.request<"send">({ t: "send", chat, idem: systemRng(16), envelope: new TextEncoder().encode(b) })).msg,
    );
  return ids;
}

/** Logs `who` in on `port` and syncs everything queued for it: [id, body] pairs. */
async function queuedFor(port: number, who: Joined): Promise<[number, string][]> {
  const c = await RelayClient.connect({ host: "127.0.0.1", port, relayKey: who.relayKey, rng: systemRng });
  try {
    await c.login(who.username, who.credential, who.identity);
    const got: [number, string][] = [];
    c.on("msg", (m) => got.push([m.msg, new TextDecoder().decode(m.envelope)]));
    while ((await c.request<"sync">({ t: "sync", limit: 1000 })).more);
    return got;
  } finally {
    c.close();
  }
}

const dbs: { drop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

const storages: [string, boolean][] = [
  ["embedded", false],
  ["PostgreSQL", true],
];

describe.each(storages)("relay backup and restore (%s)", (_name, onPg) => {
  test.skipIf(onPg && !pgUrl)(
    "a backup taken while the relay runs restores elsewhere with every queued message, and nothing after it",
    async () => {
      const pgA = onPg ? await createThrowawayDatabase(pgUrl!) : undefined;
      const pgB = onPg ? await createThrowawayDatabase(pgUrl!) : undefined;
      for (const d of [pgA, pgB]) if (d) dbs.push(d);
      const urlA = pgA?.url;
      const urlB = pgB?.url;
      const dbA = urlA ? ["--database-url", urlA] : [];
      const dbB = urlB ? ["--database-url", urlB] : [];
      const a = passableTemp("smsg-backup-a-");
      const port = await freePort();
      const relay = await startRelayProcess(a, port, dbA);
      const file = join(passableTemp("smsg-backup-file-"), "relay.smsgbak");
      let before: number[];
      const loginSeed = systemRng(32);
      try {
        const link = /smsg:\/\/\S+/.exec(relay.stdout.join("\n"))![0];
        const writer = await joinWith(port, link, "writer");
        const inv = JSON.parse((await smsg("relay", "invite", "--data", a, ...dbA, "--json")).stdout) as {
          link: string;
        };
        const reader = await joinWith(port, inv.link, "reader");
        reader.c.close();
        // A passphrase record (SECURITY.md §18.1), a failure bucket of a name without one, and
        // the decoy secret: a restore must give the same answers.
        const backupBytes = systemRng(300);
        backupBytes[0] = 1;
        const passphraseSalt = systemRng(16);
        await writer.c.request<"backup_put">({ t: "backup_put", offset: 0, data: backupBytes });
        await writer.c.request<"passphrase_set">({
          t: "passphrase_set",
          salt: passphraseSalt,
          t_cost: PASSPHRASE_ARGON2.t,
          mem_kib: PASSPHRASE_ARGON2.memKiB,
          login_public: ed25519FromSeed(loginSeed).publicKey,
          size: backupBytes.length,
        });
        await expect(passphraseBackup(port, writer.relayKey, "nobody", loginSeed)).rejects.toMatchObject({
          code: "AUTH_FAILED",
        });
        const decoyBefore = await saltOf(port, writer.relayKey, "nobody");
        const chat = (await writer.c.request<"open_direct">({ t: "open_direct", username: "reader" })).chat.id;
        before = await sendAll(
          writer.c,
          chat,
          Array.from({ length: 30 }, (_, i) => `before ${i}`),
        );
        // Sends keep arriving while the backup runs: the copy is one instant, whatever it holds.
        const during = sendAll(
          writer.c,
          chat,
          Array.from({ length: 30 }, (_, i) => `during ${i}`),
        );
        const out = await smsg("relay", "backup", file, "--data", a, ...dbA, "--json");
        await during;
        const after = await sendAll(writer.c, chat, ["after the backup"]);
        writer.c.close();
        const written = JSON.parse(out.stdout) as { type: string; rows: Record<string, number> };
        expect(written.type).toBe("backup");
        expect(written.rows["accounts"]).toBe(2);
        expect(written.rows).toMatchObject({ passphrase_records: 1, passphrase_failures: 1, passphrase_decoy: 1 });
        expect(statSync(file).mode & 0o777).toBe(0o600);
        // What the backup holds must be what a restore delivers: at least the 30 before, never the one after.
        const queuedInBackup = written.rows["messages"]!;
        expect(queuedInBackup).toBeGreaterThanOrEqual(30);
        expect(queuedInBackup).toBeLessThanOrEqual(60);
        expect(after[0]).toBeGreaterThan(Math.max(...before));
        // A second backup to the same file is refused unless --force.
        await expect(smsg("relay", "backup", file, "--data", a, ...dbA)).rejects.toMatchObject({
          stderr: expect.stringContaining("exists: choose another file, or pass --force"),
        });

        const b = join(passableTemp("smsg-backup-b-"), "relay");
        const restored = JSON.parse((await smsg("relay", "restore", file, "--data", b, ...dbB, "--json")).stdout) as {
          rows: Record<string, number>;
        };
        expect(restored.rows).toEqual(written.rows);
        expect(statSync(join(b, "relay.key")).mode & 0o777).toBe(0o600);
        expect(readFileSync(join(b, "relay.key"))).toEqual(readFileSync(join(a, "relay.key")));
        // Restoring over it again is refused: the folder is no longer empty.
        await expect(smsg("relay", "restore", file, "--data", b, ...dbB)).rejects.toMatchObject({
          stderr: expect.stringContaining("is not empty: restore only into a new or empty data folder"),
        });

        const portB = await freePort();
        const relayB = await startRelayProcess(b, portB, dbB);
        try {
          // Same key: clients' pinned relay key still matches. Nothing printed as new.
          expect(relayB.stdout.join("\n")).not.toContain("new key created");
          expect(relayB.stdout.join("\n")).not.toContain("No accounts yet");
          expect(await saltOf(portB, writer.relayKey, "writer")).toEqual(passphraseSalt);
          expect(await saltOf(portB, writer.relayKey, "nobody")).toEqual(decoyBefore);
          expect(await passphraseBackup(portB, writer.relayKey, "writer", loginSeed)).toEqual(backupBytes);
          const got = await queuedFor(portB, reader);
          expect(got.length).toBe(queuedInBackup);
          expect(got.slice(0, 30)).toEqual(before.map((id, i) => [id, `before ${i}`]));
          expect(got.map(([, body]) => body)).not.toContain("after the backup");
          // New ids continue above every id a client has seen, including the send after the backup.
          const w2 = await RelayClient.connect({
            host: "127.0.0.1",
            port: portB,
            relayKey: writer.relayKey,
            rng: systemRng,
          });
          await w2.login("writer", writer.credential, writer.identity);
          const [fresh] = await sendAll(w2, chat, ["on the restored relay"]);
          w2.close();
          expect(fresh).toBeGreaterThan(Math.max(...got.map(([id]) => id)));
        } finally {
          relayB.child.kill("SIGTERM");
          expect(await relayB.exited).toBe(0);
        }
      } finally {
        relay.child.kill("SIGTERM");
        expect(await relay.exited).toBe(0);
      }
      // Without a running relay the backup reads the database itself: it now has every send.
      const file2 = `${file}.2`;
      const direct = JSON.parse((await smsg("relay", "backup", file2, "--data", a, ...dbA, "--json")).stdout) as {
        rows: Record<string, number>;
      };
      expect(direct.rows["messages"]).toBe(61);
    },
    180_000,
  );
});

describe("relay restore refuses what it cannot use, and leaves nothing behind", () => {
  test("a truncated or foreign file, a missing file, a folder without a key", async () => {
    const a = passableTemp("smsg-backup-src-");
    const port = await freePort();
    const relay = await startRelayProcess(a, port);
    const dir = passableTemp("smsg-backup-bad-");
    const file = join(dir, "ok.smsgbak");
    try {
      await smsg("relay", "backup", file, "--data", a);
    } finally {
      relay.child.kill("SIGTERM");
      await relay.exited;
    }
    const lines = gunzipSync(readFileSync(file)).toString().trimEnd().split("\n");
    const truncated = join(dir, "truncated.smsgbak");
    writeFileSync(truncated, gzipSync(lines.slice(0, -1).join("\n") + "\n"));
    const foreign = join(dir, "foreign.smsgbak");
    writeFileSync(foreign, gzipSync('{"hello":"world"}\n'));
    const notGzip = join(dir, "plain.txt");
    writeFileSync(notGzip, "not a backup\n");
    const cases: [string, RegExp, number][] = [
      [truncated, /the backup is incomplete/, 1],
      [foreign, /it does not start like a relay backup/, 1],
      [notGzip, /not a usable relay backup: it cannot be read/, 1],
      [join(dir, "missing.smsgbak"), /missing\.smsgbak does not exist/, 2],
    ];
    for (const [f, why, code] of cases) {
      const target = join(dir, `target-${readdirSync(dir).length}`);
      const r = await smsg("relay", "restore", f, "--data", target).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(why);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(existsSync(target)).toBe(false);
    }
    // A folder that is not a relay's: no database is created in it.
    const empty = passableTemp("smsg-backup-nokey-");
    await expect(smsg("relay", "backup", join(dir, "x.smsgbak"), "--data", empty)).rejects.toMatchObject({
      stderr: expect.stringContaining("has no relay.key: it is not a relay's data folder"),
    });
    expect(readdirSync(empty)).toEqual([]);
    expect(existsSync(join(dir, "x.smsgbak"))).toBe(false);
  }, 120_000);
});
