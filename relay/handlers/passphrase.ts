/**
 * Passphrase log-in on the relay (SECURITY.md §18.5, §18.6): the salt and parameters of a name
 * (a decoy for a name without a record), the login proof, reading the backup, and a device's
 * staging, setting and removing of its account's record. The relay never sees the passphrase:
 * it checks a signature by the login key against the stored verifier.
 */
import { concat } from "../../crypto/bytes.js";
import { ACCOUNT_BACKUP_VERSION, MAX_BACKUP_BYTES } from "../../crypto/account-backup.js";
import { verifyLoginProof } from "../../crypto/login-proof.js";
import { passphraseDecoy } from "../../crypto/passphrase-decoy.js";
import { PASSPHRASE_ARGON2, PassphraseParamsError, checkPassphraseParams } from "../../crypto/passphrase-kdf.js";
import { ed25519PublicKeyValid } from "../../crypto/primitives.js";
import { MAX_BACKUP_PIECE_BYTES, type ClientMessageOf } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import {
  passphraseRecordByName,
  refillPassphraseBucket,
  removePassphraseRecord,
  replacePassphraseRecord,
  takePassphraseAttempt,
  updatePassphraseBackup,
} from "../store/passphrase-records.js";
import { backoffWait } from "./auth.js";
import type { HandlerConnection, SessionAccount } from "./handler-connection.js";

/** The relay's answer (AUTH_FAILED) to a backup_update whose condition does not hold (§18.6). */
export const BACKUP_RECORD_CHANGED =
  "the account's passphrase record is not the one this backup_update names (changed or removed): nothing was stored";

/** The record of `username` if its account has one, else undefined (no account, or none set). */
async function recordOf(conn: HandlerConnection, username: string) {
  // Both statements run for every name (known or not, with a passphrase or not): the same work (§18.5).
  const account = await conn.ctx.store.accountByUsername(username);
  const record = await passphraseRecordByName(conn.ctx.store.db, username);
  return { account, record };
}

/**
 * passphrase_params for any name: the decoy is computed every time, then replaced by the record
 * if there is one, so neither the answer's shape nor its timing says whether the name has one.
 */
export async function handlePassphraseSalt(
  conn: HandlerConnection,
  msg: ClientMessageOf<"passphrase_salt">,
): Promise<void> {
  const { ctx } = conn;
  const { bundleRate, bundleBurst } = ctx.config.limits;
  if (!ctx.passphrase.takeSaltToken(conn.remoteAddress, bundleRate, bundleBurst, ctx.now()))
    throw new RelayError("RATE_LIMITED", `more than ${bundleRate} passphrase_salt requests per second`);
  const decoy = passphraseDecoy(ctx.passphrase.decoySecret, msg.username);
  const record = await passphraseRecordByName(ctx.store.db, msg.username);
  conn.send({
    t: "passphrase_params",
    id: msg.id,
    salt: record?.salt ?? decoy.salt,
    t_cost: record?.tCost ?? PASSPHRASE_ARGON2.t,
    mem_kib: record?.memKiB ?? PASSPHRASE_ARGON2.memKiB,
  });
}

/**
 * The proof is checked against the record's verifier, or the decoy's for a name without one:
 * either way one strict Ed25519 verification over this connection's handshake hash (§18.4).
 * An attempt is taken from the name's bucket first (empty: RATE_LIMITED, nothing verified);
 * a failure also counts against the address (§14.7). No account, no record, a disabled or
 * deleted account and a wrong proof are the same AUTH_FAILED.
 */
export async function handlePassphraseLogin(
  conn: HandlerConnection,
  msg: ClientMessageOf<"passphrase_login">,
): Promise<void> {
  const { ctx } = conn;
  const addrKey = `addr:${conn.remoteAddress}`;
  backoffWait(conn, [addrKey]);
  const decoy = passphraseDecoy(ctx.passphrase.decoySecret, msg.username);
  if (!(await takePassphraseAttempt(ctx.store.db, msg.username, new Date(ctx.now())))) {
    ctx.counters.loginFailed("rate_limited");
    throw new RelayError("RATE_LIMITED", "too many failed passphrase log-ins for this name; retry in a few hours");
  }
  const { account, record } = await recordOf(conn, msg.username);
  const proofOk = verifyLoginProof(
    record?.loginPublic ?? decoy.loginPublicKey,
    conn.handshakeHash,
    msg.username,
    msg.proof,
  );
  if (!account || !record || !proofOk || account.disabled) {
    ctx.backoff.fail(addrKey, ctx.now());
    ctx.counters.loginFailed("auth_failed");
    throw new RelayError("AUTH_FAILED", "login failed");
  }
  await refillPassphraseBucket(ctx.store.db, msg.username);
  ctx.passphrase.openSession(conn, { accountId: account.id, username: account.username, backup: record.backup });
  conn.phase = "passphrase";
  ctx.log.info({ account: account.username }, "passphrase log-in");
  conn.send({
    t: "backup_info",
    id: msg.id,
    username: account.username,
    identity: account.identity,
    size: record.backup.length,
  });
}

/** A piece of the backup read at passphrase_login, from `offset`. */
export function handleBackupGet(conn: HandlerConnection, msg: ClientMessageOf<"backup_get">): void {
  const session = conn.ctx.passphrase.session(conn);
  if (!session) throw new RelayError("NOT_AUTHENTICATED", "backup_get follows a passphrase_login on this connection");
  const { backup } = session;
  if (msg.offset >= backup.length)
    throw new RelayError("BAD_MESSAGE", `backup_get.offset: the backup has ${backup.length} bytes`);
  const data = backup.slice(msg.offset, msg.offset + MAX_BACKUP_PIECE_BYTES);
  conn.send({ t: "backup_part", id: msg.id, offset: msg.offset, data });
}

/** Stages a piece of a new backup; pieces come in order, at most MAX_BACKUP_BYTES in all. */
export function handleBackupPut(conn: HandlerConnection, msg: ClientMessageOf<"backup_put">): void {
  const pieces = conn.ctx.passphrase.staging(conn);
  const staged = pieces.reduce((n, p) => n + p.length, 0);
  if (msg.offset !== staged)
    throw new RelayError("BAD_MESSAGE", `backup_put.offset must be ${staged}, the bytes staged so far`);
  if (staged + msg.data.length > MAX_BACKUP_BYTES)
    throw new RelayError("BAD_MESSAGE", `an account backup has at most ${MAX_BACKUP_BYTES} bytes`);
  pieces.push(msg.data.slice());
  conn.send({ t: "ok", id: msg.id });
}

/**
 * The bytes staged on this connection, checked as §18.6 asks before a record takes them:
 * exactly `size` of them, beginning with the format byte. Throws BAD_MESSAGE, keeping them.
 */
function stagedBackup(conn: HandlerConnection, request: string, size: number): Uint8Array {
  const backup = concat(...conn.ctx.passphrase.staging(conn));
  if (backup.length !== size)
    throw new RelayError("BAD_MESSAGE", `${request}.size is ${size} but ${backup.length} bytes are staged`);
  if (backup[0] !== ACCOUNT_BACKUP_VERSION)
    throw new RelayError(
      "BAD_MESSAGE",
      `the staged backup must begin with its format version ${ACCOUNT_BACKUP_VERSION}`,
    );
  return backup;
}

/**
 * Replaces the account's record with the staged backup and this verifier (§18.6). Every check
 * runs before anything is stored; a refused request keeps the old record and the staged bytes.
 */
export async function handlePassphraseSet(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"passphrase_set">,
): Promise<void> {
  const { ctx } = conn;
  try {
    checkPassphraseParams({ t: msg.t_cost, memKiB: msg.mem_kib });
  } catch (e) {
    if (!(e instanceof PassphraseParamsError)) throw e;
    throw new RelayError("BAD_MESSAGE", `passphrase_set: ${e.message}`);
  }
  if (!ed25519PublicKeyValid(msg.login_public))
    throw new RelayError("BAD_MESSAGE", "passphrase_set.login_public: not a canonical Ed25519 key of large order");
  const backup = stagedBackup(conn, msg.t, msg.size);
  await replacePassphraseRecord(
    ctx.store.db,
    { id: self.id, username: self.username },
    { salt: msg.salt, tCost: msg.t_cost, memKiB: msg.mem_kib, loginPublic: msg.login_public, backup },
    new Date(ctx.now()),
  );
  ctx.passphrase.clearStaging(conn);
  ctx.log.info({ account: self.username }, "passphrase record set");
  conn.send({ t: "ok", id: msg.id });
}

/**
 * A device refreshing the backup (§18.6 "Update"): the staged backup replaces the record's, in
 * one statement and only while the stored verifier is `login_public`; salt, parameters,
 * verifier and the bucket stay. The condition keeps a device that holds an older backup_key
 * from overwriting what another device set with a new passphrase. Without a record, or with
 * another verifier: AUTH_FAILED with its own sentence (not a failed login: nothing is counted
 * against the address or the name), changing nothing; the staged bytes stay as for a refused
 * passphrase_set.
 */
export async function handleBackupUpdate(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"backup_update">,
): Promise<void> {
  const { ctx } = conn;
  const backup = stagedBackup(conn, msg.t, msg.size);
  if (!(await updatePassphraseBackup(ctx.store.db, self.id, msg.login_public, backup, new Date(ctx.now()))))
    throw new RelayError("AUTH_FAILED", BACKUP_RECORD_CHANGED);
  ctx.passphrase.clearStaging(conn);
  // Debug only: at info the log would keep when each user's local state changed (§18.6 "What the relay learns").
  ctx.log.debug({ account: self.username }, "passphrase backup updated");
  conn.send({ t: "ok", id: msg.id });
}

export async function handlePassphraseRemove(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"passphrase_remove">,
): Promise<void> {
  await removePassphraseRecord(conn.ctx.store.db, self.id);
  conn.ctx.log.info({ account: self.username }, "passphrase record removed");
  conn.send({ t: "ok", id: msg.id });
}
