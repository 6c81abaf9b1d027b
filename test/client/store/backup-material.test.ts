/**
 * The backup material of schema 9 (client/store/account.ts, SECURITY.md §16.2, §18.6
 * "Update"): the backup key, the record's salt, parameters and verifier, and the state digest,
 * kept and forgotten together, sealed at rest (nothing of them in the file's bytes), updated
 * only while the kept verifier is the one named, and a schema-8 profile's lone backup key
 * dropped by the migration.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { openDatabase } from "../../../client/store/sqlite.js";
import { SCHEMA_VERSION } from "../../../client/store/schema.js";
import type { BackupMaterial } from "../../../client/store/types.js";
import { CryptoVerificationError, UsageError } from "../../../src/errors.js";
import { UNDO_V9, caught, openTestStore, profileBytes, tempDir } from "./helpers.js";

const filled = (n: number, v: number) => new Uint8Array(n).fill(v);

const material: BackupMaterial = {
  backupKey: filled(32, 0xb1),
  salt: filled(16, 0x5a),
  t: 3,
  memKiB: 262144,
  loginPublic: filled(32, 0x1c),
  digest: filled(32, 0xd9),
};

function withAccount() {
  const dir = tempDir();
  const store = openTestStore(dir);
  store.account.set({
    relayHost: "relay.example",
    relayPort: 7443,
    relayKey: filled(32, 1),
    username: "alice",
    displayName: null,
    credential: filled(32, 2),
    signingSeed: filled(32, 3),
    dhPrivate: filled(32, 4),
  });
  return { dir, store };
}

describe("backup material", () => {
  test("kept and forgotten as a whole, sealed at rest", () => {
    const { dir, store } = withAccount();
    expect(store.account.backupMaterial()).toBeUndefined();
    store.account.setBackupMaterial(material);
    expect(store.account.backupMaterial()).toEqual(material);
    expect(store.account.get()!.backupKey).toEqual(material.backupKey);
    store.close();
    const bytes = profileBytes(dir);
    for (const secret of [material.backupKey, material.salt, material.loginPublic, material.digest])
      expect(bytes.includes(Buffer.from(secret))).toBe(false);

    const again = openTestStore(dir);
    expect(again.account.backupMaterial()).toEqual(material);
    again.account.setBackupMaterial(null);
    expect(again.account.backupMaterial()).toBeUndefined();
    expect(again.account.get()!.backupKey).toBeNull();
    again.close();
  });

  test("bad lengths and a profile without an account are refused, writing nothing", () => {
    const dir = tempDir();
    const empty = openTestStore(dir);
    expect(caught(() => empty.account.setBackupMaterial(material))).toBeInstanceOf(UsageError);
    empty.close();
    const { store } = withAccount();
    for (const bad of [
      { ...material, backupKey: filled(31, 1) },
      { ...material, salt: filled(17, 1) },
      { ...material, loginPublic: filled(33, 1) },
      { ...material, digest: filled(0, 1) },
    ])
      expect(caught(() => store.account.setBackupMaterial(bad))).toBeInstanceOf(UsageError);
    expect(store.account.backupMaterial()).toBeUndefined();
    store.close();
  });

  test("updateBackupMaterialIf changes the digest or forgets only while the verifier matches", () => {
    const { store } = withAccount();
    store.account.setBackupMaterial(material);
    const other = filled(32, 0x77);
    expect(store.account.updateBackupMaterialIf(other, filled(32, 9))).toBe(false);
    expect(store.account.updateBackupMaterialIf(other, null)).toBe(false);
    expect(store.account.backupMaterial()).toEqual(material);
    expect(store.account.updateBackupMaterialIf(material.loginPublic, filled(32, 9))).toBe(true);
    expect(store.account.backupMaterial()).toEqual({ ...material, digest: filled(32, 9) });
    expect(store.account.updateBackupMaterialIf(material.loginPublic, null)).toBe(true);
    expect(store.account.backupMaterial()).toBeUndefined();
    expect(store.account.updateBackupMaterialIf(material.loginPublic, null)).toBe(false);
    store.close();
  });

  test("a sealed column moved to another column does not open", () => {
    const { dir, store } = withAccount();
    store.account.setBackupMaterial(material);
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.exec("UPDATE account SET backup_digest = backup_key");
    raw.close();
    const again = openTestStore(dir);
    expect(caught(() => again.account.backupMaterial())).toBeInstanceOf(CryptoVerificationError);
    again.close();
  });

  test("account.set replacing the row drops the material with it", () => {
    const { store } = withAccount();
    store.account.setBackupMaterial(material);
    store.account.set({
      relayHost: "relay.example",
      relayPort: 1,
      relayKey: filled(32, 1),
      username: "alice",
      displayName: null,
      credential: filled(32, 2),
      signingSeed: filled(32, 3),
      dhPrivate: filled(32, 4),
    });
    expect(store.account.backupMaterial()).toBeUndefined();
    store.close();
  });

  test("schema 8 → 9: a lone backup key is dropped, everything else of the account stays", () => {
    const { dir, store } = withAccount();
    store.account.setBackupMaterial(material);
    const before = store.account.get()!;
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.exec(UNDO_V9);
    expect(raw.pragma("user_version", { simple: true })).toBe(8);
    expect((raw.prepare("SELECT backup_key FROM account").get() as { backup_key: unknown }).backup_key).not.toBeNull();
    raw.close();
    const again = openTestStore(dir);
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(again.account.backupMaterial()).toBeUndefined();
    expect(again.account.get()).toEqual({ ...before, backupKey: null });
    // The drop is told once (backup-refresh.ts), and not after the passphrase was set again.
    expect(again.account.takeDroppedBackupKey()).toBe(true);
    expect(again.account.takeDroppedBackupKey()).toBe(false);
    again.close();
  });

  test("schema 8 → 9 without a backup key: nothing to tell; a set or remove clears what there was", () => {
    const { dir, store } = withAccount();
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.exec(UNDO_V9);
    raw.close();
    const again = openTestStore(dir);
    expect(again.account.takeDroppedBackupKey()).toBe(false);
    again.close();

    const { dir: dir2, store: kept } = withAccount();
    kept.account.setBackupMaterial(material);
    kept.close();
    const raw2 = openDatabase(join(dir2, "store.sqlite"));
    raw2.exec(UNDO_V9);
    raw2.close();
    const migrated = openTestStore(dir2);
    migrated.account.setBackupMaterial(material); // smsg passphrase change after the upgrade
    expect(migrated.account.takeDroppedBackupKey()).toBe(false);
    migrated.close();
  });
});
