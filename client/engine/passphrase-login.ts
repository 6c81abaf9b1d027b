/**
 * The first half of `smsg login` (SECURITY.md §18.6 "Log-in on a new machine"), on connections
 * that are not logged in: `passphrase_salt`, the parameter check of §18.2 before anything is
 * derived, the key schedule, `passphrase_login` with the proof for the handshake hash of the
 * connection it goes out on (§18.4), `backup_get` until the announced size, then the account key
 * the relay stores is verified (§4.1) and the backup opened with it (§18.3).
 *
 * Two connections, as §18.6 says: the relay's login timeout (§14.7) runs on an unauthenticated
 * connection until `register_device`, and Argon2id at 256 MiB takes seconds (§18.8), so the
 * salt is asked on one connection, which is closed, the keys are derived with no connection
 * open, and the proof goes out on a new one, which the caller keeps for the second half
 * (register-new-device.ts). The derived secrets are wiped whatever happens, but for a copy of
 * backup_key handed to the caller, which the new device keeps to update the backup later
 * (§18.6 "Update"); nothing is written.
 */
import { concat } from "../../crypto/bytes.js";
import { openBackup } from "../../crypto/account-backup.js";
import { type IdentityPublic, decodeIdentityPublic, verifyIdentityPublic } from "../../crypto/identity.js";
import { makeLoginProof } from "../../crypto/login-proof.js";
import {
  PASSPHRASE_ARGON2_FLOOR,
  PASSPHRASE_ARGON2_MAX,
  type PassphraseContext,
  derivePassphraseKeys,
  wipePassphraseKeys,
} from "../../crypto/passphrase-kdf.js";
import type { Argon2Params } from "../../crypto/primitives.js";
import { CodecError, RemoteError, SmsgError } from "../../src/errors.js";
import type { RelayClient } from "../relay-client.js";
import type { BackupMaterial } from "../store/types.js";
import { backupStateDigest } from "./backup-refresh.js";
import { asPassphraseUnsupported } from "./passphrase-relay-errors.js";

/**
 * The relay refused the passphrase log-in (AUTH_FAILED). A wrong passphrase, a name without an
 * account and an account without a passphrase get the same answer on purpose (the decoy of
 * §18.5), so the sentence names all three. Code LOGIN_FAILED (exit 9).
 */
export class PassphraseLoginFailedError extends SmsgError {
  constructor(username: string, options?: { cause?: unknown }) {
    super(
      "LOGIN_FAILED",
      `the relay refused the passphrase log-in as ${username}: wrong account passphrase, no such account, ` +
        "or this account has no passphrase (then use smsg device link on a device that has it); nothing was stored",
      options,
    );
  }
}

/**
 * The relay refused to try: the name's bucket of failed passphrase log-ins is empty (hours), or
 * this address waits out its login backoff (seconds to minutes, §18.5); the relay's own reason
 * says which. Code RATE_LIMITED (exit 18).
 */
export class PassphraseRateLimitedError extends SmsgError {
  constructor(username: string, reason: string, options?: { cause?: unknown }) {
    super(
      "RATE_LIMITED",
      `the relay allows no more passphrase log-ins as ${username} for now (${reason}); ` + "nothing was stored",
      options,
    );
  }
}

/**
 * The relay offered Argon2id parameters out of §18.2's range: below the floor (it would make its
 * own offline guessing cheaper) or above the maximum (it would make this machine allocate without
 * bound). Refused before anything is derived. Code CODEC (exit 1).
 */
export class RelayParamsRefusedError extends CodecError {
  constructor(params: Argon2Params) {
    const below = params.t < PASSPHRASE_ARGON2_FLOOR.t || params.memKiB < PASSPHRASE_ARGON2_FLOOR.memKiB;
    super(
      below
        ? `the relay offered Argon2id parameters below the floor (t=${params.t}, mem_kib=${params.memKiB}; ` +
            `the floor is t=${PASSPHRASE_ARGON2_FLOOR.t}, mem_kib=${PASSPHRASE_ARGON2_FLOOR.memKiB}), which would ` +
            "make guessing the passphrase cheaper for it: refused, nothing was derived or sent"
        : `the relay offered Argon2id parameters above the maximum (t=${params.t}, mem_kib=${params.memKiB}; ` +
            `the maximum is t=${PASSPHRASE_ARGON2_MAX.t}, mem_kib=${PASSPHRASE_ARGON2_MAX.memKiB}): ` +
            "refused, nothing was derived or sent",
    );
  }
}

/** What the relay's backup gave: the verified account key, its signing seed and the state. */
export interface OpenedAccountBackup {
  readonly username: string;
  /** The account IdentityPublic the relay stores, verified (§4.1); the backup opened under it. */
  readonly account: IdentityPublic;
  /** The account's Ed25519 seed (§17.1). The caller wipes it. */
  readonly accountSigningSeed: Uint8Array;
  /** The account-state snapshot (§17.6.1), opaque here. */
  readonly state: Uint8Array;
  /**
   * What the new device keeps to update the backup later (§18.6 "Update"): the backup key it
   * derived, the record's salt, parameters and verifier, the digest of the state it opened.
   * The caller wipes `material.backupKey`.
   */
  readonly material: BackupMaterial;
}

/** A relay connection as passphraseLogIn uses it. */
export type LoginConnection = Pick<RelayClient, "request" | "handshakeHash" | "close">;

/** What passphraseLogIn needs besides the connections. */
export interface PassphraseLogInOptions<R extends LoginConnection> {
  /** Opens a new connection to the relay (not logged in). Called twice. */
  readonly connect: () => Promise<R>;
  /** The relay's static key as the relay link pinned it (§18.2 binds the schedule to it). */
  readonly relayKey: Uint8Array;
  /** The canonical username. */
  readonly username: string;
  readonly passphrase: string;
  /** Called right before the Argon2id (seconds), after the parameters passed. */
  readonly onDerive?: () => void;
}

/** The relay's parameters, checked against §18.2's floor and maximum. Throws RelayParamsRefusedError. */
export function checkOfferedParams(params: Argon2Params): void {
  const ok =
    Number.isInteger(params.t) &&
    Number.isInteger(params.memKiB) &&
    params.t >= PASSPHRASE_ARGON2_FLOOR.t &&
    params.memKiB >= PASSPHRASE_ARGON2_FLOOR.memKiB &&
    params.t <= PASSPHRASE_ARGON2_MAX.t &&
    params.memKiB <= PASSPHRASE_ARGON2_MAX.memKiB;
  if (!ok) throw new RelayParamsRefusedError(params);
}

/**
 * Logs in with the passphrase and opens the account backup: `passphrase_salt` on a first
 * connection (closed before the derivation), `passphrase_login` and `backup_get` on a second,
 * which is returned open and logged in to the passphrase phase (the caller closes it). Throws
 * PassphraseUnsupportedError, RelayParamsRefusedError, PassphraseLoginFailedError,
 * PassphraseRateLimitedError, CryptoVerificationError (the account key does not verify),
 * BackupOpenError / BackupAccountKeyError (§18.3), CodecError (a backup that does not match its
 * announced size, or of a newer format), the relay's RemoteError, or what `connect` throws; a
 * connection it opened is closed when it throws.
 */
export async function passphraseLogIn<R extends LoginConnection>(
  opts: PassphraseLogInOptions<R>,
): Promise<{ readonly backup: OpenedAccountBackup; readonly relay: R }> {
  const { username } = opts;
  const first = await opts.connect();
  let offered;
  try {
    offered = await first.request<"passphrase_salt">({ t: "passphrase_salt", username });
  } catch (e) {
    throw relayRefusal(e, username);
  } finally {
    first.close();
  }
  const params: Argon2Params = { t: offered.t_cost, memKiB: offered.mem_kib };
  checkOfferedParams(params);
  const ctx: PassphraseContext = { relayKey: opts.relayKey, username, salt: offered.salt };
  opts.onDerive?.();
  const keys = derivePassphraseKeys(opts.passphrase, ctx, params);
  try {
    const relay = await opts.connect();
    try {
      let info;
      try {
        info = await relay.request<"passphrase_login">({
          t: "passphrase_login",
          username,
          proof: makeLoginProof(keys.login.privateKey, relay.handshakeHash, username),
        });
      } catch (e) {
        throw relayRefusal(e, username);
      }
      if (info.username !== username)
        throw new CodecError(`the relay answered a passphrase log-in as ${username} for ${info.username}`);
      const account = decodeIdentityPublic(info.identity);
      verifyIdentityPublic(account);
      const backup = await fetchBackup(relay, info.size);
      const contents = openBackup(keys.backupKey, ctx, params, account, backup);
      const material: BackupMaterial = {
        backupKey: keys.backupKey.slice(),
        salt: offered.salt.slice(),
        t: params.t,
        memKiB: params.memKiB,
        loginPublic: keys.login.publicKey.slice(),
        digest: backupStateDigest(account, contents.state),
      };
      return { backup: { username, account, ...contents, material }, relay };
    } catch (e) {
      relay.close();
      throw e;
    }
  } finally {
    wipePassphraseKeys(keys);
  }
}

/** The backup of `size` bytes, by `backup_get` from offset 0 (§18.6). Throws CodecError on a part that does not fit. */
async function fetchBackup(relay: Pick<RelayClient, "request">, size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let held = 0;
  while (held < size) {
    const part = await relay.request<"backup_get">({ t: "backup_get", offset: held });
    if (part.offset !== held || held + part.data.length > size)
      throw new CodecError("the relay's account backup does not match the size it announced");
    parts.push(part.data);
    held += part.data.length;
  }
  return concat(...parts);
}

/** A relay's refusal of passphrase_salt or passphrase_login as the sentence the user sees. */
function relayRefusal(e: unknown, username: string): unknown {
  if (e instanceof RemoteError && e.code === "AUTH_FAILED")
    return new PassphraseLoginFailedError(username, { cause: e });
  if (e instanceof RemoteError && e.code === "RATE_LIMITED")
    return new PassphraseRateLimitedError(username, e.message, { cause: e });
  return asPassphraseUnsupported(e, true);
}
