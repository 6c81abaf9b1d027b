/**
 * Safety numbers (SECURITY.md §9): a 60-digit, human-comparable fingerprint of two parties'
 * identity keys, after Signal's "numeric fingerprint" (iterated SHA-512, 5-digit chunks).
 * Two users read or scan each other's number; if both see the same 60 digits, neither
 * identity key was substituted in between.
 *
 * Per party:  h = SHA-512(u16be(1) || "SMSG-v1 safety number" || u32be(64) || key || u32be(len id) || id),
 *             then 5199 times h = SHA-512(h || key) (5200 hashes in all);
 *             the first 30 bytes of h, as six 5-byte big-endian integers, each mod 100000,
 *             written as 5 decimal digits → 30 digits.
 * Pair:       the two 30-digit strings, the smaller (lexicographically) first → 60 digits.
 */
import { concat, u16be, u32be, utf8 } from "./bytes.js";
import { UsageError } from "./errors.js";
import { label } from "./labels.js";
import { sha512 } from "./primitives.js";

/** The version field hashed first into every fingerprint. */
export const SAFETY_NUMBER_VERSION = 1;
/** Total number of SHA-512 applications per fingerprint. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** An identity key as hashed here: Ed25519 public key 32 || X25519 public key 32 (§4.1). */
export const SAFETY_NUMBER_KEY_BYTES = 64;
/** Longest identifier accepted, in UTF-8 bytes. */
export const SAFETY_NUMBER_MAX_ID_BYTES = 1024;
/** Digits in one party's fingerprint. */
export const FINGERPRINT_DIGITS = 30;
/** Digits in a safety number (two fingerprints). */
export const SAFETY_NUMBER_DIGITS = 60;

/**
 * One party of a safety number: a stable identifier (the username; the caller lowercases it,
 * this module hashes the string's UTF-8 bytes as given) and the 64-byte identity key.
 */
export interface SafetyNumberParty {
  readonly id: string;
  readonly identityKey: Uint8Array;
}

function idBytes(id: string): Uint8Array {
  if (typeof id !== "string" || id.length === 0) throw new UsageError("safety number id must be a non-empty string");
  const bytes = utf8(id);
  // A lone surrogate would be replaced by U+FFFD, so two different strings could hash alike.
  if (new TextDecoder().decode(bytes) !== id) throw new UsageError("safety number id is not well-formed Unicode");
  if (bytes.length > SAFETY_NUMBER_MAX_ID_BYTES)
    throw new UsageError(`safety number id longer than ${SAFETY_NUMBER_MAX_ID_BYTES} bytes`);
  return bytes;
}

function keyBytes(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== SAFETY_NUMBER_KEY_BYTES) {
    throw new UsageError(`identity key must be ${SAFETY_NUMBER_KEY_BYTES} bytes`);
  }
  return key;
}

/**
 * The input of the first hash of a fingerprint (SECURITY.md §9):
 * u16be(1) || "SMSG-v1 safety number" || u32be(64) || identityKey || u32be(len(id)) || utf8(id).
 * Throws UsageError for a key that is not 64 bytes or an id that is empty, not well-formed
 * Unicode (lone surrogates) or longer than 1024 UTF-8 bytes.
 */
export function fingerprintHashInput(party: SafetyNumberParty): Uint8Array {
  const key = keyBytes(party.identityKey);
  const id = idBytes(party.id);
  return concat(u16be(SAFETY_NUMBER_VERSION), label("safetyNumber"), u32be(key.length), key, u32be(id.length), id);
}

/**
 * The final 64-byte hash of a fingerprint (SECURITY.md §9): SHA-512 of the first input, then
 * 5199 more times h = SHA-512(h || identityKey). Throws as `fingerprintHashInput`.
 */
export function fingerprintHash(party: SafetyNumberParty): Uint8Array {
  const key = party.identityKey;
  let h = sha512(fingerprintHashInput(party));
  for (let i = 1; i < SAFETY_NUMBER_ITERATIONS; i++) h = sha512(concat(h, key));
  return h;
}

/**
 * The 30 digits of a fingerprint hash (SECURITY.md §9): bytes 0..29 as six 5-byte big-endian
 * integers, each reduced mod 100000 and written as 5 zero-padded decimal digits.
 * Throws UsageError if `hash` is shorter than 30 bytes.
 */
export function fingerprintDigits(hash: Uint8Array): string {
  if (!(hash instanceof Uint8Array) || hash.length < 30)
    throw new UsageError("fingerprint hash must be at least 30 bytes");
  let out = "";
  for (let chunk = 0; chunk < 6; chunk++) {
    let v = 0;
    // 40-bit integers stay exact in a double (< 2^53).
    for (let j = 0; j < 5; j++) v = v * 256 + hash[chunk * 5 + j]!;
    out += String(v % 100000).padStart(5, "0");
  }
  return out;
}

/** One party's 30-digit fingerprint (SECURITY.md §9): fingerprintDigits(fingerprintHash(party)). Throws as `fingerprintHashInput`. */
export function fingerprint(party: SafetyNumberParty): string {
  return fingerprintDigits(fingerprintHash(party));
}

/**
 * Combines two 30-digit fingerprints into a safety number (SECURITY.md §9): the
 * lexicographically smaller first. Throws UsageError unless both are 30 ASCII digits.
 */
export function combineFingerprints(fa: string, fb: string): string {
  for (const f of [fa, fb]) {
    if (typeof f !== "string" || !/^[0-9]{30}$/.test(f)) throw new UsageError("a fingerprint is 30 digits");
  }
  return fa <= fb ? fa + fb : fb + fa;
}

/**
 * The 60-digit safety number of two parties (SECURITY.md §9): both fingerprints, the
 * lexicographically smaller first, so both sides compute the same string: safetyNumber(a, b)
 * === safetyNumber(b, a). Throws as `fingerprintHashInput`.
 */
export function safetyNumber(a: SafetyNumberParty, b: SafetyNumberParty): string {
  return combineFingerprints(fingerprint(a), fingerprint(b));
}

/**
 * Formats a 60-digit safety number for display (SECURITY.md §9): 12 groups of 5 digits, 4
 * groups per line separated by one space, 3 lines separated by "\n" (no trailing newline).
 * Throws UsageError unless `s` is exactly 60 ASCII digits.
 */
export function formatSafetyNumber(s: string): string {
  if (typeof s !== "string" || !/^[0-9]{60}$/.test(s)) throw new UsageError("a safety number is 60 digits");
  const groups = s.match(/[0-9]{5}/g)!;
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += 4) lines.push(groups.slice(i, i + 4).join(" "));
  return lines.join("\n");
}
