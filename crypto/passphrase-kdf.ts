/**
 * The key schedule of the account passphrase (SECURITY.md §18.2): one Argon2id over the
 * passphrase, bound to the relay, the username and the salt the relay stores, then HKDF into two
 * independent keys: the account backup's AEAD key (§18.3) and the seed of the Ed25519 login key
 * whose public half is the relay's verifier (§18.4). The relay never sees the passphrase or the
 * Argon2id output; what it stores lets it test a guess only by running this whole schedule.
 */
import { concat, lengthPrefixed, utf8 } from "./bytes.js";
import { usernameBytes } from "./device-certificate.js";
import { CodecError, UsageError } from "./errors.js";
import { label } from "./labels.js";
import {
  type Argon2Params,
  type Ed25519KeyPair,
  XCHACHA_KEY_BYTES,
  argon2id,
  ed25519FromSeed,
  hkdfSha256,
  sha256,
  wipe,
} from "./primitives.js";

/** Bytes of the salt the relay stores per account (and of the Argon2id salt derived from it). */
export const PASSPHRASE_SALT_BYTES = 16;

/** Bytes of the relay's static public key (§10.1) that the schedule is bound to. */
export const RELAY_KEY_BYTES = 32;

/** The Argon2id cost of a new account passphrase (§18.2): 3 passes over 256 MiB, one lane. */
export const PASSPHRASE_ARGON2: Argon2Params = Object.freeze({ t: 3, memKiB: 256 * 1024 });

/**
 * The least cost a client accepts for a real login or a new passphrase (§18.2): a relay that
 * offers cheaper parameters is trying to make its own offline guessing cheaper, so the client
 * refuses before it derives anything. Vector files carry their own, lower parameters (§18.9).
 */
export const PASSPHRASE_ARGON2_FLOOR: Argon2Params = PASSPHRASE_ARGON2;

/** The largest cost a client accepts from the relay (§18.2), so a relay cannot make login allocate without bound. */
export const PASSPHRASE_ARGON2_MAX: Argon2Params = Object.freeze({ t: 16, memKiB: 1024 * 1024 });

/**
 * The lowest parameters libsodium computes (1 pass, 8 KiB): the floor under which vector files
 * and unit tests derive (§18.9). Never the floor of a real login.
 */
export const VECTOR_ARGON2_FLOOR: Argon2Params = Object.freeze({ t: 1, memKiB: 8 });

/** Longest passphrase, in UTF-8 bytes after NFC (§18.7). */
export const MAX_PASSPHRASE_BYTES = 1024;

/** Parameters out of the accepted range (below the floor or above the maximum). */
export class PassphraseParamsError extends CodecError {
  constructor(message: string) {
    super(message);
  }
}

/** What the schedule is bound to besides the passphrase: where and whose it is, and its stored salt. */
export interface PassphraseContext {
  /** The relay's static X25519 public key (§10.1), as pinned from the invite. */
  readonly relayKey: Uint8Array;
  /** The account's username, lowercase (§14.5). */
  readonly username: string;
  /** The 16 random bytes the relay stores with the account (§18.1). */
  readonly salt: Uint8Array;
}

/** Every value of the schedule. The caller wipes `master`, `backupKey`, `loginSeed` and `login.privateKey`. */
export interface PassphraseKeys {
  readonly argon2Salt: Uint8Array;
  readonly master: Uint8Array;
  readonly backupKey: Uint8Array;
  readonly loginSeed: Uint8Array;
  readonly login: Ed25519KeyPair;
}

/** True when `params` are at least `floor` in both passes and memory. */
export function meetsArgon2Floor(params: Argon2Params, floor: Argon2Params = PASSPHRASE_ARGON2_FLOOR): boolean {
  return params.t >= floor.t && params.memKiB >= floor.memKiB;
}

/**
 * Checks Argon2id parameters (from the relay, or chosen for a new passphrase): integers, at
 * least `floor`, at most PASSPHRASE_ARGON2_MAX. Throws PassphraseParamsError otherwise.
 */
export function checkPassphraseParams(params: Argon2Params, floor: Argon2Params = PASSPHRASE_ARGON2_FLOOR): void {
  const { t, memKiB } = params;
  if (!Number.isInteger(t) || !Number.isInteger(memKiB))
    throw new PassphraseParamsError("Argon2id parameters must be integers");
  if (!meetsArgon2Floor(params, floor))
    throw new PassphraseParamsError(
      `Argon2id parameters t=${t}, memKiB=${memKiB} are below the floor t=${floor.t}, memKiB=${floor.memKiB}`,
    );
  if (t > PASSPHRASE_ARGON2_MAX.t || memKiB > PASSPHRASE_ARGON2_MAX.memKiB)
    throw new PassphraseParamsError(
      `Argon2id parameters t=${t}, memKiB=${memKiB} exceed the maximum t=${PASSPHRASE_ARGON2_MAX.t}, ` +
        `memKiB=${PASSPHRASE_ARGON2_MAX.memKiB}`,
    );
}

/**
 * The bytes Argon2id hashes (§18.2): the UTF-8 of the passphrase in Unicode NFC, as for the
 * profile passphrase (§16.1). Throws UsageError when empty or longer than MAX_PASSPHRASE_BYTES.
 */
export function accountPassphraseBytes(passphrase: string): Uint8Array {
  const bytes = utf8(passphrase.normalize("NFC"));
  if (bytes.length === 0) throw new UsageError("a passphrase cannot be empty");
  if (bytes.length > MAX_PASSPHRASE_BYTES)
    throw new UsageError(`a passphrase can be at most ${MAX_PASSPHRASE_BYTES} bytes of UTF-8`);
  return bytes;
}

function checkContext(ctx: PassphraseContext): void {
  if (ctx.relayKey.length !== RELAY_KEY_BYTES) throw new UsageError(`the relay key must be ${RELAY_KEY_BYTES} bytes`);
  if (ctx.salt.length !== PASSPHRASE_SALT_BYTES)
    throw new UsageError(`the passphrase salt must be ${PASSPHRASE_SALT_BYTES} bytes`);
  usernameBytes(ctx.username); // canonical (§14.5), checked by crypto/'s own copy of the rule
}

/**
 * The Argon2id salt (§18.2): the first 16 bytes of
 * SHA-256(L("SMSG-v1 passphrase salt") || relay_key || lp(utf8(username)) || salt), so no two
 * accounts or relays ever share an Argon2id computation, whatever salt a relay hands out.
 */
export function passphraseArgon2Salt(ctx: PassphraseContext): Uint8Array {
  checkContext(ctx);
  return sha256(concat(label("passphraseSalt"), ctx.relayKey, lengthPrefixed(utf8(ctx.username)), ctx.salt)).slice(
    0,
    PASSPHRASE_SALT_BYTES,
  );
}

/**
 * The two keys and the login key pair of a 32-byte Argon2id output (§18.2):
 * backup_key = HKDF(master, empty, L("SMSG-v1 passphrase backup key"), 32),
 * login_seed = HKDF(master, empty, L("SMSG-v1 passphrase login key"), 32), login = Ed25519(login_seed).
 */
export function keysFromMaster(master: Uint8Array): Omit<PassphraseKeys, "argon2Salt" | "master"> {
  if (master.length !== XCHACHA_KEY_BYTES) throw new UsageError("the passphrase master key must be 32 bytes");
  const empty = new Uint8Array(0);
  const backupKey = hkdfSha256(master, empty, label("passphraseBackupKey"), XCHACHA_KEY_BYTES);
  const loginSeed = hkdfSha256(master, empty, label("passphraseLoginKey"), 32);
  return { backupKey, loginSeed, login: ed25519FromSeed(loginSeed) };
}

/**
 * The whole schedule (§18.2) for `passphrase` under `ctx` and `params`, after checking the
 * parameters against `floor` (PASSPHRASE_ARGON2_FLOOR unless a vector or a unit test passes
 * VECTOR_ARGON2_FLOOR: §18.9). Throws PassphraseParamsError before any work when they are out of
 * range, UsageError for an empty or too long passphrase or a malformed context.
 */
export function derivePassphraseKeys(
  passphrase: string,
  ctx: PassphraseContext,
  params: Argon2Params,
  floor: Argon2Params = PASSPHRASE_ARGON2_FLOOR,
): PassphraseKeys {
  checkPassphraseParams(params, floor);
  const argon2Salt = passphraseArgon2Salt(ctx);
  const pw = accountPassphraseBytes(passphrase);
  let master: Uint8Array;
  try {
    master = argon2id(pw, argon2Salt, params, XCHACHA_KEY_BYTES);
  } finally {
    wipe(pw);
  }
  return { argon2Salt, master, ...keysFromMaster(master) };
}

/** Wipes the secrets of a schedule once the caller is done with them. */
export function wipePassphraseKeys(keys: PassphraseKeys): void {
  wipe(keys.master, keys.backupKey, keys.loginSeed, keys.login.privateKey);
}
