/**
 * Passphrases as bytes. A passphrase protects the local keystore and export files through
 * Argon2id and never leaves the machine (SECURITY.md §1 "A stolen or seized device", §16.1).
 */
import { utf8 } from "../../crypto/bytes.js";
import { type Argon2Params, XCHACHA_KEY_BYTES, argon2id, wipe } from "../../crypto/primitives.js";
import { UsageError } from "../../src/errors.js";

/** The environment variable scripts use to give the passphrase without a prompt. */
export const PASSPHRASE_ENV = "SMSG_PASSPHRASE";

/**
 * The bytes Argon2id hashes: the UTF-8 of the passphrase in Unicode NFC, so the same
 * passphrase typed on systems that compose accents differently gives the same key.
 * Throws UsageError for an empty passphrase (use "no passphrase" instead).
 */
export function passphraseBytes(passphrase: string): Uint8Array {
  if (passphrase.length === 0) throw new UsageError("a passphrase cannot be empty");
  return utf8(passphrase.normalize("NFC"));
}

/** SMSG_PASSPHRASE from `env`, or undefined when it is unset or empty. */
export function envPassphrase(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const p = env[PASSPHRASE_ENV];
  return p === undefined || p === "" ? undefined : p;
}

/**
 * The 32-byte key a passphrase gives under `salt` (16 bytes) and `params`:
 * Argon2id(passphraseBytes(passphrase), salt, t, memKiB, 32) (RFC 9106, one lane, v0x13).
 * Used by key.json (keystore.ts) and export files (export.ts). The caller wipes it.
 */
export function passphraseKey(passphrase: string, salt: Uint8Array, params: Argon2Params): Uint8Array {
  const pw = passphraseBytes(passphrase);
  try {
    return argon2id(pw, salt, params, XCHACHA_KEY_BYTES);
  } finally {
    wipe(pw);
  }
}
