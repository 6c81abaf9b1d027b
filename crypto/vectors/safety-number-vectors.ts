/**
 * test/vectors/safety-number.json: safety numbers (SECURITY.md §9).
 *
 * Inputs: per case `a_id`, `a_identity_key`, `b_id`, `b_identity_key` (ids as strings, keys as
 * 64 bytes hex). Outputs: per party (prefix a_ or b_) `first_hash_input` (the bytes hashed
 * first), `fingerprint_hash` (the SHA-512 after 5200 applications) and `fingerprint` (30
 * digits); per case `safety_number` (60 digits) and `formatted` (its display form).
 */
import { concat, toHex, utf8 } from "../bytes.js";
import { CodecError, UsageError } from "../errors.js";
import { ed25519KeyPair, x25519KeyPair } from "../primitives.js";
import { seededRng } from "../rng.js";
import {
  SAFETY_NUMBER_KEY_BYTES,
  combineFingerprints,
  fingerprintDigits,
  fingerprintHash,
  fingerprintHashInput,
  formatSafetyNumber,
} from "../safety-number.js";
import { Inputs } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

const FILE = "safety-number.json";

const DESCRIPTION =
  'Safety numbers. Per party: h = SHA-512(first_hash_input), first_hash_input = u16be(1) || "SMSG-v1 safety number" || ' +
  "u32be(64) || identity_key || u32be(len id) || utf8(id); then 5199 times h = SHA-512(h || identity_key) (fingerprint_hash); " +
  "the first 30 bytes as six 40-bit big-endian integers, each mod 100000 as 5 digits, give the 30-digit fingerprint. " +
  "The safety number is both fingerprints, the smaller first; formatted is 12 groups of 5 digits, 4 groups per line.";

/** One party's outputs, fields prefixed with "a_" or "b_". */
function party(c: Inputs, side: "a" | "b"): { out: Record<string, unknown>; fingerprint: string } {
  const id = c.string(`${side}_id`);
  const identityKey = c.hex(`${side}_identity_key`, SAFETY_NUMBER_KEY_BYTES);
  try {
    const hash = fingerprintHash({ id, identityKey });
    const fingerprint = fingerprintDigits(hash);
    return {
      out: {
        [`${side}_first_hash_input`]: toHex(fingerprintHashInput({ id, identityKey })),
        [`${side}_fingerprint_hash`]: toHex(hash),
        [`${side}_fingerprint`]: fingerprint,
      },
      fingerprint,
    };
  } catch (e) {
    // An id the scheme refuses (empty, ill-formed, too long) is a malformed input.
    if (e instanceof UsageError) throw new CodecError(`${FILE}: ${side}_id: ${e.message}`);
    throw e;
  }
}

function computeCase(c: Inputs): Record<string, unknown> {
  const a = party(c, "a");
  const b = party(c, "b");
  // safetyNumber(a, b), without hashing each party a second time.
  const sn = combineFingerprints(a.fingerprint, b.fingerprint);
  return {
    a_id: c.string("a_id"),
    a_identity_key: toHex(c.hex("a_identity_key")),
    b_id: c.string("b_id"),
    b_identity_key: toHex(c.hex("b_identity_key")),
    ...a.out,
    ...b.out,
    safety_number: sn,
    formatted: formatSafetyNumber(sn),
  };
}

/** The safety-number vector suite (SECURITY.md §9). */
export const safetyNumberVectors: VectorSuite = {
  file: FILE,

  /** Recomputes safety-number.json from its inputs. Throws CodecError naming a missing or malformed input. */
  recompute(file: unknown) {
    const f = new Inputs(file, FILE);
    return {
      suite: "safety-number",
      description: DESCRIPTION,
      spec: "SECURITY.md §9 (safety numbers)",
      cases: f.list("cases").map(computeCase),
    };
  },

  /** The fixed inputs: identity keys (Ed25519 public || X25519 public) from seededRng("SMSG-v1 vectors safety number"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors safety number"));
    const key = () => toHex(concat(ed25519KeyPair(rng).publicKey, x25519KeyPair(rng).publicKey));
    const alice = key();
    const bob = key();
    const zoe = key();
    const bjorn = key();
    const shared = key();
    return this.recompute({
      cases: [
        { a_id: "alice", a_identity_key: alice, b_id: "bob", b_identity_key: bob },
        { a_id: "zo\u00eb", a_identity_key: zoe, b_id: "bj\u00f6rn", b_identity_key: bjorn },
        // The same key under two ids: the id alone changes the fingerprint.
        { a_id: "carol", a_identity_key: shared, b_id: "dave", b_identity_key: shared },
      ],
    });
  },
};
