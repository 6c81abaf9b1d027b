import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../crypto/errors.js";
import {
  type SafetyNumberParty,
  combineFingerprints,
  fingerprint,
  fingerprintDigits,
  fingerprintHash,
  formatSafetyNumber,
  safetyNumber,
} from "../../crypto/safety-number.js";

/**
 * An independent implementation from the specification text (SECURITY.md §9), with Node's
 * SHA-512 and BigInt, to check the libsodium one against.
 */
function referenceFingerprint(p: SafetyNumberParty): string {
  const key = Buffer.from(p.identityKey);
  const id = Buffer.from(p.id, "utf8");
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  let h = createHash("sha512")
    .update(Buffer.from([0, 1]))
    .update("SMSG-v1 safety number", "ascii")
    .update(u32(key.length))
    .update(key)
    .update(u32(id.length))
    .update(id)
    .digest();
  for (let i = 0; i < 5199; i++) h = createHash("sha512").update(h).update(key).digest();
  let out = "";
  for (let c = 0; c < 6; c++) {
    const v = BigInt("0x" + h.subarray(c * 5, c * 5 + 5).toString("hex"));
    out += (v % 100000n).toString().padStart(5, "0");
  }
  return out;
}

const key = fc.uint8Array({ minLength: 64, maxLength: 64 });
const id = fc.oneof(
  fc.stringMatching(/^[a-z0-9_.-]{1,32}$/),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
);
const party = fc.record({ id, identityKey: key });

// Each fingerprint is 5200 SHA-512s (~35 ms here): a few runs per property keep each test short.
const RUNS = { numRuns: 8 };

describe("safety numbers", () => {
  it("fingerprints match an independent implementation of the spec", () => {
    fc.assert(
      fc.property(party, (p) => {
        expect(fingerprint(p)).toBe(referenceFingerprint(p));
      }),
      RUNS,
    );
  });

  it("are 60 digits, symmetric in the two parties, and the sorted concatenation of the fingerprints", () => {
    fc.assert(
      fc.property(party, party, (a, b) => {
        const ab = safetyNumber(a, b);
        expect(ab).toMatch(/^[0-9]{60}$/);
        expect(safetyNumber(b, a)).toBe(ab);
        const [x, y] = [fingerprint(a), fingerprint(b)].sort();
        expect(ab).toBe(x! + y!);
      }),
      RUNS,
    );
  });

  it("change when either key changes in any bit", () => {
    fc.assert(
      fc.property(party, party, fc.boolean(), fc.nat(511), (a, b, changeA, bit) => {
        const before = safetyNumber(a, b);
        const target = changeA ? a : b;
        const k = target.identityKey.slice();
        k[bit >> 3] = k[bit >> 3]! ^ (1 << (bit & 7));
        const changed = { ...target, identityKey: k };
        const after = changeA ? safetyNumber(changed, b) : safetyNumber(a, changed);
        expect(after).not.toBe(before);
      }),
      RUNS,
    );
  });

  it("change when either id changes", () => {
    fc.assert(
      fc.property(party, party, fc.boolean(), id, (a, b, changeA, newId) => {
        const target = changeA ? a : b;
        fc.pre(newId !== target.id);
        const before = safetyNumber(a, b);
        const changed = { ...target, id: newId };
        const after = changeA ? safetyNumber(changed, b) : safetyNumber(a, changed);
        expect(after).not.toBe(before);
      }),
      RUNS,
    );
  });

  it("bind the id to its key: swapping the ids of two keys changes the number", () => {
    const ka = new Uint8Array(64).fill(1);
    const kb = new Uint8Array(64).fill(2);
    const n1 = safetyNumber({ id: "alice", identityKey: ka }, { id: "bob", identityKey: kb });
    const n2 = safetyNumber({ id: "bob", identityKey: ka }, { id: "alice", identityKey: kb });
    expect(n2).not.toBe(n1);
  });

  it("does not modify its inputs, and the final hash is 64 bytes", () => {
    const p = { id: "alice", identityKey: new Uint8Array(64).fill(9) };
    const h = fingerprintHash(p);
    expect(h.length).toBe(64);
    expect(p.identityKey).toEqual(new Uint8Array(64).fill(9));
  });

  it("refuses a key that is not 64 bytes and an empty, ill-formed or over-long id", () => {
    const good = new Uint8Array(64);
    for (const len of [0, 32, 63, 65, 128]) {
      expect(() => fingerprint({ id: "a", identityKey: new Uint8Array(len) })).toThrow(UsageError);
    }
    expect(() => fingerprint({ id: "", identityKey: good })).toThrow(UsageError);
    expect(() => fingerprint({ id: "a\ud800", identityKey: good })).toThrow(UsageError);
    expect(() => fingerprint({ id: "a".repeat(1025), identityKey: good })).toThrow(UsageError);
    expect(() => safetyNumber({ id: "a", identityKey: good }, { id: "b", identityKey: new Uint8Array(33) })).toThrow(
      UsageError,
    );
  });

  it("fingerprintDigits reads six 40-bit big-endian chunks mod 100000; combineFingerprints sorts", () => {
    const h = new Uint8Array(64);
    h.set([0xff, 0xff, 0xff, 0xff, 0xff], 0); // 2^40 − 1 = 1099511627775 → 27775
    h.set([0, 0, 0, 0x01, 0x00], 5); // 256 → 00256
    expect(fingerprintDigits(h)).toBe("27775" + "00256" + "00000".repeat(4));
    expect(() => fingerprintDigits(new Uint8Array(29))).toThrow(UsageError);
    const lo = "0".repeat(30);
    const hi = "9".repeat(30);
    expect(combineFingerprints(hi, lo)).toBe(lo + hi);
    expect(combineFingerprints(lo, hi)).toBe(lo + hi);
    expect(() => combineFingerprints(lo, "123")).toThrow(UsageError);
  });

  it("formats as 3 lines of 4 groups of 5 digits", () => {
    const s = "012345678901234567890123456789012345678901234567890123456789";
    expect(formatSafetyNumber(s)).toBe("01234 56789 01234 56789\n01234 56789 01234 56789\n01234 56789 01234 56789");
    const n = safetyNumber(
      { id: "a", identityKey: new Uint8Array(64) },
      { id: "b", identityKey: new Uint8Array(64).fill(1) },
    );
    const f = formatSafetyNumber(n);
    expect(f.split("\n").map((l) => l.split(" ").length)).toEqual([4, 4, 4]);
    expect(f.replace(/[ \n]/g, "")).toBe(n);
    for (const bad of ["", "1".repeat(59), "1".repeat(61), "a".repeat(60), "1".repeat(55) + " 1234"]) {
      expect(() => formatSafetyNumber(bad)).toThrow(UsageError);
    }
  });
});
