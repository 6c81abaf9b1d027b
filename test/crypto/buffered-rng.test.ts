/**
 * bufferedRng (crypto/rng.ts), the source of sealed-column nonces (SECURITY.md §16.2): every
 * byte it hands out is a byte of its source handed out once, in order; one source call per pool;
 * a request larger than a pool goes to the source; a source that fails leaves nothing behind.
 */
import { describe, expect, test } from "vitest";
import { concat, toHex, utf8 } from "../../crypto/bytes.js";
import { type Rng, bufferedRng, seededRng } from "../../crypto/rng.js";

/** seededRng counting its calls and keeping everything it returned, in order. */
function recording(seed: string): { rng: Rng; calls: () => number; pools: Uint8Array[] } {
  const inner = seededRng(utf8(seed));
  const pools: Uint8Array[] = [];
  const rng: Rng = (n) => {
    const out = inner(n);
    pools.push(out.slice());
    return out;
  };
  return { rng, calls: () => pools.length, pools };
}

describe("bufferedRng", () => {
  test("24-byte nonces: the source's bytes in order, each once; a pool's tail too short for one is dropped", () => {
    const src = recording("buffered rng nonces");
    const rng = bufferedRng(src.rng, 4096);
    const nonces = Array.from({ length: 1000 }, () => rng(24));
    // 4096 = 170 · 24 + 16: 170 nonces per pool, then a new pool.
    expect(src.calls()).toBe(Math.ceil(1000 / 170));
    const expected = concat(...src.pools.map((p) => p.subarray(0, 170 * 24))).subarray(0, 1000 * 24);
    expect(toHex(concat(...nonces))).toBe(toHex(expected));
    expect(new Set(nonces.map(toHex)).size).toBe(1000);
  });

  test("a caller changing what it got changes nothing else handed out", () => {
    const rng = bufferedRng(seededRng(utf8("buffered rng copies")), 64);
    const a = rng(16);
    const b = rng(16);
    const bCopy = b.slice();
    a.fill(0);
    expect(b).toEqual(bCopy);
    expect(new Set([toHex(rng(16)), toHex(rng(16)), toHex(bCopy)]).size).toBe(3);
  });

  test("a request larger than a pool goes to the source; the pool is kept", () => {
    const src = recording("buffered rng large");
    const rng = bufferedRng(src.rng, 32);
    const first = rng(8);
    const big = rng(100);
    expect(big).toEqual(src.pools[1]);
    const next = rng(8);
    expect(toHex(concat(first, next))).toBe(toHex(src.pools[0]!.subarray(0, 16)));
  });

  test("a source that throws leaves nothing to hand out: the next request asks it again", () => {
    let fail = false;
    const inner = seededRng(utf8("buffered rng failing"));
    const rng = bufferedRng((n) => {
      if (fail) throw new Error("no entropy");
      return inner(n);
    }, 32);
    rng(24);
    fail = true;
    expect(() => rng(24)).toThrow("no entropy");
    // 8 bytes were left in the old pool; they are gone, not handed out (nor zeroes).
    expect(() => rng(4)).toThrow("no entropy");
    fail = false;
    expect(rng(4)).not.toEqual(new Uint8Array(4));
  });
  test("a request that is not a whole number ≥ 0 is refused, so nothing handed out comes again", () => {
    const r = bufferedRng(seededRng(utf8("buffered-rng counts")), 64);
    const first = r(8);
    for (const n of [-4, 0.5, Number.NaN]) expect(() => r(n)).toThrow("whole number");
    const next = r(8);
    expect(toHex(next)).not.toBe(toHex(first));
    expect(next.some((b) => b !== 0)).toBe(true);
    expect(r(0)).toEqual(new Uint8Array(0));
  });
});
