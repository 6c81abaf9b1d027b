/**
 * Devices survive the relay's backup (SECURITY.md §17.8, migrations/0006_devices.sql): a backup
 * holds the device lists, every device row (removed ones too) and each device's prekeys, and a
 * relay restored from it serves them exactly; a backup made before migration 6 restores with
 * device 1 of every account created as the migration creates it. The migration itself gives
 * the accounts of an older database their device 1 and keeps their prekeys as device 1's.
 */
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../crypto/prekeys.js";
import { sha256, x25519KeyPair } from "../../crypto/primitives.js";
import { writeBackupFile } from "../../relay/backup/backup-file.js";
import { dumpDatabase } from "../../relay/backup/dump.js";
import { restoreBackup } from "../../relay/backup/restore.js";
import { createLogger } from "../../relay/logger.js";
import { type Db, createPgDriver, listMigrations, migrate } from "../../relay/store/index.js";
import { systemRng } from "../../src/system-rng.js";
import { createThrowawayDatabase, pgUrl } from "../helpers/throwaway-pg.js";
import { deviceKeys, loginDevice, registerDevice, signedList } from "./device-keys.js";
import { type TestRelay, joinUser, startRelay } from "./harness.js";
import { RawClient } from "./raw-client.js";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}, 120_000);

async function database(): Promise<{ url: string; db: Db }> {
  const t = await createThrowawayDatabase(pgUrl!);
  const db = createPgDriver({ connectionString: t.url });
  cleanups.push(t.drop, () => db.close());
  return { url: t.url, db };
}

async function relayOn(db: Db, keyPair = x25519KeyPair(systemRng)): Promise<TestRelay> {
  const r = await startRelay({ db, keyPair });
  cleanups.push(() => r.stop());
  return r;
}

/** Backs `db` up to a new file and restores it into a new database; returns that database. */
async function backUpAndRestore(db: Db): Promise<Db> {
  const dir = mkdtempSync(join(tmpdir(), "smsg-devices-backup-"));
  const file = join(dir, "relay.smsgbak");
  await writeBackupFile(file, false, (write) =>
    dumpDatabase({ db, relayKey: systemRng(32), endpoint: null, now: new Date() }, write),
  );
  const target = await database();
  await restoreBackup({
    file,
    dataDir: join(dir, "restored"),
    databaseUrl: target.url,
    endpointFile: "endpoint.json",
    log: createLogger("silent"),
  });
  return target.db;
}

describe.skipIf(!pgUrl)("devices and the relay backup", () => {
  test("lists, devices (removed ones too) and per-device prekeys are restored exactly", async () => {
    const source = await database();
    await migrate(source.db);
    const keyPair = x25519KeyPair(systemRng);
    const r = await relayOn(source.db, keyPair);
    const u = await joinUser(r, "dora");
    const d2 = deviceKeys("dora 2");
    const d3 = deviceKeys("dora 3");
    const c1 = await RawClient.ready(r);
    expect(await loginDevice(c1, u.username, 1, u.credential, u.identity)).toMatchObject({ t: "logged_in" });
    const dev = (id: number, k: typeof d2) => ({ id, identity: k.identity.publicKey });
    const one = { id: 1, identity: u.identity.publicKey };
    expect(
      await c1.request<"publish_device_list">({
        t: "publish_device_list",
        list: signedList(u.identity, u.username, 1, [one, dev(2, d2), dev(3, d3)]),
      }),
    ).toMatchObject({ t: "ok" });
    const reg = await RawClient.ready(r);
    expect(await registerDevice(reg, u.username, 2, d2)).toMatchObject({ t: "joined" });
    const v2 = signedList(u.identity, u.username, 2, [one, dev(2, d2)]);
    expect(await c1.request<"publish_device_list">({ t: "publish_device_list", list: v2 })).toMatchObject({ t: "ok" });
    const id = (await r.relay.store.accountByUsername(u.username))!.id;
    const before = await r.relay.store.devicesOf(id);
    await r.stop();

    const restored = await backUpAndRestore(source.db);
    const r2 = await relayOn(restored, keyPair);
    expect(await r2.relay.store.devicesOf(id)).toEqual(before);
    expect(Buffer.from((await r2.relay.store.deviceList(id))!.list).equals(Buffer.from(v2))).toBe(true);
    expect(await r2.relay.store.oneTimePrekeyCount(id, 2)).toBe(d2.opks.length);
    expect(await r2.relay.store.oneTimePrekeyCount(id, 1)).toBe(u.opks.length);
    const c2 = await RawClient.ready(r2);
    expect(await loginDevice(c2, u.username, 2, d2.credential, d2.identity)).toMatchObject({ t: "logged_in" });
    const bundle = await c2.request<"fetch_bundle">({ t: "fetch_bundle", username: u.username, device: 2 });
    expect(bundle).toMatchObject({ t: "bundle", device: 2, one_time_prekey: { key_id: d2.opks[0]!.id } });
    const c3 = await RawClient.ready(r2);
    expect(await loginDevice(c3, u.username, 3, d3.credential, d3.identity)).toMatchObject({ code: "AUTH_FAILED" });
  }, 120_000);

  /** A database at schema 5 (before devices) with one account and its prekeys, written as that relay wrote them. */
  async function schemaFiveWithAccount() {
    const old = await database();
    const dir = mkdtempSync(join(tmpdir(), "smsg-migrations-5-"));
    for (const m of listMigrations().filter((m) => m.version <= 5)) copyFileSync(m.path, join(dir, m.name));
    expect(await migrate(old.db, dir)).toEqual([1, 2, 3, 4, 5]);
    const identity = generateIdentity(systemRng);
    const spk = generateSignedPrekey(systemRng, identity, 4);
    const opks = generateOneTimePrekeys(systemRng, 10, 3);
    const credential = systemRng(32);
    const [row] = await old.db.query<{ id: number }>(
      "INSERT INTO accounts (username, credential_hash, identity) VALUES ('olga', $1, $2) RETURNING id",
      [sha256(credential), encodeIdentityPublic(identity.publicKey)],
    );
    await old.db.query(
      "INSERT INTO signed_prekeys (account_id, key_id, public_key, signature) VALUES ($1, $2, $3, $4)",
      [row!.id, spk.id, spk.keyPair.publicKey, spk.signature],
    );
    for (const k of opks)
      await old.db.query("INSERT INTO one_time_prekeys (account_id, key_id, public_key) VALUES ($1, $2, $3)", [
        row!.id,
        k.id,
        k.keyPair.publicKey,
      ]);
    return { db: old.db, id: Number(row!.id), identity, credential, spk, opks };
  }

  /** The account of schemaFiveWithAccount, on a relay over `db`: device 1 is its account key, with its prekeys. */
  async function expectDeviceOne(db: Db, old: Awaited<ReturnType<typeof schemaFiveWithAccount>>) {
    const r = await relayOn(db);
    const d1 = await r.relay.store.device(old.id, 1);
    expect(d1).toMatchObject({ deviceId: 1, removedAt: null });
    expect(Buffer.from(d1!.identity).equals(Buffer.from(encodeIdentityPublic(old.identity.publicKey)))).toBe(true);
    expect(await r.relay.store.currentDeviceIds(old.id)).toEqual([1]);
    expect(await r.relay.store.deviceList(old.id)).toBeUndefined();
    expect(await r.relay.store.oneTimePrekeyCount(old.id, 1)).toBe(old.opks.length);
    const c = await RawClient.ready(r);
    expect(await loginDevice(c, "olga", undefined, old.credential, old.identity)).toMatchObject({
      t: "logged_in",
      stock: old.opks.length,
    });
    const b = await c.request<"fetch_bundle">({ t: "fetch_bundle", username: "olga" });
    expect(b).toMatchObject({ t: "bundle", device: 1, signed_prekey: { key_id: old.spk.id } });
  }

  test("migration 6 gives an older database's accounts device 1, with their prekeys", async () => {
    const old = await schemaFiveWithAccount();
    expect(await migrate(old.db)).toEqual(
      listMigrations()
        .filter((m) => m.version > 5)
        .map((m) => m.version),
    );
    await expectDeviceOne(old.db, old);
  }, 120_000);

  test("a backup made before migration 6 restores with device 1 of every account", async () => {
    const old = await schemaFiveWithAccount();
    const restored = await backUpAndRestore(old.db);
    await expectDeviceOne(restored, old);
  }, 120_000);
});
