/**
 * The `account` table: one row, the profile's relay and identity. Row key of its sealed
 * columns: [1].
 */
import { concat } from "../../crypto/bytes.js";
import { wipe } from "../../crypto/primitives.js";
import { UsageError } from "../../src/errors.js";
import type { StoreContext } from "./context.js";
import { blob, blobOrNull } from "./sqlite.js";
import type { AccountInput, AccountRecord } from "./types.js";

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
}

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
   * account signing seed, backup key and display name. Device 1 (the default) has no separate
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
    if (a.backupKey != null && a.backupKey.length !== 32) throw new UsageError("the backup key is 32 bytes");
    const s = this.ctx.sealer;
    const secrets = concat(a.signingSeed, a.dhPrivate);
    this.ctx
      .stmt(
        `INSERT OR REPLACE INTO account
           (id, relay_host, relay_port, relay_key, username, display_name, credential, identity_secrets, created_at,
            device_id, account_identity, account_signing_seed, backup_key)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        a.backupKey == null ? null : s.seal(T, "backup_key", ROW, a.backupKey),
      );
    wipe(secrets);
  }

  /** Keeps (or, with null, forgets) the passphrase backup key of SECURITY.md §18.6. Throws UsageError before join. */
  setBackupKey(key: Uint8Array | null): void {
    if (key !== null && key.length !== 32) throw new UsageError("the backup key is 32 bytes");
    const sealed = key === null ? null : this.ctx.sealer.seal(T, "backup_key", ROW, key);
    const res = this.ctx.stmt("UPDATE account SET backup_key = ? WHERE id = 1").run(sealed);
    if (res.changes === 0) throw new UsageError("no account in this profile yet");
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
