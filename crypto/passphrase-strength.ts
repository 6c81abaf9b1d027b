/**
 * The strength rule for an account passphrase (SECURITY.md §18.7). Whoever copies the relay's
 * database can guess the passphrase offline at the cost of one Argon2id per guess (§1), so a
 * client refuses a passphrase whose estimate is under 64 bits. The estimate is deliberately
 * conservative and exactly reproducible (integers only, no dictionary): it credits a letter with
 * 2 bits, the rate of words in a phrase, so a phrase of words, which it cannot recognise, must be
 * long; repeated, sequential and recurring characters earn nothing.
 */
import { utf8 } from "./bytes.js";
import { UsageError } from "./errors.js";
import { MAX_PASSPHRASE_BYTES } from "./passphrase-kdf.js";

/** The least estimate accepted, in quarter bits (64 bits). */
export const MIN_PASSPHRASE_QUARTER_BITS = 256;

/** Why a passphrase is refused. */
export type PassphraseRefusal = "empty" | "too-long" | "control-character" | "too-weak";

/** The verdict of the rule. `quarterBits` is the estimate (0 when refused before estimating). */
export interface PassphraseStrength {
  readonly accepted: boolean;
  readonly quarterBits: number;
  readonly refusal?: PassphraseRefusal;
}

/** The credit of one unpredictable code point, in quarter bits (§18.7's table). */
function credit(c: number): number {
  if (c >= 0x61 && c <= 0x7a) return 8; // a-z: 2 bits, what a letter of a word is worth
  if (c >= 0x41 && c <= 0x5a) return 10; // A-Z: 2.5 bits
  if (c >= 0x30 && c <= 0x39) return 12; // 0-9: 3 bits
  if (c === 0x20) return 4; // space: 1 bit, it mostly separates words
  if (c >= 0x21 && c <= 0x7e) return 16; // other printable ASCII: 4 bits
  return 8; // anything else: a letter of another script
}

/** C0 controls, DEL and C1 controls: not typeable the same way everywhere. */
function isControl(c: number): boolean {
  return c <= 0x1f || (c >= 0x7f && c <= 0x9f);
}

/**
 * The rule (§18.7), a pure function of the passphrase. With c_1..c_n the code points of its NFC
 * form: c_i earns nothing when |c_i − c_(i−1)| ≤ 1 (repeats, runs like "abc" or "321") or when the
 * three code points ending at it already ended at an earlier position (a repeated stretch);
 * otherwise it earns credit(c_i). Accepted when the sum is at least 256 quarter bits.
 */
export function passphraseStrength(passphrase: string): PassphraseStrength {
  const nfc = passphrase.normalize("NFC");
  if (nfc.length === 0) return { accepted: false, quarterBits: 0, refusal: "empty" };
  if (utf8(nfc).length > MAX_PASSPHRASE_BYTES) return { accepted: false, quarterBits: 0, refusal: "too-long" };
  const cps = Array.from(nfc, (ch) => ch.codePointAt(0)!);
  if (cps.some(isControl)) return { accepted: false, quarterBits: 0, refusal: "control-character" };
  const seenTriples = new Set<string>();
  let quarterBits = 0;
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    let predictable = i > 0 && Math.abs(c - cps[i - 1]!) <= 1;
    if (i >= 2) {
      const triple = `${cps[i - 2]},${cps[i - 1]},${c}`;
      if (seenTriples.has(triple)) predictable = true;
      seenTriples.add(triple);
    }
    if (!predictable) quarterBits += credit(c);
  }
  return quarterBits >= MIN_PASSPHRASE_QUARTER_BITS
    ? { accepted: true, quarterBits }
    : { accepted: false, quarterBits, refusal: "too-weak" };
}

const REFUSAL_TEXT: Readonly<Record<PassphraseRefusal, string>> = {
  empty: "a passphrase cannot be empty",
  "too-long": `a passphrase can be at most ${MAX_PASSPHRASE_BYTES} bytes of UTF-8`,
  "control-character": "a passphrase cannot contain control characters",
  "too-weak":
    "this passphrase is too easy to guess for an account passphrase (the relay's operator could try guesses " +
    "offline): use at least 7 random words, or 20 random characters mixing letters, digits and symbols",
};

/** A passphrase refused by the rule (§18.7); the message says why in one sentence. */
export class WeakPassphraseError extends UsageError {
  readonly refusal: PassphraseRefusal;
  constructor(refusal: PassphraseRefusal) {
    super(REFUSAL_TEXT[refusal]);
    this.refusal = refusal;
  }
}

/** Throws WeakPassphraseError unless the rule accepts `passphrase`; set and change call it, login does not. */
export function requireStrongPassphrase(passphrase: string): void {
  const verdict = passphraseStrength(passphrase);
  if (!verdict.accepted) throw new WeakPassphraseError(verdict.refusal ?? "too-weak");
}
