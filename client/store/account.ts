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
    };
  }

  /** Writes the account row (insert or replace), sealing the credential, identity secrets and display name. */
  set(a: AccountInput): void {
    if (a.signingSeed.length !== 32 || a.dhPrivate.length !== 32)
      throw new UsageError("identity secrets must be 32 bytes each");
    const s = this.ctx.sealer;
    const secrets = concat(a.signingSeed, a.dhPrivate);
    this.ctx
      .stmt(
        `INSERT OR REPLACE INTO account
           (id, relay_host, relay_port, relay_key, username, display_name, credential, identity_secrets, created_at)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      );
    wipe(secrets);
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
