/**
 * The shape every published vector file has, and what each generator provides.
 * A vector file is JSON: `{ "suite", "description", "spec", ...inputs, ...outputs }`, bytes
 * as lowercase hex. `recompute(file)` reads only the inputs from a file and returns the whole
 * file as this implementation computes it; `smsg vectors verify` compares that, value by
 * value, with what is committed. `generate()` picks the fixed inputs (from a seeded RNG) and
 * calls `recompute`.
 */
import type { Envelope } from "../session.js";
import { parseEnvelope } from "../session.js";
import { ed25519Verify } from "../primitives.js";
import { RATCHET_RULES, type RatchetRules } from "../ratchet.js";
import { acceptDeviceList } from "../device-list-acceptance.js";
import { SENDER_KEY_RULES, type SenderKeyRules } from "../sender-keys.js";
import { backupAd } from "../account-backup.js";
import { type PassphraseContext, checkPassphraseParams } from "../passphrase-kdf.js";
import { type PassphraseStrength, passphraseStrength } from "../passphrase-strength.js";
import { passphraseLoginMessage } from "../signed-messages.js";
import type { Argon2Params } from "../primitives.js";

/**
 * The rules a recompute runs under. `smsg vectors verify` always uses THIS_IMPLEMENTATION; the
 * mutation tests (test/crypto/vector-mutants.test.ts) pass a deliberately wrong one, to show
 * that each file's cases catch an implementation that breaks the rule they pin.
 */
export interface VectorImplementation {
  /** §2: strict Ed25519 verification. */
  readonly ed25519Verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
  /** §6.7: the Double Ratchet's receiving rules. */
  readonly ratchetRules: RatchetRules;
  /** §7.5: the sender-key receiving rules. */
  readonly senderKeyRules: SenderKeyRules;
  /** §6.5: the envelope parser. */
  readonly parseEnvelope: (bytes: Uint8Array) => Envelope;
  /** §17.4: the device-list acceptance rule. */
  readonly acceptDeviceList: typeof acceptDeviceList;
  /** §18.3: the associated data of an account backup. */
  readonly backupAd: (ctx: PassphraseContext, params: Argon2Params, accountKey: Uint8Array) => Uint8Array;
  /** §18.2: whether a client accepts these Argon2id parameters for a real login. */
  readonly acceptsPassphraseParams: (params: Argon2Params) => boolean;
  /** §18.4: the bytes a passphrase login proof signs. */
  readonly passphraseLoginMessage: (handshakeHash: Uint8Array, username: string) => Uint8Array;
  /** §18.7: the passphrase strength rule. */
  readonly passphraseStrength: (passphrase: string) => PassphraseStrength;
}

function acceptsPassphraseParams(params: Argon2Params): boolean {
  try {
    checkPassphraseParams(params);
    return true;
  } catch {
    return false;
  }
}

export const THIS_IMPLEMENTATION: VectorImplementation = Object.freeze({
  ed25519Verify,
  ratchetRules: RATCHET_RULES,
  senderKeyRules: SENDER_KEY_RULES,
  parseEnvelope,
  acceptDeviceList,
  backupAd,
  acceptsPassphraseParams,
  passphraseLoginMessage,
  passphraseStrength,
});

export interface VectorSuite {
  /** File name under test/vectors/, e.g. "x3dh.json". */
  readonly file: string;
  /** Deterministic: the same bytes on every run. */
  generate(): unknown;
  /**
   * Recomputes every output from the inputs found in `file`, under `impl` (default: this
   * implementation); throws CodecError if an input is missing or malformed.
   */
  recompute(file: unknown, impl?: VectorImplementation): unknown;
}
