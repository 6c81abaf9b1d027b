/**
 * Setting, changing and removing the account passphrase from a device of the account
 * (SECURITY.md §18.6 "Set, change, update" and "Remove"): the strength rule first (§18.7), then
 * a new salt, the key schedule at the default parameters (§18.2), the sealed backup (§18.3) sent
 * in `backup_put` pieces, and `passphrase_set`. Changing is setting with a new salt: any device
 * may do it without the old passphrase, since whoever holds a device holds the account key.
 */
import {
  PASSPHRASE_ARGON2,
  PASSPHRASE_SALT_BYTES,
  derivePassphraseKeys,
  wipePassphraseKeys,
} from "../../crypto/passphrase-kdf.js";
import { sealBackup } from "../../crypto/account-backup.js";
import { requireStrongPassphrase } from "../../crypto/passphrase-strength.js";
import { wipe } from "../../crypto/primitives.js";
import { UsageError } from "../../src/errors.js";
import type { RelayClient } from "../relay-client.js";
import { stageBackup } from "./backup-staging.js";
import { type AccountStateOmissions, buildAccountState } from "./account-state-snapshot.js";
import type { Account } from "./open-account.js";
import { accountIdentityOf } from "./own-device-list.js";
import { asPassphraseUnsupported } from "./passphrase-relay-errors.js";
import { backupStateDigest } from "./backup-refresh.js";

/** What of the account setting a passphrase uses: the store holds the account seed and the state the backup carries. */
export type PassphraseAccount = Pick<Account, "rng" | "relayKey" | "username" | "store">;

/** What of a logged-in connection the requests use. */
export type PassphraseRelay = Pick<RelayClient, "request">;

/** Options of setAccountPassphrase. */
export interface SetPassphraseOptions {
  /** Called once the passphrase passed the strength rule, right before the Argon2id (seconds). */
  readonly onDerive?: () => void;
}

/** What setAccountPassphrase stored on the relay. */
export interface PassphraseSetResult {
  /** Bytes of the sealed backup. */
  readonly backupBytes: number;
  /** What of the account state did not fit the backup (§17.6.1); the caller tells the user when anything was left out. */
  readonly omitted: AccountStateOmissions;
}

/**
 * Sets (or changes: the same, with a new salt) the account passphrase of `acct` on `relay`, a
 * connection logged in as this device. Throws WeakPassphraseError before anything is derived
 * or sent, PassphraseUnsupportedError when the relay does not serve §18.6, or the relay's
 * RemoteError. A failure before `passphrase_set` changes nothing on the relay (the staged pieces
 * belong to this connection only).
 */
export async function setAccountPassphrase(
  acct: PassphraseAccount,
  relay: PassphraseRelay,
  passphrase: string,
  opts: SetPassphraseOptions = {},
): Promise<PassphraseSetResult> {
  requireStrongPassphrase(passphrase);
  const record = acct.store.account.get();
  if (record === undefined) throw new UsageError("no account in this profile yet");
  const salt = acct.rng(PASSPHRASE_SALT_BYTES);
  const ctx = { relayKey: acct.relayKey, username: acct.username, salt };
  const params = PASSPHRASE_ARGON2;
  // The backup carries the ACCOUNT signing seed and is bound to the account key (§18.3), whichever
  // device this is (on device 1 they are its own; on another, what its grant or login gave it, §17.1).
  const snapshot = buildAccountState(acct.store);
  opts.onDerive?.();
  const keys = derivePassphraseKeys(passphrase, ctx, params);
  try {
    const backup = sealBackup(
      keys.backupKey,
      ctx,
      params,
      accountIdentityOf(record),
      { accountSigningSeed: record.accountSigningSeed, state: snapshot.bytes },
      acct.rng,
    );
    try {
      await stageBackup(relay, backup);
      await relay.request<"passphrase_set">({
        t: "passphrase_set",
        salt,
        t_cost: params.t,
        mem_kib: params.memKiB,
        login_public: keys.login.publicKey,
        size: backup.length,
      });
    } catch (e) {
      throw asPassphraseUnsupported(e);
    }
    // Kept (sealed, §16.2) so this device can update the backup later without the passphrase
    // (§18.6 "Update"): the record's salt, parameters and verifier, and what it sealed.
    acct.store.account.setBackupMaterial({
      backupKey: keys.backupKey,
      salt,
      t: params.t,
      memKiB: params.memKiB,
      loginPublic: keys.login.publicKey,
      digest: backupStateDigest(accountIdentityOf(record), snapshot.bytes),
    });
    return { backupBytes: backup.length, omitted: snapshot.omitted };
  } finally {
    wipePassphraseKeys(keys);
    wipe(record.signingSeed, record.dhPrivate, record.accountSigningSeed, record.backupKey ?? undefined);
  }
}

/**
 * Removes the account passphrase (§18.6 "Remove"): the relay deletes the record, and the name
 * gets decoys afterwards (§18.5), and this device forgets its backup key and the record's
 * material. Throws PassphraseUnsupportedError or the relay's RemoteError.
 */
export async function removeAccountPassphrase(acct: Pick<Account, "store">, relay: PassphraseRelay): Promise<void> {
  try {
    await relay.request<"passphrase_remove">({ t: "passphrase_remove" });
  } catch (e) {
    throw asPassphraseUnsupported(e);
  }
  acct.store.account.setBackupMaterial(null);
}
