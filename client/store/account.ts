/**
 * The `account` table: one row, the profile's relay and identity. Row key of its sealed
 * columns: [1].
 */
import { bytesEqual, concat, u32be } from "../../crypto/bytes.js";
import { wipe } from "../../crypto/primitives.js";
import { UsageError } from "../../src/errors.js";
import type { StoreContext } from "./context.js";
import { blob, blobOrNull } from "./sqlite.js";
import type { AccountInput, AccountRecord, BackupMaterial } from "./types.js";

const T = "account";
const ROW = [1] as const;

interface Row {
  relay_host: string;
  relay_port: number;
  relay_key: Uint8Array;
  username: string;
  display_name: Uint8Array | null;
  credential: Uint8Array;
  identity_secrets: Uint8Array;
  created_at: number;
  device_id: number;
  account_identity: Uint8Array | null;
  account_signing_seed: Uint8Array | null;
  backup_key: Uint8Array | null;
  backup_params: Uint8Array | null;
  backup_digest: Uint8Array | null;
}

/** backup_params: salt (16) || u32be t || u32be mem_kib || login_public (32) (schema.ts V9). */
const PARAMS_BYTES = 16 + 4 + 4 + 32;

/** The profile's account (store.account). */
export class AccountTable {
  constructor(private readonly ctx: StoreContext) {}

  /** The account, or undefined before join. Throws CryptoVerificationError if a sealed column was tampered with. */
  get(): AccountRecord | undefined {
    const r = this.ctx.stmt("SELECT * FROM account WHERE id = 1").get() as Row | undefined;
    if (!r) return undefined;
    const s = this.ctx.sealer;
    const secrets = s.open(T, "identity_secrets", ROW, blob(r.identity_secrets));
    const dn = blobOrNull(r.display_name);
    const signingSeed = secrets.slice(0, 32);
    const dhPrivate = secrets.slice(32, 64);
    wipe(secrets);
    const accountSeed = blobOrNull(r.account_signing_seed);
    const backupKey = blobOrNull(r.backup_key);
    const accountIdentity = blobOrNull(r.account_identity);
    return {
      relayHost: r.relay_host,
      relayPort: r.relay_port,
      relayKey: blob(r.relay_key).slice(),
      username: r.username,
      displayName: dn === null ? null : s.openText(T, "display_name", ROW, dn),
      credential: s.open(T, "credential", ROW, blob(r.credential)),
      signingSeed,
      dhPrivate,
      createdAt: r.created_at,
      deviceId: r.device_id,
      accountIdentity: accountIdentity === null ? null : accountIdentity.slice(),
      accountSigningSeed:
        accountSeed === null ? signingSeed.slice() : s.open(T, "account_signing_seed", ROW, accountSeed),
      backupKey: backupKey === null ? null : s.open(T, "backup_key", ROW, backupKey),
    };
  }

  /**
   * Writes the account row (insert or replace), sealing the credential, identity secrets,
   * account signing seed and display name; a replaced row loses its backup material. Device 1 (the default) has no separate
   * account identity or seed: its identity is the account key (SECURITY.md §17.1); any other
   * device must give both.
   */
  set(a: AccountInput): void {
    if (a.signingSeed.length !== 32 || a.dhPrivate.length !== 32)
      throw new UsageError("identity secrets must be 32 bytes each");
    const deviceId = a.deviceId ?? 1;
    if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > 0xffffffff)
      throw new UsageError(`not a device id: ${deviceId}`);
    const accountIdentity = a.accountIdentity ?? null;
    const accountSeed = a.accountSigningSeed ?? null;
    if ((deviceId === 1) !== (accountIdentity === null) || (deviceId === 1) !== (accountSeed === null))
      throw new UsageError("a device other than 1, and only such a device, has its own account identity and seed");
    if (accountIdentity !== null && accountIdentity.length !== 128)
      throw new UsageError("the account identity is a 128-byte IdentityPublic");
    if (accountSeed !== null && accountSeed.length !== 32) throw new UsageError("the account signing seed is 32 bytes");
    const s = this.ctx.sealer;
    const secrets = concat(a.signingSeed, a.dhPrivate);
    this.ctx
      .stmt(
        `INSERT OR REPLACE INTO account
           (id, relay_host, relay_port, relay_key, username, display_name, credential, identity_secrets, created_at,
            device_id, account_identity, account_signing_seed)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        a.relayHost,
        a.relayPort,
        a.relayKey,
        a.username,
        a.displayName === null ? null : s.sealText(T, "display_name", ROW, a.displayName),
        s.seal(T, "credential", ROW, a.credential),
        s.seal(T, "identity_secrets", ROW, secrets),
        a.createdAt ?? this.ctx.now(),
        deviceId,
        accountIdentity,
        accountSeed === null ? null : s.seal(T, "account_signing_seed", ROW, accountSeed),
      );
    wipe(secrets);
  }

  /**
   * What this device keeps to update the passphrase backup (SECURITY.md §18.6 "Update"), or
   * undefined when it has none (no passphrase, a device made by device link, a refused update).
   * Throws CryptoVerificationError if a sealed column was tampered with.
   */
  backupMaterial(): BackupMaterial | undefined {
    const r = this.ctx.stmt("SELECT backup_key, backup_params, backup_digest FROM account WHERE id = 1").get() as
      Pick<Row, "backup_key" | "backup_params" | "backup_digest"> | undefined;
    const key = r === undefined ? null : blobOrNull(r.backup_key);
    const params = r === undefined ? null : blobOrNull(r.backup_params);
    const digest = r === undefined ? null : blobOrNull(r.backup_digest);
    if (key === null || params === null || digest === null) return undefined;
    const s = this.ctx.sealer;
    const p = s.open(T, "backup_params", ROW, params);
    if (p.length !== PARAMS_BYTES) throw new UsageError("the stored backup parameters are not 56 bytes");
    const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
    return {
      backupKey: s.open(T, "backup_key", ROW, key),
      salt: p.slice(0, 16),
      t: view.getUint32(16),
      memKiB: view.getUint32(20),
      loginPublic: p.slice(24, 56),
      digest: s.open(T, "backup_digest", ROW, digest),
    };
  }

  /**
   * Keeps (or, with null, forgets) all of the backup material at once, so a row never holds a
   * key without its record's salt, parameters and verifier. Throws UsageError before join or
   * for a wrong length.
   */
  setBackupMaterial(m: BackupMaterial | null): void {
    let sealed: [Uint8Array, Uint8Array, Uint8Array] | [null, null, null] = [null, null, null];
    if (m !== null) {
      if (m.backupKey.length !== 32 || m.salt.length !== 16 || m.loginPublic.length !== 32 || m.digest.length !== 32)
        throw new UsageError("backup material: a 32-byte key, 16-byte salt, 32-byte verifier and 32-byte digest");
      const s = this.ctx.sealer;
      sealed = [
        s.seal(T, "backup_key", ROW, m.backupKey),
        s.seal(T, "backup_params", ROW, concat(m.salt, u32be(m.t), u32be(m.memKiB), m.loginPublic)),
        s.seal(T, "backup_digest", ROW, m.digest),
      ];
    }
    // Set or removed on purpose: a key the schema 9 migration dropped is no longer worth a word.
    const res = this.ctx
      .stmt(
        "UPDATE account SET backup_key = ?, backup_params = ?, backup_digest = ?, backup_key_dropped = 0 WHERE id = 1",
      )
      .run(...sealed);
    if (res.changes === 0) throw new UsageError("no account in this profile yet");
  }

  /**
   * True once (then false) when the schema 9 migration dropped a backup key this profile kept
   * from before it, which could not update the backup (schema.ts V9), and no passphrase was set,
   * changed or removed since: the user is told to run `smsg passphrase change` (§18.6 "Update").
   */
  takeDroppedBackupKey(): boolean {
    return (
      this.ctx.stmt("UPDATE account SET backup_key_dropped = 0 WHERE id = 1 AND backup_key_dropped = 1").run()
        .changes === 1
    );
  }

  /**
   * Records `digest` as the state last sealed, or (with null) forgets the material, but only
   * while the kept material still names the verifier `loginPublic`: another process of this
   * profile may have set a new passphrase meanwhile, whose material must stay. In one
   * transaction. Returns whether it changed anything.
   */
  updateBackupMaterialIf(loginPublic: Uint8Array, digest: Uint8Array | null): boolean {
    return this.ctx.tx(() => {
      const m = this.backupMaterial();
      if (m === undefined) return false;
      try {
        if (!bytesEqual(m.loginPublic, loginPublic)) return false;
        this.setBackupMaterial(digest === null ? null : { ...m, digest });
        return true;
      } finally {
        wipe(m.backupKey);
      }
    });
  }

  /** Sets or clears our display name. Throws UsageError when there is no account yet. */
  setDisplayName(name: string | null): void {
    const sealed = name === null ? null : this.ctx.sealer.sealText(T, "display_name", ROW, name);
    const res = this.ctx.stmt("UPDATE account SET display_name = ? WHERE id = 1").run(sealed);
    if (res.changes === 0) throw new UsageError("no account in this profile yet");
  }

  /** True once the account row exists (reads no secret). */
  exists(): boolean {
    return this.ctx.stmt("SELECT 1 FROM account WHERE id = 1").get() !== undefined;
  }
}
