/**
 * `backup_update` (SECURITY.md §18.6 "Update") on a real relay, on the embedded PostgreSQL and on
 * external PostgreSQL when TEST_DATABASE_URL is set: the staged backup replaces only the
 * record's backup while the stored verifier is the one named; with another verifier, after
 * passphrase_remove or with no record it is AUTH_FAILED and nothing changes (the staged bytes
 * stay, as for a refused passphrase_set); with nothing or the wrong amount staged it is
 * BAD_MESSAGE. Salt, parameters, verifier and the username's bucket are never touched.
 *
 * Each test connects from its own 127.0.x.y address (failed logins count per address, §14.7).
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { makeLoginProof } from "../../crypto/login-proof.js";
import { PASSPHRASE_ARGON2 } from "../../crypto/passphrase-kdf.js";
import { type Ed25519KeyPair, ed25519FromSeed } from "../../crypto/primitives.js";
import type { Db } from "../../relay/store/index.js";
import type { RelayMessage, RelayMessageOf } from "../../src/wire/index.js";
import { type TestRelay, type TestUser, joinUser, startRelay } from "./harness.js";
import { RawClient } from "./raw-client.js";
import { explainSkip, relayStorages } from "./storages.js";

explainSkip("backup_update");

let host = 10;
/** A loopback address no other test used: its own login backoff. */
const freshAddress = () => `127.0.3.${host++}`;
const loginKey = (): Ed25519KeyPair => ed25519FromSeed(new Uint8Array(randomBytes(32)));
/** Bytes the relay takes as a backup: format byte 1, then opaque bytes (it never opens one). */
const fakeBackup = (size: number): Uint8Array => {
  const b = new Uint8Array(randomBytes(size));
  b[0] = 1;
  return b;
};
const expectError = (m: RelayMessage, code: string) => expect(m).toMatchObject({ t: "error", code });

/** Stages `backup` in backup_put pieces of `piece` bytes (each answered ok). */
async function stage(c: RawClient, backup: Uint8Array, piece = 20_000): Promise<void> {
  for (let off = 0; off < backup.length; off += piece)
    expect(
      await c.request<"backup_put">({ t: "backup_put", offset: off, data: backup.slice(off, off + piece) }),
    ).toMatchObject({ t: "ok" });
}

const update = (c: RawClient, loginPublic: Uint8Array, size: number) =>
  c.request<"backup_update">({ t: "backup_update", login_public: loginPublic, size });

interface StoredRecord {
  salt: Uint8Array;
  t_cost: string | number;
  mem_kib: string | number;
  login_public: Uint8Array;
  backup: Uint8Array;
}

async function recordOf(db: Db, username: string): Promise<StoredRecord | undefined> {
  const rows = await db.query<StoredRecord>(
    `SELECT r.salt, r.t_cost, r.mem_kib, r.login_public, r.backup
       FROM passphrase_records r JOIN accounts a ON a.id = r.account_id WHERE a.username = $1`,
    [username],
  );
  return rows[0];
}

async function bucketOf(db: Db, username: string): Promise<number | undefined> {
  const rows = await db.query<{ tokens: number }>("SELECT tokens FROM passphrase_failures WHERE username = $1", [
    username,
  ]);
  return rows[0]?.tokens;
}

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`backup_update on ${storage.name}`, () => {
    let r: TestRelay;
    let alice: TestUser;
    const open: RawClient[] = [];

    async function loggedIn(u: TestUser): Promise<RawClient> {
      const c = await RawClient.ready(r, { localAddress: freshAddress() });
      open.push(c);
      await c.loginAs(u);
      return c;
    }

    /** Sets alice's record with `key` and a backup of `size` bytes; returns the salt. */
    async function setRecord(key: Ed25519KeyPair, backup: Uint8Array): Promise<Uint8Array> {
      const c = await loggedIn(alice);
      await stage(c, backup);
      const salt = new Uint8Array(randomBytes(16));
      expect(
        await c.request<"passphrase_set">({
          t: "passphrase_set",
          salt,
          t_cost: PASSPHRASE_ARGON2.t,
          mem_kib: PASSPHRASE_ARGON2.memKiB,
          login_public: key.publicKey,
          size: backup.length,
        }),
      ).toMatchObject({ t: "ok" });
      c.close();
      return salt;
    }

    /** One failed passphrase_login of alice (a wrong key): her bucket holds 9 afterwards. */
    async function failOnce(): Promise<void> {
      const c = await RawClient.ready(r, { localAddress: freshAddress() });
      open.push(c);
      const proof = makeLoginProof(loginKey().privateKey, c.handshakeHash, "alice");
      expectError(
        await c.request<"passphrase_login">({ t: "passphrase_login", username: "alice", proof }),
        "AUTH_FAILED",
      );
      c.close();
    }

    beforeAll(() => storage.open());
    afterAll(() => storage.close());
    beforeEach(async () => {
      r = await startRelay({ db: await storage.fresh() });
      alice = await joinUser(r, "alice");
    });
    afterEach(async () => {
      for (const c of open.splice(0)) c.close();
      alice.client.close();
      await r.stop();
    });

    test("with the stored verifier: only the backup is replaced, the bucket untouched, a login reads the new one", async () => {
      const key = loginKey();
      const salt = await setRecord(key, fakeBackup(500));
      await failOnce();
      expect(await bucketOf(r.db, "alice")).toBe(9);

      const c = await loggedIn(alice);
      const fresh = fakeBackup(61_513);
      await stage(c, fresh);
      expect(await update(c, key.publicKey, fresh.length)).toMatchObject({ t: "ok" });
      const stored = (await recordOf(r.db, "alice"))!;
      expect(stored.backup).toEqual(fresh);
      expect(stored.salt).toEqual(salt);
      expect(Number(stored.t_cost)).toBe(PASSPHRASE_ARGON2.t);
      expect(Number(stored.mem_kib)).toBe(PASSPHRASE_ARGON2.memKiB);
      expect(stored.login_public).toEqual(key.publicKey);
      expect(await bucketOf(r.db, "alice")).toBe(9);
      // The staging was used up: a second update has nothing staged.
      expectError(await update(c, key.publicKey, fresh.length), "BAD_MESSAGE");

      const n = await RawClient.ready(r, { localAddress: freshAddress() });
      open.push(n);
      const proof = makeLoginProof(key.privateKey, n.handshakeHash, "alice");
      const info = await n.request<"passphrase_login">({ t: "passphrase_login", username: "alice", proof });
      expect(info).toMatchObject({ t: "backup_info", size: fresh.length });
      const part = (await n.request<"backup_get">({ t: "backup_get", offset: 0 })) as RelayMessageOf<"backup_part">;
      expect(part.data).toEqual(fresh.slice(0, part.data.length));
    });

    test("another verifier, or after passphrase_remove: AUTH_FAILED, the record and the staged bytes stay", async () => {
      const key = loginKey();
      const original = fakeBackup(300);
      await setRecord(key, original);
      await failOnce();
      const before = await recordOf(r.db, "alice");

      const c = await loggedIn(alice);
      const fresh = fakeBackup(400);
      await stage(c, fresh);
      const refused = await update(c, loginKey().publicKey, fresh.length);
      expectError(refused, "AUTH_FAILED");
      expect((refused as RelayMessageOf<"error">).message).toMatch(/changed or removed/);
      expect(await recordOf(r.db, "alice")).toEqual(before);
      expect(await bucketOf(r.db, "alice")).toBe(9);
      // Not a failed login: the connection stays logged in and usable.
      expect(await c.request<"list_chats">({ t: "list_chats" })).toMatchObject({ t: "chats" });
      // The staged bytes stayed: the right verifier now takes them.
      expect(await update(c, key.publicKey, fresh.length)).toMatchObject({ t: "ok" });
      expect((await recordOf(r.db, "alice"))!.backup).toEqual(fresh);

      expect(await c.request<"passphrase_remove">({ t: "passphrase_remove" })).toMatchObject({ t: "ok" });
      await stage(c, fresh);
      expectError(await update(c, key.publicKey, fresh.length), "AUTH_FAILED");
      expect(await recordOf(r.db, "alice")).toBeUndefined();
    });

    test("without a record, nothing staged, or a size the staging does not match: refused, nothing stored", async () => {
      const key = loginKey();
      const c = await loggedIn(alice);
      // No record at all: refused even with bytes staged; none is made.
      await stage(c, fakeBackup(100));
      expectError(await update(c, key.publicKey, 100), "AUTH_FAILED");
      expect(await recordOf(r.db, "alice")).toBeUndefined();
      c.close();

      const original = fakeBackup(200);
      await setRecord(key, original);
      const before = await recordOf(r.db, "alice");
      const d = await loggedIn(alice);
      expectError(await update(d, key.publicKey, 200), "BAD_MESSAGE");
      await stage(d, fakeBackup(150));
      for (const size of [149, 151]) expectError(await update(d, key.publicKey, size), "BAD_MESSAGE");
      // Out of the wire's range: refused by the schema before the handler.
      for (const size of [72, 61_514])
        expectError(await d.requestUnchecked({ t: "backup_update", login_public: key.publicKey, size }), "BAD_MESSAGE");
      expect(await recordOf(r.db, "alice")).toEqual(before);
      const wrongFormat = await loggedIn(alice);
      const bytes = fakeBackup(150);
      bytes[0] = 2;
      await stage(wrongFormat, bytes);
      expectError(await update(wrongFormat, key.publicKey, 150), "BAD_MESSAGE");
      expect(await recordOf(r.db, "alice")).toEqual(before);
      // The 150 bytes staged on d are still there.
      expect(await update(d, key.publicKey, 150)).toMatchObject({ t: "ok" });
    });

    test("before login, and after a passphrase_login, backup_update is NOT_AUTHENTICATED", async () => {
      const key = loginKey();
      await setRecord(key, fakeBackup(100));
      const before = await recordOf(r.db, "alice");
      const anon = await RawClient.ready(r, { localAddress: freshAddress() });
      open.push(anon);
      expectError(await update(anon, key.publicKey, 100), "NOT_AUTHENTICATED");
      const proof = makeLoginProof(key.privateKey, anon.handshakeHash, "alice");
      expect(await anon.request<"passphrase_login">({ t: "passphrase_login", username: "alice", proof })).toMatchObject(
        {
          t: "backup_info",
        },
      );
      expectError(await update(anon, key.publicKey, 100), "NOT_AUTHENTICATED");
      expect(await recordOf(r.db, "alice")).toEqual(before);
    });
  });
}
