/**
 * A vector file that cannot catch its own rule is not done (issue 14). Each test here runs
 * `vectors verify` on a committed file under a deliberately wrong implementation — one rule of
 * SECURITY.md broken through the VectorImplementation parameter of recompute, nothing shipped
 * to users — and shows that verification then fails, naming the first value that differs.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { CodecError } from "../../crypto/errors.js";
import { RATCHET_RULES } from "../../crypto/ratchet.js";
import { SENDER_KEY_RULES } from "../../crypto/sender-keys.js";
import { DEVICE_LIST_RULES, type DeviceListRules, acceptDeviceList } from "../../crypto/device-list-acceptance.js";
import { parseEnvelope } from "../../crypto/session.js";
import {
  THIS_IMPLEMENTATION,
  VECTOR_SUITES,
  type VectorImplementation,
  verifyVectorText,
} from "../../crypto/vectors/index.js";
import * as E from "../../crypto/vectors/edwards25519.js";
import { backupAd } from "../../crypto/account-backup.js";
import { concat, lengthPrefixed, u32be, utf8 } from "../../crypto/bytes.js";
import { label } from "../../crypto/labels.js";
import { PASSPHRASE_ARGON2_FLOOR, PASSPHRASE_ARGON2_MAX } from "../../crypto/passphrase-kdf.js";
import { passphraseStrength } from "../../crypto/passphrase-strength.js";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../vectors");
const suite = (file: string) => VECTOR_SUITES.find((s) => s.file === file)!;
const text = (file: string) => readFileSync(path.join(dir, file), "utf8");

function verifyUnder(file: string, change: Partial<VectorImplementation>): string | null {
  return verifyVectorText(suite(file), text(file), { ...THIS_IMPLEMENTATION, ...change });
}

const lax = (rules: Partial<E.Ed25519Rules>) => (pk: Uint8Array, m: Uint8Array, s: Uint8Array) =>
  E.verifyUnderRules({ ...E.STRICT_RULES, ...rules }, pk, m, s);

/** A backup AD with one of its parts left out (§18.3). */
const adWithout =
  (part: "username" | "relay key" | "account key" | "params") =>
  (
    ctx: { relayKey: Uint8Array; username: string; salt: Uint8Array },
    params: { t: number; memKiB: number },
    accountKey: Uint8Array,
  ) =>
    concat(
      label("accountBackup"),
      new Uint8Array([1]),
      part === "relay key" ? new Uint8Array(0) : ctx.relayKey,
      part === "username" ? new Uint8Array(0) : lengthPrefixed(utf8(ctx.username)),
      part === "account key" ? new Uint8Array(0) : accountKey,
      ctx.salt,
      part === "params" ? new Uint8Array(0) : concat(u32be(params.t), u32be(params.memKiB)),
    );

/** The strength rule with its repeat (|Δ| ≤ 1) or recurring-triple test left out (§18.7). */
const strengthWithout = (rule: "neighbour" | "triple") => (p: string) => {
  const cps = Array.from(p.normalize("NFC"), (c) => c.codePointAt(0)!);
  const real = passphraseStrength(p);
  if (real.refusal && real.refusal !== "too-weak") return real;
  const credit = (c: number) =>
    c >= 0x61 && c <= 0x7a
      ? 8
      : c >= 0x41 && c <= 0x5a
        ? 10
        : c >= 0x30 && c <= 0x39
          ? 12
          : c === 0x20
            ? 4
            : c < 0x7f
              ? 16
              : 8;
  const seen = new Set<string>();
  let q = 0;
  cps.forEach((c, i) => {
    let predictable = rule !== "neighbour" && i > 0 && Math.abs(c - cps[i - 1]!) <= 1;
    if (i >= 2) {
      const k = `${cps[i - 2]},${cps[i - 1]},${c}`;
      if (rule !== "triple" && seen.has(k)) predictable = true;
      seen.add(k);
    }
    if (!predictable) q += credit(c);
  });
  return q >= 256
    ? { accepted: true, quarterBits: q }
    : { accepted: false, quarterBits: q, refusal: "too-weak" as const };
};

/** [mutant name, file, the wrong implementation, the JSON path the first difference must be at]. */
const MUTANTS: [string, string, Partial<VectorImplementation>, RegExp][] = [
  [
    "no skip to pn before a DH step",
    "ratchet-cases.json",
    { ratchetRules: { ...RATCHET_RULES, skipToPnOnDhStep: false } },
    /cases\[0\]\.events\[7\]\.stored_skipped/,
  ],
  [
    "MAX_SKIP not enforced",
    "ratchet-cases.json",
    { ratchetRules: { ...RATCHET_RULES, maxSkip: Number.MAX_SAFE_INTEGER } },
    /cases\[2\]\.events\[6\]/,
  ],
  [
    "MAX_SKIP off by one (1001)",
    "ratchet-cases.json",
    { ratchetRules: { ...RATCHET_RULES, maxSkip: 1001 } },
    /cases\[3\]\.events\[1\]/,
  ],
  [
    "MAX_SKIP one too strict (999)",
    "ratchet-cases.json",
    { ratchetRules: { ...RATCHET_RULES, maxSkip: 999 } },
    /cases\[1\]\.events\[6\]/,
  ],
  [
    "skipped keys never deleted by age",
    "ratchet-cases.json",
    { ratchetRules: { ...RATCHET_RULES, skippedKeyMaxSteps: Number.MAX_SAFE_INTEGER } },
    /cases\[5\]\.events\[46\]/,
  ],
  [
    "skipped keys deleted one step early (after 9)",
    "ratchet-cases.json",
    { ratchetRules: { ...RATCHET_RULES, skippedKeyMaxSteps: 9 } },
    /cases\[4\]\.events\[42\]/,
  ],
  [
    "no cap on stored skipped keys",
    "ratchet-cases.json",
    { ratchetRules: { ...RATCHET_RULES, maxSkippedKeys: Number.MAX_SAFE_INTEGER } },
    /cases\[6\]\.events\[10\]/,
  ],
  [
    "sender keys: MAX_SENDER_SKIP not enforced",
    "sender-key-cases.json",
    { senderKeyRules: { ...SENDER_KEY_RULES, maxSkip: Number.MAX_SAFE_INTEGER } },
    /cases\[5\]\.deliveries\[0\]/,
  ],
  [
    "sender keys: MAX_SENDER_SKIP one too strict (1999)",
    "sender-key-cases.json",
    { senderKeyRules: { ...SENDER_KEY_RULES, maxSkip: 1999 } },
    /cases\[5\]\.deliveries\[1\]/,
  ],
  [
    "sender keys: no cap on stored skipped keys",
    "sender-key-cases.json",
    { senderKeyRules: { ...SENDER_KEY_RULES, maxSkippedKeys: Number.MAX_SAFE_INTEGER } },
    /cases\[6\]\.deliveries\[1\]/,
  ],
  [
    "sender keys: signatures not checked",
    "sender-key-cases.json",
    { senderKeyRules: { ...SENDER_KEY_RULES, verify: () => true } },
    /cases\[7\]\.deliveries\[0\]/,
  ],
  [
    "envelopes: any non-zero has_opk read as 1",
    "envelopes.json",
    {
      parseEnvelope: (b) => {
        const c = b.slice();
        if (c[0] === 2 && c.length > 165 && c[165]! > 1) c[165] = 1;
        return parseEnvelope(c);
      },
    },
    /cases\[5\]\.(result|parsed)/,
  ],
  [
    "envelopes: no minimum message length",
    "envelopes.json",
    {
      parseEnvelope: (b) => {
        try {
          return parseEnvelope(b);
        } catch (e) {
          if (e instanceof CodecError && e.message.includes("truncated") && b.length > 166) {
            const env = parseEnvelope(new Uint8Array([...b, ...new Uint8Array(64)]));
            return { ...env, message: env.message.slice(0, env.message.length - 64) };
          }
          throw e;
        }
      },
    },
    /cases\[\d+\]\.parsed/,
  ],
  [
    "signatures: small-order A accepted",
    "signatures.json",
    { ed25519Verify: lax({ smallOrderA: false }) },
    /cases\[1\]\.result/,
  ],
  [
    "signatures: small-order R accepted",
    "signatures.json",
    { ed25519Verify: lax({ smallOrderR: false }) },
    /cases\[3\]\.result/,
  ],
  [
    "signatures: S not checked < L",
    "signatures.json",
    { ed25519Verify: lax({ canonicalS: false }) },
    /cases\[4\]\.result/,
  ],
  [
    "signatures: cofactored equation",
    "signatures.json",
    { ed25519Verify: lax({ equation: "cofactored" }) },
    /cases\[5\]\.result/,
  ],
  [
    "signatures: A required in the prime-order subgroup",
    "signatures.json",
    { ed25519Verify: lax({ primeOrderA: true }) },
    /cases\[6\]\.result/,
  ],
  [
    "signatures: neither canonical nor small-order checks on A",
    "signatures.json",
    { ed25519Verify: lax({ canonicalA: false, smallOrderA: false }) },
    /cases\[1\]\.result/,
  ],
  [
    "signatures: a lax sender-key message check (cofactored, no small-order checks)",
    "signatures.json",
    { ed25519Verify: lax({ equation: "cofactored", smallOrderA: false, smallOrderR: false, canonicalS: false }) },
    /cases\[1\]\.result/,
  ],
  [
    "account backup: the AD leaves out the username",
    "account-backup.json",
    { backupAd: adWithout("username") },
    /cases\[0\]\.ad/,
  ],
  [
    "account backup: the AD leaves out the relay key",
    "account-backup.json",
    { backupAd: adWithout("relay key") },
    /cases\[0\]\.ad/,
  ],
  [
    "account backup: the AD leaves out the account identity key",
    "account-backup.json",
    { backupAd: adWithout("account key") },
    /cases\[0\]\.ad/,
  ],
  [
    "account backup: the AD leaves out the Argon2id parameters",
    "account-backup.json",
    { backupAd: adWithout("params") },
    /cases\[0\]\.ad/,
  ],
  [
    "account backup: the AD is the real one but the version byte is 0",
    "account-backup.json",
    { backupAd: (c, p, k) => Object.assign(backupAd(c, p, k), { [22]: 0 }) },
    /cases\[0\]\.ad/,
  ],
  [
    "passphrase parameters: no floor",
    "account-backup.json",
    { acceptsPassphraseParams: (p) => p.t <= PASSPHRASE_ARGON2_MAX.t && p.memKiB <= PASSPHRASE_ARGON2_MAX.memKiB },
    /cases\[0\]\.meets_floor/,
  ],
  [
    "passphrase parameters: floor on memory only",
    "account-backup.json",
    {
      acceptsPassphraseParams: (p) =>
        p.memKiB >= PASSPHRASE_ARGON2_FLOOR.memKiB &&
        p.t <= PASSPHRASE_ARGON2_MAX.t &&
        p.memKiB <= PASSPHRASE_ARGON2_MAX.memKiB,
    },
    /params_cases\[1\]\.accepted/,
  ],
  [
    "passphrase parameters: no maximum",
    "account-backup.json",
    { acceptsPassphraseParams: (p) => p.t >= PASSPHRASE_ARGON2_FLOOR.t && p.memKiB >= PASSPHRASE_ARGON2_FLOOR.memKiB },
    /params_cases\[5\]\.accepted/,
  ],
  [
    "strength: repeats and runs earn credit",
    "account-backup.json",
    { passphraseStrength: strengthWithout("neighbour") },
    /strength\[\d+\]\.(accepted|quarter_bits)/,
  ],
  [
    "strength: recurring stretches earn credit",
    "account-backup.json",
    { passphraseStrength: strengthWithout("triple") },
    /strength\[\d+\]\.(accepted|quarter_bits)/,
  ],
  [
    "login proof: not bound to the handshake hash",
    "login-proof.json",
    { passphraseLoginMessage: (_h, u) => concat(label("passphraseLoginProof"), lengthPrefixed(utf8(u))) },
    /cases\[0\]\.signed_message/,
  ],
  [
    "login proof: the username is not signed",
    "login-proof.json",
    { passphraseLoginMessage: (h) => concat(label("passphraseLoginProof"), h) },
    /cases\[0\]\.signed_message/,
  ],
  [
    "login proof: S not checked < L",
    "login-proof.json",
    { ed25519Verify: lax({ canonicalS: false }) },
    /cases\[0\]\.checks\[6\]\.result/,
  ],
];

/** An acceptance rule with one check changed (§17.4). */
const listRules =
  (rules: Partial<DeviceListRules>): VectorImplementation["acceptDeviceList"] =>
  (account, stored, encoded) =>
    acceptDeviceList(account, stored, encoded, { ...DEVICE_LIST_RULES, ...rules });

MUTANTS.push(
  [
    "device lists: signatures not checked",
    "device-list.json",
    { acceptDeviceList: listRules({ verify: () => true }) },
    /cases\[12\]\.result/,
  ],
  [
    "device lists: lax Ed25519 (S not checked < L)",
    "device-list.json",
    { acceptDeviceList: listRules({ verify: lax({ canonicalS: false }) }) },
    /cases\[18\]\.result/,
  ],
  [
    "device lists: device 1 need not be the account key",
    "device-list.json",
    { acceptDeviceList: listRules({ enforceAccountSlot: false }) },
    /cases\[16\]\./,
  ],
  [
    "device lists: rollback accepted",
    "device-list.json",
    { acceptDeviceList: listRules({ refuseRollback: false }) },
    /cases\[6\]\.result/,
  ],
  [
    "device lists: conflict accepted",
    "device-list.json",
    { acceptDeviceList: listRules({ refuseConflict: false }) },
    /cases\[8\]\.result/,
  ],
  [
    "device lists: removed devices may return",
    "device-list.json",
    { acceptDeviceList: listRules({ refuseReturningDevices: false }) },
    /cases\[9\]\.result/,
  ],
  [
    "device lists: the highest id counted from the stored list, not ever",
    "device-list.json",
    {
      acceptDeviceList: (account, stored, encoded) =>
        acceptDeviceList(
          account,
          stored && { ...stored, highestDeviceId: Math.max(...stored.list.devices.map((d) => d.id)) },
          encoded,
        ),
    },
    /cases\[10\]\.result/,
  ],
);

describe("the published cases catch a wrong implementation", () => {
  test.each([
    "ratchet-cases.json",
    "sender-key-cases.json",
    "envelopes.json",
    "signatures.json",
    "account-backup.json",
    "login-proof.json",
    "device-list.json",
  ])("%s verifies under this implementation", (file) => {
    expect(verifyUnder(file, {})).toBeNull();
  });

  test.each(MUTANTS)("%s: %s fails", (_name, file, change, where) => {
    const problem = verifyUnder(file, change);
    expect(problem).not.toBeNull();
    expect(problem).toMatch(where);
  });

  test("strict verification agrees with libsodium (the reference used by the mutants is the spec's)", () => {
    expect(verifyUnder("signatures.json", { ed25519Verify: lax({}) })).toBeNull();
  });

  test("each signature place is caught on its own (sender-key messages go through senderDecrypt)", () => {
    const file = JSON.parse(text("signatures.json")) as { cases: { place: string }[] };
    const places = [...new Set(file.cases.map((c) => c.place))];
    expect(places).toEqual(["identity", "signed_prekey", "sender_key_message", "group_state", "relay_login"]);
    // A verifier that is lax only for one place's messages is caught at that place.
    for (const [i, place] of places.entries()) {
      const label = {
        identity: "identity dh key",
        signed_prekey: "signed prekey",
        sender_key_message: "sender key message",
        group_state: "group state",
        relay_login: "relay login",
      }[place]!;
      const laxHere = (pk: Uint8Array, m: Uint8Array, s: Uint8Array) =>
        Buffer.from(m).includes(`SMSG-v1 ${label}`) ? lax({ smallOrderR: false })(pk, m, s) : lax({})(pk, m, s);
      expect(verifyUnder("signatures.json", { ed25519Verify: laxHere })).toMatch(
        new RegExp(`cases\\[${i * 8 + 3}\\]\\.`),
      );
    }
  });
});
