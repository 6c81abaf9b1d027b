/** TokenBucket (relay/limits/token-bucket.ts): refills at its rate up to its burst, takes n or none. */
import { describe, expect, test } from "vitest";
import { TokenBucket } from "../../relay/limits/token-bucket.js";

describe("TokenBucket", () => {
  test("takes n tokens only when there are n, and refills at its rate up to the burst", () => {
    const b = new TokenBucket(10, 5, 0);
    expect(b.take(0, 6)).toBe(false); // more than the burst: none taken
    expect(b.take(0, 5)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(100)).toBe(true); // 100 ms at 10/s: one token back
    expect(b.take(100_000, 5)).toBe(true); // never more than the burst saved up
    expect(b.take(100_000)).toBe(false);
    expect(b.take(100_000, 0)).toBe(true); // nothing asked, nothing taken
  });

  test("refuses a count that is not a whole number ≥ 0, so it can never add tokens", () => {
    const b = new TokenBucket(10, 5, 0);
    for (const n of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => b.take(0, n)).toThrow(RangeError);
    expect(b.take(0, 5)).toBe(true);
    expect(b.take(0)).toBe(false);
  });
});
