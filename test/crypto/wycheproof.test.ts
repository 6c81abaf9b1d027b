/**
 * Runs every Wycheproof file in test/vectors/third-party/wycheproof/ (C2SP/wycheproof, testvectors_v1,
 * unchanged; see the README there) against crypto/primitives.ts, read in place.
 *
 * Rules (from that README):
 * - "valid": the primitive must accept the input and produce exactly the expected output;
 * - "invalid": it must reject it (throw, verify false, fail decryption, tag mismatch);
 * - "acceptable": either, but an accepted case must produce the expected output. Only X25519
 *   has acceptable cases; with the ZeroSharedSecret flag our wrapper refuses them (the all-zero
 *   result, RFC 7748 §6.1), which counts as a pass. Every other acceptable X25519 case (twist
 *   points, non-canonical public keys) must be computed and match.
 *
 * One test per file: it loops over all cases, collects every failure with its tcId and
 * comment, and checks the number of cases run against the file's own numberOfTests.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { bytesEqual, concat, fromHex, toHex } from "../../crypto/bytes.js";
import { CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import {
  CHACHA_NONCE_BYTES,
  chachaDecrypt,
  chachaEncrypt,
  ctEqual,
  ed25519Verify,
  hkdfSha256,
  hmacSha256,
  x25519,
  XCHACHA_NONCE_BYTES,
  xchachaDecrypt,
  xchachaEncrypt,
} from "../../crypto/primitives.js";

// ---------------------------------------------------------------------------------------------
// The files and their shape (only the fields we read)

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const VECTORS_DIR = path.resolve(repoRoot, "test/vectors/third-party/wycheproof");

type Result = "valid" | "invalid" | "acceptable";

interface TestCase {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly result: Result;
}

interface TestFile<G> {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly G[];
}

interface XdhCase extends TestCase {
  readonly public: string;
  readonly private: string;
  readonly shared: string;
}
interface XdhGroup {
  readonly curve: string;
  readonly tests: readonly XdhCase[];
}

interface EddsaCase extends TestCase {
  readonly msg: string;
  readonly sig: string;
}
interface EddsaGroup {
  readonly publicKey: { readonly pk: string };
  readonly tests: readonly EddsaCase[];
}

interface AeadCase extends TestCase {
  readonly key: string;
  readonly iv: string;
  readonly aad: string;
  readonly msg: string;
  readonly ct: string;
  readonly tag: string;
}
interface AeadGroup {
  readonly ivSize: number;
  readonly tagSize: number;
  readonly tests: readonly AeadCase[];
}

interface HkdfCase extends TestCase {
  readonly ikm: string;
  readonly salt: string;
  readonly info: string;
  readonly size: number;
  readonly okm: string;
}
interface HkdfGroup {
  readonly tests: readonly HkdfCase[];
}

interface MacCase extends TestCase {
  readonly key: string;
  readonly msg: string;
  readonly tag: string;
}
interface MacGroup {
  readonly tagSize: number;
  readonly tests: readonly MacCase[];
}

function load<G>(file: string): TestFile<G> {
  return JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, file), "utf8")) as TestFile<G>;
}

// ---------------------------------------------------------------------------------------------
// The runner

/** What the primitive did with a case: accepted it (with the right output) or rejected it. */
type Verdict = "accepted" | "rejected";

/** The primitive accepted the input but produced something other than the expected output,
 * or failed in a way the contract does not allow (a wrong error type). Always a failure. */
class Mismatch extends Error {}

/** Runs `fn`; an error of one of `kinds` is a rejection, anything else propagates. */
function rejects(fn: () => void, ...kinds: (abstract new (...args: never[]) => Error)[]): Verdict {
  try {
    fn();
    return "accepted";
  } catch (e) {
    if (kinds.some((k) => e instanceof k)) return "rejected";
    throw e;
  }
}

/** Checks that `fn` throws `kind`; otherwise a Mismatch naming `what`. */
function mustThrow(what: string, fn: () => unknown, kind: abstract new (...args: never[]) => Error): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof kind)) {
    const got = thrown === undefined ? "no error" : String(thrown);
    throw new Mismatch(`${what}: expected ${kind.name}, got ${got}`);
  }
}

function mustEqual(what: string, got: Uint8Array, want: Uint8Array): void {
  if (!bytesEqual(got, want)) throw new Mismatch(`${what}: got ${toHex(got)}, want ${toHex(want)}`);
}

interface Tally {
  ran: number;
  validPassed: number;
  invalidRejected: number;
  acceptableAccepted: number;
  acceptableRejected: number;
  failures: string[];
}

/**
 * Runs every case of `file` through `judge` and checks each verdict against the case's result.
 * `mayReject(tc)` says whether an acceptable case may be rejected (default: yes).
 */
function runFile<G extends { readonly tests: readonly C[] }, C extends TestCase>(
  file: string,
  judge: (group: G, tc: C) => Verdict,
  mayReject: (tc: C) => boolean = () => true,
): { tally: Tally; numberOfTests: number } {
  const data = load<G>(file);
  const tally: Tally = {
    ran: 0,
    validPassed: 0,
    invalidRejected: 0,
    acceptableAccepted: 0,
    acceptableRejected: 0,
    failures: [],
  };
  for (const group of data.testGroups) {
    for (const tc of group.tests) {
      tally.ran++;
      const fail = (why: string) =>
        tally.failures.push(`tcId ${tc.tcId} (${tc.result}, "${tc.comment}", [${tc.flags.join(", ")}]): ${why}`);
      let verdict: Verdict;
      try {
        verdict = judge(group, tc);
      } catch (e) {
        fail(e instanceof Mismatch ? e.message : `unexpected error: ${String(e)}`);
        continue;
      }
      switch (tc.result) {
        case "valid":
          if (verdict === "accepted") tally.validPassed++;
          else fail("valid case was rejected");
          break;
        case "invalid":
          if (verdict === "rejected") tally.invalidRejected++;
          else fail("invalid case was accepted");
          break;
        case "acceptable":
          if (verdict === "accepted") tally.acceptableAccepted++;
          else if (mayReject(tc)) tally.acceptableRejected++;
          else fail("acceptable case was rejected, and nothing allows rejecting it");
          break;
        default:
          fail(`unknown result ${JSON.stringify(tc.result)}`);
      }
    }
  }
  const t = tally;
  console.log(
    `wycheproof ${file}: ${t.ran} cases ran (${t.validPassed} valid passed, ${t.invalidRejected} invalid rejected, ` +
      `${t.acceptableAccepted + t.acceptableRejected} acceptable: ${t.acceptableAccepted} accepted, ${t.acceptableRejected} rejected)` +
      (t.failures.length > 0 ? `, ${t.failures.length} FAILED` : ""),
  );
  return { tally, numberOfTests: data.numberOfTests };
}

/** The assertions every file ends with. */
function expectAllPassed({ tally, numberOfTests }: { tally: Tally; numberOfTests: number }): void {
  expect(tally.failures).toEqual([]);
  expect(tally.ran).toBe(numberOfTests);
  expect(tally.validPassed + tally.invalidRejected + tally.acceptableAccepted + tally.acceptableRejected).toBe(
    numberOfTests,
  );
}

// ---------------------------------------------------------------------------------------------
// Judges, one per schema

/** X25519 (xdh_comp): the shared secret must equal `shared`; the wrapper's refusal of an
 * all-zero result is a CryptoVerificationError. */
function judgeX25519(group: XdhGroup, tc: XdhCase): Verdict {
  if (group.curve !== "curve25519") throw new Mismatch(`unexpected curve ${group.curve}`);
  const compute = () => x25519(fromHex(tc.private), fromHex(tc.public));
  return rejects(() => mustEqual("shared secret", compute(), fromHex(tc.shared)), CryptoVerificationError);
}

/** Ed25519 (eddsa_verify): verification must return true for valid, false for invalid. */
function judgeEd25519(group: EddsaGroup, tc: EddsaCase): Verdict {
  return ed25519Verify(fromHex(group.publicKey.pk), fromHex(tc.msg), fromHex(tc.sig)) ? "accepted" : "rejected";
}

type Seal = (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) => Uint8Array;

/**
 * An AEAD (aead_test). A nonce of the wrong size must be refused with UsageError by both
 * directions. Otherwise decryption of ct || tag decides: a CryptoVerificationError rejects,
 * a success must return `msg`, and then encryption must reproduce ct || tag exactly.
 */
function judgeAead(seal: Seal, open: Seal, nonceBytes: number) {
  return (group: AeadGroup, tc: AeadCase): Verdict => {
    if (group.tagSize !== 128) throw new Mismatch(`unexpected tag size ${group.tagSize}`);
    const key = fromHex(tc.key);
    const nonce = fromHex(tc.iv);
    const aad = fromHex(tc.aad);
    const msg = fromHex(tc.msg);
    const sealed = concat(fromHex(tc.ct), fromHex(tc.tag));
    if (nonce.length !== nonceBytes) {
      mustThrow(`encrypt with a ${nonce.length}-byte nonce`, () => seal(key, nonce, msg, aad), UsageError);
      mustThrow(`decrypt with a ${nonce.length}-byte nonce`, () => open(key, nonce, sealed, aad), UsageError);
      return "rejected";
    }
    let opened: Uint8Array;
    try {
      opened = open(key, nonce, sealed, aad);
    } catch (e) {
      if (e instanceof CryptoVerificationError) return "rejected";
      throw e;
    }
    mustEqual("decrypted plaintext", opened, msg);
    mustEqual("ciphertext || tag", seal(key, nonce, msg, aad), sealed);
    return "accepted";
  };
}

/** HKDF-SHA256 (hkdf_test): OKM must equal `okm`; a size over 255·32 must throw UsageError. */
function judgeHkdf(_group: HkdfGroup, tc: HkdfCase): Verdict {
  return rejects(
    () => mustEqual("okm", hkdfSha256(fromHex(tc.ikm), fromHex(tc.salt), fromHex(tc.info), tc.size), fromHex(tc.okm)),
    UsageError,
  );
}

/** HMAC-SHA256 (mac_test): the first tagSize/8 bytes of the MAC must equal `tag`, compared
 * as a verifier would (ctEqual, which is false for a tag of another length). */
function judgeHmac(group: MacGroup, tc: MacCase): Verdict {
  const mac = hmacSha256(fromHex(tc.key), fromHex(tc.msg));
  return ctEqual(mac.subarray(0, group.tagSize / 8), fromHex(tc.tag)) ? "accepted" : "rejected";
}

// ---------------------------------------------------------------------------------------------
// The files

const FILES: Record<string, () => ReturnType<typeof runFile>> = {
  "x25519_test.json": () =>
    runFile<XdhGroup, XdhCase>("x25519_test.json", judgeX25519, (tc) => tc.flags.includes("ZeroSharedSecret")),
  "ed25519_test.json": () => runFile<EddsaGroup, EddsaCase>("ed25519_test.json", judgeEd25519),
  "xchacha20_poly1305_test.json": () =>
    runFile<AeadGroup, AeadCase>(
      "xchacha20_poly1305_test.json",
      judgeAead(xchachaEncrypt, xchachaDecrypt, XCHACHA_NONCE_BYTES),
    ),
  "chacha20_poly1305_test.json": () =>
    runFile<AeadGroup, AeadCase>(
      "chacha20_poly1305_test.json",
      judgeAead(chachaEncrypt, chachaDecrypt, CHACHA_NONCE_BYTES),
    ),
  "hkdf_sha256_test.json": () => runFile<HkdfGroup, HkdfCase>("hkdf_sha256_test.json", judgeHkdf),
  "hmac_sha256_test.json": () => runFile<MacGroup, MacCase>("hmac_sha256_test.json", judgeHmac),
};

describe("Wycheproof", () => {
  test("every JSON file in test/vectors/third-party/wycheproof has a runner here", () => {
    const onDisk = fs
      .readdirSync(VECTORS_DIR)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(onDisk).toEqual(Object.keys(FILES).sort());
  });

  test.each(Object.keys(FILES))("%s", (file) => {
    expectAllPassed(FILES[file]!());
  });
});
