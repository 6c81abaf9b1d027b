/**
 * SECURITY.md §2 defines strict Ed25519 verification as a list of checks. This shows the list is
 * exactly what libsodium's crypto_sign_verify_detached (as bundled, crypto/primitives.ts) does:
 * an independent BigInt implementation of those checks (crypto/vectors/edwards25519.ts) agrees
 * with libsodium on every Wycheproof ed25519 case, every case of test/vectors/signatures.json
 * and crafted edge cases; and each check matters: without it, some published case flips.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fromHex, toHex, utf8 } from "../../crypto/bytes.js";
import { ed25519FromSeed, ed25519Sign, ed25519Verify } from "../../crypto/primitives.js";
import * as E from "../../crypto/vectors/edwards25519.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const read = (p: string) => JSON.parse(readFileSync(path.join(root, p), "utf8")) as unknown;

interface WycheproofFile {
  testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string; result: string }[] }[];
}
interface SignatureCase {
  id: string;
  public_key: string;
  signed_message: string;
  signature: string;
  result: string;
}

const strict = (pk: Uint8Array, m: Uint8Array, s: Uint8Array) => E.verifyUnderRules(E.STRICT_RULES, pk, m, s);

describe("strict Ed25519 as specified = libsodium's verify", () => {
  test("agree on every Wycheproof ed25519 case", () => {
    const file = read("test/vectors/third-party/wycheproof/ed25519_test.json") as WycheproofFile;
    let n = 0;
    for (const g of file.testGroups) {
      for (const tc of g.tests) {
        const args = [fromHex(g.publicKey.pk), fromHex(tc.msg), fromHex(tc.sig)] as const;
        expect(strict(...args), `tcId ${tc.tcId}`).toBe(ed25519Verify(...args));
        n++;
      }
    }
    expect(n).toBe(151);
    // SECURITY.md §2.1: none of Wycheproof's keys tests rules 3 and 4 or a mixed-order key.
    const keys = new Set(file.testGroups.map((g) => g.publicKey.pk));
    expect(keys.size).toBe(52);
    for (const k of keys) {
      const point = E.decode(fromHex(k))!;
      expect(E.encodedY(fromHex(k)) < E.P && !E.isSmallOrder(point) && E.isInPrimeSubgroup(point), k).toBe(true);
    }
  });

  test("agree on every published signature case", () => {
    const cases = (read("test/vectors/signatures.json") as { cases: SignatureCase[] }).cases;
    expect(cases.length).toBe(40);
    for (const c of cases) {
      const args = [fromHex(c.public_key), fromHex(c.signed_message), fromHex(c.signature)] as const;
      expect(ed25519Verify(...args), c.id).toBe(c.result === "valid");
      expect(strict(...args), c.id).toBe(c.result === "valid");
    }
  });

  test("the small-order encodings refused are libsodium's seven, whatever the top bit", () => {
    // libsodium 1.0.18 ge25519_has_small_order: 0, 1, the two order-8 y, p − 1, p, p + 1 (top bit ignored).
    const listed = [
      E.rawEncoding(0n, 0),
      E.rawEncoding(1n, 0),
      fromHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
      fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
      E.rawEncoding(E.P - 1n, 0),
      E.rawEncoding(E.P, 0),
      E.rawEncoding(E.P + 1n, 0),
    ];
    for (const b of listed) {
      for (const top of [0, 0x80]) {
        const enc = b.slice();
        enc[31] = (enc[31]! & 0x7f) | top;
        expect(E.encodesSmallOrder(enc), toHex(enc)).toBe(true);
      }
    }
    // Every small-order point is one of them: the 8 multiples of a point of order 8.
    for (let i = 0n; i < 8n; i++) {
      const y = E.encodedY(E.encode(E.multiply(E.TORSION_8, i)));
      expect(listed.some((b) => E.encodedY(b) === y)).toBe(true);
    }
  });

  test("agree on genuine signatures and on every single-bit change of them (seeded)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.nat(511),
        (seed, msg, bit) => {
          const kp = ed25519FromSeed(seed);
          const sig = ed25519Sign(kp.privateKey, msg);
          expect(strict(kp.publicKey, msg, sig)).toBe(true);
          const bad = sig.slice();
          bad[bit >> 3]! ^= 1 << (bit & 7);
          expect(strict(kp.publicKey, msg, bad)).toBe(ed25519Verify(kp.publicKey, msg, bad));
          const badKey = kp.publicKey.slice();
          badKey[(bit >> 3) % 32]! ^= 1 << (bit & 7);
          expect(strict(badKey, msg, sig)).toBe(ed25519Verify(badKey, msg, sig));
        },
      ),
      { numRuns: 60, seed: 14 },
    );
  });

  test("a mixed-order key verifies exactly when [k]T = 0 (cofactorless), in both implementations", () => {
    const seed = new Uint8Array(32).fill(9);
    const a = E.secretScalar(seed) % E.L;
    const pk = E.encode(E.add(E.multiply(E.BASE, a), E.TORSION_8));
    const m = utf8("mixed");
    const seen = new Set<boolean>();
    for (let i = 1n; i < 40n; i++) {
      const R = E.encode(E.multiply(E.BASE, i * 7919n));
      const k = E.challenge(R, pk, m);
      const sig = E.signatureBytes(R, (i * 7919n + k * a) % E.L);
      expect(ed25519Verify(pk, m, sig)).toBe(k % 8n === 0n);
      expect(strict(pk, m, sig)).toBe(k % 8n === 0n);
      seen.add(k % 8n === 0n);
    }
    expect(seen.size).toBe(2);
  });
});
