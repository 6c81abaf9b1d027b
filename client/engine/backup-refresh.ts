/**
 * Keeping the passphrase backup current (SECURITY.md §18.6 "Update"). A device that set the
 * passphrase or logged in with it keeps, sealed in its store, the record's backup key, salt,
 * parameters and verifier, and the digest of the state it last sealed or opened
 * (store.account.backupMaterial). When the account-state snapshot (§17.6.1) differs from that
 * digest, it re-seals the backup under the kept key with a fresh nonce (§18.3; no Argon2id),
 * stages it in `backup_put` pieces and sends `backup_update`, which the relay applies only while
 * the record still has that verifier. An unchanged state sends nothing.
 *
 * - refreshBackup: one attempt, with its outcome; throws what the relay or the store threw.
 * - BackupRefresher: what a connection uses (online.ts). It runs one attempt at a time, never
 *   fails the caller (a failure is one warning, tried again next time) and gives up on a
 *   connection whose staging an attempt may have left half-filled, since `backup_put` offsets
 *   count what that connection staged (§18.6).
 */
import { concat, bytesEqual } from "../../crypto/bytes.js";
import { sealBackup } from "../../crypto/account-backup.js";
import { type IdentityPublic, identityKey } from "../../crypto/identity.js";
import { sha256, wipe } from "../../crypto/primitives.js";
import { RemoteError, SmsgError, type SmsgCode } from "../../src/errors.js";
import type { RelayClient } from "../relay-client.js";
import { stageBackup } from "./backup-staging.js";
import { buildAccountState } from "./account-state-snapshot.js";
import type { Account } from "./open-account.js";
import { accountIdentityOf } from "./own-device-list.js";

/** How often a long-running listener looks for a changed state at most (ms). */
export const BACKUP_REFRESH_INTERVAL_MS = 60_000;

/**
 * What one attempt did: `none` (this device keeps no material), `unchanged` (nothing sent),
 * `updated`, `unsupported` (the relay answered UNKNOWN_TYPE: it predates the request),
 * `taken-over` (the relay's record is no longer the one this device knew: the material is
 * forgotten), `superseded` (refused, but this profile stored new material meanwhile, e.g. a
 * `passphrase change` in another process: that material stays), `dropped` (none, because the
 * store's schema 9 migration dropped a key kept from before it: said once).
 */
export type BackupRefreshOutcome =
  "none" | "unchanged" | "updated" | "unsupported" | "taken-over" | "superseded" | "dropped";

/** What of the account an attempt uses. */
export type BackupAccount = Pick<Account, "store" | "rng" | "relayKey" | "username">;

/** What of a logged-in connection an attempt uses. */
export type BackupRelay = Pick<RelayClient, "request">;

/**
 * SHA-256 of the account identity key (64 bytes) || the snapshot: the digest kept, sealed, to
 * tell whether the state changed since the last seal. It covers the account key because the
 * backup is bound to it (§18.3).
 */
export function backupStateDigest(account: IdentityPublic, state: Uint8Array): Uint8Array {
  return sha256(concat(identityKey(account), state));
}

/**
 * One attempt (see the file comment). Throws AccountStateDoesNotFitError, the relay's
 * RemoteError (other than UNKNOWN_TYPE, and AUTH_FAILED for backup_update), or what the
 * connection throws; the kept material then stays as it was.
 */
export async function refreshBackup(acct: BackupAccount, relay: BackupRelay): Promise<BackupRefreshOutcome> {
  const m = acct.store.account.backupMaterial();
  if (m === undefined) return acct.store.account.takeDroppedBackupKey() ? "dropped" : "none";
  let record;
  try {
    record = acct.store.account.get();
    if (record === undefined) return "none";
    const account = accountIdentityOf(record);
    const snapshot = buildAccountState(acct.store);
    const digest = backupStateDigest(account, snapshot.bytes);
    if (bytesEqual(digest, m.digest)) return "unchanged";
    const params = { t: m.t, memKiB: m.memKiB };
    const ctx = { relayKey: acct.relayKey, username: acct.username, salt: m.salt };
    const backup = sealBackup(
      m.backupKey,
      ctx,
      params,
      account,
      { accountSigningSeed: record.accountSigningSeed, state: snapshot.bytes },
      acct.rng,
    );
    try {
      await stageBackup(relay, backup);
      await relay.request<"backup_update">({ t: "backup_update", login_public: m.loginPublic, size: backup.length });
    } catch (e) {
      if (e instanceof RemoteError && e.code === "UNKNOWN_TYPE") return "unsupported";
      // Only backup_update answers AUTH_FAILED to a logged-in device: the record is another one.
      if (e instanceof RemoteError && e.code === "AUTH_FAILED")
        return acct.store.account.updateBackupMaterialIf(m.loginPublic, null) ? "taken-over" : "superseded";
      throw e;
    }
    acct.store.account.updateBackupMaterialIf(m.loginPublic, digest);
    return "updated";
  } finally {
    wipe(m.backupKey);
    if (record) wipe(record.signingSeed, record.dhPrivate, record.accountSigningSeed, record.backupKey ?? undefined);
  }
}

/**
 * Said once, when the relay refused an update because the passphrase was changed or removed
 * on another device (the material is forgotten, so it is never said again). The relay's code.
 */
export class BackupTakenOverNotice extends SmsgError {
  constructor(options?: { cause?: unknown }) {
    super(
      "AUTH_FAILED",
      "the account passphrase was changed or removed on another device, so this device no longer refreshes " +
        "the login backup (run smsg passphrase change here to take it over)",
      options,
    );
  }
}

/**
 * Said once, when this version found a backup key kept from before it that cannot update the
 * backup (the store's schema 9 migration dropped it): the backup stays as old as it was until
 * the passphrase is set again here. Code USAGE: the user has one command to run.
 */
export class BackupKeyDroppedNotice extends SmsgError {
  constructor() {
    super(
      "USAGE",
      "this version cannot refresh the login backup with the key this profile kept from before it, so the " +
        "backup stays as it was; run smsg passphrase change once on this device to keep it current from now on",
    );
  }
}

/** An attempt failed; the command went on. The code of what failed. */
export class BackupRefreshFailedError extends SmsgError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      cause instanceof SmsgError ? (cause.code as SmsgCode) : "INTERNAL",
      `the login backup was not refreshed (${reason}); it is tried again later`,
      { cause },
    );
  }
}

/** The refresh of one logged-in connection (online.ts makes one per connection). */
export class BackupRefresher {
  private running: Promise<void> | undefined;
  /** False once an attempt may have left staged bytes on this connection, or the relay lacks the request. */
  private usable = true;
  /** The store's change mark after the last look (ClientStore.changeMark). */
  private seen: string | undefined;

  constructor(
    private readonly acct: BackupAccount,
    private readonly relay: BackupRelay & Pick<RelayClient, "isClosed">,
    private readonly onWarning?: (err: unknown) => void,
  ) {}

  /**
   * One attempt, unless one runs (then that one is awaited) or this connection cannot take one.
   * Never throws: a failure goes to onWarning as BackupRefreshFailedError, a taken-over record as
   * BackupTakenOverNotice.
   */
  refresh(): Promise<void> {
    this.running ??= this.attempt().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** refresh, but only when the store changed since the last look (a long-running listener's timer). */
  refreshIfChanged(): Promise<void> {
    if (!this.acct.store.isOpen || this.acct.store.changeMark() === this.seen) return this.running ?? Promise.resolve();
    return this.refresh();
  }

  private async attempt(): Promise<void> {
    if (!this.usable || this.relay.isClosed || !this.acct.store.isOpen) return;
    // Taken before the snapshot, so a change made while this attempt runs is seen by the next
    // look (which then also sees this attempt's own write and, the state unchanged, sends nothing).
    this.seen = this.acct.store.changeMark();
    try {
      const outcome = await refreshBackup(this.acct, this.relay);
      // A refusal leaves the staged pieces on this connection (§18.6), so its next offset 0 would be refused.
      if (outcome === "unsupported" || outcome === "taken-over" || outcome === "superseded") this.usable = false;
      if (outcome === "taken-over") this.onWarning?.(new BackupTakenOverNotice());
      if (outcome === "dropped") this.onWarning?.(new BackupKeyDroppedNotice());
    } catch (e) {
      // The pieces staged so far stay on this connection (§18.6): later attempts need a new one.
      this.usable = false;
      if (!this.relay.isClosed || !(e instanceof SmsgError && e.code === "CONNECTION_CLOSED"))
        this.onWarning?.(new BackupRefreshFailedError(e));
    }
  }
}
