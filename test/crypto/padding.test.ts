import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual, concat } from "../../crypto/bytes.js";
import { CodecError, UsageError } from "../../crypto/errors.js";
import {
  MAX_PADDED_LENGTH,
  MAX_PLAINTEXT_LENGTH,
  MIN_PADDED_LENGTH,
  PADDING_MARKER,
  pad,
  paddedLength,
  padme,
  unpad,
} from "../../crypto/padding.js";

/**
 * A slow, independent Padmé written from the paper's wording with BigInt and string bit
 * lengths (no clz32, no bit masks on numbers), to check the fast one against.
 */
function referencePaddedLength(plaintextLength: number): number {
  const x = BigInt(plaintextLength + 1);
  const bitLength = (v: bigint) => v.toString(2).length; // floor(log2 v) + 1 for v ≥ 1
  let p = x;
  if (x >= 4n) {
    const e = BigInt(bitLength(x) - 1);
    const s = BigInt(bitLength(e) - 1) + 1n;
    const lastBits = e - s;
    const unit = 1n << lastBits;
    p = ((x + unit - 1n) / unit) * unit;
  }
  return Math.max(32, Number(p));
}

/** Deterministic filler so large plaintexts are cheap to generate. */
function filled(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

function padTo(content: Uint8Array, total: number): Uint8Array {
  const out = new Uint8Array(total);
  out.set(content);
  out[content.length] = PADDING_MARKER;
  return out;
}

describe("padme and paddedLength", () => {
  it("matches the table at the edge lengths", () => {
    const table: [number, number][] = [
      [0, 32],
      [1, 32],
      [30, 32],
      [31, 32],
      [32, 36],
      [33, 36],
      [35, 36],
      [36, 40],
      [63, 64],
      [64, 72],
      [100, 104],
      [127, 128],
      [128, 144],
      [1000, 1024],
      [65535, 65536],
      [65536, 67584],
      [MAX_PLAINTEXT_LENGTH, 17301504],
    ];
    for (const [l, p] of table) expect([l, paddedLength(l)]).toEqual([l, p]);
    expect(MAX_PADDED_LENGTH).toBe(17301504);
  });

  it("equals an independent BigInt Padmé for every length 0..70000 and a sample up to 16 MiB", () => {
    for (let l = 0; l <= 70000; l++) {
      if (paddedLength(l) !== referencePaddedLength(l))
        expect([l, paddedLength(l)]).toEqual([l, referencePaddedLength(l)]);
    }
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_PLAINTEXT_LENGTH }),
        (l) => paddedLength(l) === referencePaddedLength(l),
      ),
      { numRuns: 2000 },
    );
  });

  it("is monotone, at least L + 1, and within the documented overhead over the whole range", () => {
    let prev = 0;
    let worstX = 0;
    let worstL = 0;
    for (let l = 0; l <= MAX_PLAINTEXT_LENGTH; l++) {
      const p = paddedLength(l);
      if (p < prev || p < l + 1) throw new Error(`bad padded length at ${l}`);
      prev = p;
      const x = l + 1;
      if (x > 32) {
        worstX = Math.max(worstX, (p - x) / x);
        worstL = Math.max(worstL, (p - l) / l);
      }
    }
    expect(worstX).toBeLessThan(0.117); // 15 / 129
    expect(worstL).toBeLessThanOrEqual(0.125); // 4 / 32
  });

  it("raw padme keeps x < 4 and rounds per the paper above", () => {
    expect([1, 2, 3].map(padme)).toEqual([1, 2, 3]);
    expect(padme(9)).toBe(10); // E=3, S=2, lastBits=1
    expect(padme(33)).toBe(36);
    expect(() => padme(0)).toThrow(UsageError);
  });

  it("refuses lengths outside 0..16 MiB", () => {
    expect(() => paddedLength(-1)).toThrow(UsageError);
    expect(() => paddedLength(1.5)).toThrow(UsageError);
    expect(() => paddedLength(MAX_PLAINTEXT_LENGTH + 1)).toThrow(UsageError);
  });
});

describe("pad / unpad", () => {
  it("roundtrips random lengths 0..70000, with the padded length P'(L+1) and canonical bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70000 }), fc.integer(), (length, seed) => {
        // bytesEqual, not toEqual: vitest's deep equality is slow on 70 kB arrays.
        const plaintext = filled(length, seed);
        const copy = plaintext.slice();
        const padded = pad(plaintext);
        expect(bytesEqual(plaintext, copy)).toBe(true);
        expect(padded.length).toBe(referencePaddedLength(length));
        expect(bytesEqual(padded.subarray(0, length), plaintext)).toBe(true);
        expect(padded[length]).toBe(0x80);
        expect(bytesEqual(padded.subarray(length + 1), new Uint8Array(padded.length - length - 1))).toBe(true);
        expect(bytesEqual(unpad(padded), plaintext)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("roundtrips short plaintexts of arbitrary content, including ones ending in 0x80 and zeros", () => {
    const tail = fc.constantFrom(
      new Uint8Array(0),
      new Uint8Array([0x80]),
      new Uint8Array([0x80, 0]),
      new Uint8Array([0, 0, 0]),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), tail, (head, t) => {
        const plaintext = concat(head, t);
        expect(unpad(pad(plaintext))).toEqual(plaintext);
      }),
      { numRuns: 500 },
    );
  });

  it("accepts exactly the canonical paddings: unpad(x) succeeds only when pad(unpad(x)) = x", () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x80, 0x01, 0xff) }),
      fc.record({
        kind: fc.constant("append" as const),
        n: fc.integer({ min: 1, max: 64 }),
        value: fc.constantFrom(0x00, 0x80),
      }),
      fc.record({ kind: fc.constant("truncate" as const), n: fc.integer({ min: 1, max: 64 }) }),
      fc.record({ kind: fc.constant("repad" as const), total: fc.integer({ min: 0, max: 3000 }) }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (content, ms) => {
          let x = pad(content);
          for (const m of ms) {
            if (m.kind === "flip" && x.length > 0) {
              x = x.slice();
              const i = m.at % x.length;
              x[i] = x[i]! ^ m.xor;
            } else if (m.kind === "set" && x.length > 0) {
              x = x.slice();
              x[m.at % x.length] = m.value;
            } else if (m.kind === "append") {
              x = concat(x, new Uint8Array(m.n).fill(m.value));
            } else if (m.kind === "truncate") {
              x = x.slice(0, Math.max(0, x.length - m.n));
            } else if (m.kind === "repad") {
              x = padTo(content, Math.max(content.length + 1, m.total));
            }
          }
          let out: Uint8Array | undefined;
          try {
            out = unpad(x);
          } catch (e) {
            expect(e).toBeInstanceOf(CodecError);
            return;
          }
          expect(bytesEqual(pad(out), x)).toBe(true);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("rejects every non-canonical padded length of a given content", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 6000 }), (length, total) => {
        const content = filled(length, length + 7).map((b) => (b === 0 ? 1 : b));
        const n = Math.max(length + 1, total);
        fc.pre(n !== paddedLength(length));
        expect(() => unpad(padTo(content, n))).toThrow(CodecError);
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects the named malformed inputs", () => {
    expect(() => unpad(new Uint8Array(0))).toThrow(CodecError);
    expect(() => unpad(new Uint8Array(32))).toThrow(CodecError);
    expect(() => unpad(padTo(new Uint8Array(3).fill(1), 31))).toThrow(CodecError);
    expect(() => unpad(concat(new Uint8Array([1, 2, 3, 0x01]), new Uint8Array(28)))).toThrow(CodecError);
    expect(() => unpad(concat(pad(new Uint8Array([1])), new Uint8Array(4)))).toThrow(CodecError);
    expect(() => unpad(new Uint8Array(MAX_PADDED_LENGTH + 1))).toThrow(CodecError);
  });

  it("pads the longest plaintext and refuses one byte more", () => {
    const max = new Uint8Array(MAX_PLAINTEXT_LENGTH).fill(7);
    const padded = pad(max);
    expect(padded.length).toBe(MAX_PADDED_LENGTH);
    expect(unpad(padded).length).toBe(MAX_PLAINTEXT_LENGTH);
    expect(() => pad(new Uint8Array(MAX_PLAINTEXT_LENGTH + 1))).toThrow(UsageError);
  });

  it("refuses content longer than the maximum even when the padded length is in the last bucket", () => {
    // P'(MAX + 2) = P'(MAX + 1): the length check alone would accept this.
    const tooLong = padTo(new Uint8Array(MAX_PLAINTEXT_LENGTH + 1).fill(7), MAX_PADDED_LENGTH);
    expect(() => unpad(tooLong)).toThrow(CodecError);
  });

  it("all messages of 0..31 bytes look the same size", () => {
    const sizes = new Set(Array.from({ length: 32 }, (_, l) => pad(new Uint8Array(l)).length));
    expect([...sizes]).toEqual([MIN_PADDED_LENGTH]);
  });
});
