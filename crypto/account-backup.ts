/**
 * The account backup the relay stores for passphrase log-in (SECURITY.md §18.3): what a new
 * device needs (the account signing key of §17 Devices and the sealed account state), encrypted
 * with XChaCha20-Poly1305 under the passphrase's backup key, with associated data that binds it
 * to the relay, the account, its salt and Argon2id parameters and the format version. Opening
 * returns everything or throws: a wrong passphrase and a changed byte look the same.
 */
import { Reader, bytesEqual, concat, lengthPrefixed, u32be, utf8 } from "./bytes.js";
import { MAX_ACCOUNT_STATE_BYTES } from "./device-link.js";
import { CodecError, CryptoVerificationError, UsageError } from "./errors.js";
import { IDENTITY_KEY_BYTES, type IdentityPublic, identityKey } from "./identity.js";
import { label } from "./labels.js";
import {
  PASSPHRASE_ARGON2_FLOOR,
  type PassphraseContext,
  derivePassphraseKeys,
  passphraseArgon2Salt,
  wipePassphraseKeys,
} from "./passphrase-kdf.js";
import {
  AEAD_TAG_BYTES,
  type Argon2Params,
  ED25519_SEED_BYTES,
  XCHACHA_KEY_BYTES,
  XCHACHA_NONCE_BYTES,
  ed25519FromSeed,
  xchachaDecrypt,
  xchachaEncrypt,
} from "./primitives.js";
import type { Rng } from "./rng.js";

/** The backup format version: the first byte of a backup and a byte of its associated data. */
export const ACCOUNT_BACKUP_VERSION = 1;

/** Most bytes of the account state a backup carries: the one limit of the snapshot (§17.6.1). */
export const MAX_BACKUP_STATE_BYTES = MAX_ACCOUNT_STATE_BYTES;

/** Bytes of a backup around its state: version, nonce, account signing seed, tag. */
export const BACKUP_OVERHEAD_BYTES = 1 + XCHACHA_NONCE_BYTES + ED25519_SEED_BYTES + AEAD_TAG_BYTES;

/** Most bytes of a whole backup. */
export const MAX_BACKUP_BYTES = MAX_BACKUP_STATE_BYTES + BACKUP_OVERHEAD_BYTES;

/**
 * The backup does not open: wrong passphrase, or the backup (or what it is bound to) was
 * changed. The AEAD cannot tell these apart, so neither does the message; nothing was opened.
 */
export class BackupOpenError extends CryptoVerificationError {
  constructor() {
    super("the account backup does not open: wrong passphrase, or the relay's copy was changed");
  }
}

/**
 * The backup opened, but the signing seed inside is not the account key's (§18.3): the backup was
 * sealed for another account key. Nothing of it is returned.
 */
export class BackupAccountKeyError extends CryptoVerificationError {
  constructor() {
    super("the account backup holds a signing key that is not the account's: it was sealed for another account key");
  }
}

/** What a backup holds. */
export interface BackupContents {
  /** The Ed25519 seed of the account identity key (§17 Devices). */
  readonly accountSigningSeed: Uint8Array;
  /** The account state a new device starts from (§17 Devices); opaque here. */
  readonly state: Uint8Array;
}

/**
 * The associated data (§18.3): L("SMSG-v1 account backup") || u8(version) || relay_key ||
 * lp(utf8(username)) || account identity_key (64) || salt || u32be(t) || u32be(memKiB). The
 * account key binds a backup to one account key, so a backup from before a key change does not
 * open against the current key.
 */
export function backupAd(ctx: PassphraseContext, params: Argon2Params, accountKey: Uint8Array): Uint8Array {
  passphraseArgon2Salt(ctx); // checks the context's lengths
  if (accountKey.length !== IDENTITY_KEY_BYTES)
    throw new UsageError(`the account identity key must be ${IDENTITY_KEY_BYTES} bytes`);
  return concat(
    label("accountBackup"),
    new Uint8Array([ACCOUNT_BACKUP_VERSION]),
    ctx.relayKey,
    lengthPrefixed(utf8(ctx.username)),
    accountKey,
    ctx.salt,
    u32be(params.t),
    u32be(params.memKiB),
  );
}

/** The plaintext (§18.3): account_signing_seed (32) || state. */
export function encodeBackupContents(contents: BackupContents): Uint8Array {
  if (contents.accountSigningSeed.length !== ED25519_SEED_BYTES)
    throw new UsageError(`the account signing seed must be ${ED25519_SEED_BYTES} bytes`);
  if (contents.state.length > MAX_BACKUP_STATE_BYTES)
    throw new UsageError(`the account state must be at most ${MAX_BACKUP_STATE_BYTES} bytes`);
  return concat(contents.accountSigningSeed, contents.state);
}

/**
 * Seals `contents` under `backupKey` (§18.3): u8(1) || nonce || AEAD(backup_key, nonce,
 * plaintext, ad). Draws the 24-byte nonce from `rng`: every write uses a fresh one. Throws
 * UsageError when the seed is not `account`'s signing key.
 */
export function sealBackup(
  backupKey: Uint8Array,
  ctx: PassphraseContext,
  params: Argon2Params,
  account: IdentityPublic,
  contents: BackupContents,
  rng: Rng,
): Uint8Array {
  if (
    contents.accountSigningSeed.length !== ED25519_SEED_BYTES ||
    !bytesEqual(ed25519FromSeed(contents.accountSigningSeed).publicKey, account.signingKey)
  )
    throw new UsageError("the account signing seed is not the account key's");
  return sealBackupUnderAd(backupKey, backupAd(ctx, params, identityKey(account)), contents, rng);
}

/** sealBackup with the associated data given: the vector suite passes a wrong one in its mutation tests. */
export function sealBackupUnderAd(
  backupKey: Uint8Array,
  ad: Uint8Array,
  contents: BackupContents,
  rng: Rng,
): Uint8Array {
  if (backupKey.length !== XCHACHA_KEY_BYTES) throw new UsageError("the backup key must be 32 bytes");
  const plaintext = encodeBackupContents(contents);
  const nonce = rng(XCHACHA_NONCE_BYTES);
  return concat(new Uint8Array([ACCOUNT_BACKUP_VERSION]), nonce, xchachaEncrypt(backupKey, nonce, plaintext, ad));
}

/**
 * Opens a backup of the account whose IdentityPublic is `account` (verified by the caller, §4.1;
 * §18.6 says where it comes from). Throws CodecError "not supported by this version" when its
 * first byte is not 1 (a newer format), BackupOpenError for anything else that does not
 * authenticate or does not hold at least the 32-byte seed: too short, too long, a changed byte,
 * a wrong key or context or account key; BackupAccountKeyError when it opens but its seed's
 * Ed25519 key is not the account's. Returns nothing partial: either both fields or an error.
 */
export function openBackup(
  backupKey: Uint8Array,
  ctx: PassphraseContext,
  params: Argon2Params,
  account: IdentityPublic,
  backup: Uint8Array,
): BackupContents {
  return openBackupUnderAd(backupKey, backupAd(ctx, params, identityKey(account)), account.signingKey, backup);
}

/**
 * openBackup with the associated data given (the vector suite passes a wrong one in its mutation
 * tests); `accountSigningKey` is the account's Ed25519 public key the seed must give.
 */
export function openBackupUnderAd(
  backupKey: Uint8Array,
  ad: Uint8Array,
  accountSigningKey: Uint8Array,
  backup: Uint8Array,
): BackupContents {
  if (backupKey.length !== XCHACHA_KEY_BYTES) throw new UsageError("the backup key must be 32 bytes");
  if (backup.length === 0) throw new BackupOpenError();
  if (backup[0] !== ACCOUNT_BACKUP_VERSION)
    throw new CodecError(`account backup format ${backup[0]} is not supported by this version`);
  if (backup.length < BACKUP_OVERHEAD_BYTES || backup.length > MAX_BACKUP_BYTES) throw new BackupOpenError();
  const r = new Reader(backup, "account backup");
  r.u8();
  const nonce = r.bytes(XCHACHA_NONCE_BYTES);
  let plaintext: Uint8Array;
  try {
    plaintext = xchachaDecrypt(backupKey, nonce, r.rest(), ad);
  } catch (err) {
    if (err instanceof CryptoVerificationError) throw new BackupOpenError();
    throw err;
  }
  const accountSigningSeed = plaintext.slice(0, ED25519_SEED_BYTES);
  if (!bytesEqual(ed25519FromSeed(accountSigningSeed).publicKey, accountSigningKey)) {
    plaintext.fill(0);
    accountSigningSeed.fill(0);
    throw new BackupAccountKeyError();
  }
  return { accountSigningSeed, state: plaintext.slice(ED25519_SEED_BYTES) };
}

/**
 * What a new device does with the backup it fetched after logging in (§18.6): derives the
 * backup key from `passphrase` (after checking `params` against `floor`, §18.2) and opens the
 * backup. Throws as derivePassphraseKeys and openBackup do; wipes the derived keys either way.
 */
export function openBackupWithPassphrase(
  passphrase: string,
  ctx: PassphraseContext,
  params: Argon2Params,
  account: IdentityPublic,
  backup: Uint8Array,
  floor: Argon2Params = PASSPHRASE_ARGON2_FLOOR,
): BackupContents {
  const keys = derivePassphraseKeys(passphrase, ctx, params, floor);
  try {
    return openBackup(keys.backupKey, ctx, params, account, backup);
  } finally {
    wipePassphraseKeys(keys);
  }
}
