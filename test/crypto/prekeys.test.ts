/** Prekey generation (SECURITY.md §4.2): ids are u32 and never wrap. */
import { describe, expect, test } from "vitest";
import { utf8 } from "../../crypto/bytes.js";
import { UsageError } from "../../crypto/errors.js";
import { generateIdentity } from "../../crypto/identity.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../crypto/prekeys.js";
import { seededRng } from "../../crypto/rng.js";

const rng = () => seededRng(utf8("prekey test randomness"));

describe("one-time prekeys", () => {
  test("ids run from startId, one key of 32 bytes each", () => {
    const keys = generateOneTimePrekeys(rng(), 0xfffffffd, 3);
    expect(keys.map((k) => k.id)).toEqual([0xfffffffd, 0xfffffffe, 0xffffffff]);
    for (const k of keys) expect(k.keyPair.privateKey).toHaveLength(32);
    expect(generateOneTimePrekeys(rng(), 5, 0)).toEqual([]);
  });

  test("ids that would pass 2^32 − 1 are refused rather than wrapped to 0", () => {
    expect(() => generateOneTimePrekeys(rng(), 0xfffffffe, 3)).toThrow(UsageError);
    expect(() => generateOneTimePrekeys(rng(), 0xffffffff, 2)).toThrow(UsageError);
  });

  test.each([
    ["negative start", -1, 1],
    ["fractional start", 1.5, 1],
    ["start beyond u32", 2 ** 32, 1],
    ["NaN start", Number.NaN, 1],
    ["negative count", 0, -1],
    ["fractional count", 0, 2.5],
    ["infinite count", 0, Number.POSITIVE_INFINITY],
  ])("refuses a %s (UsageError)", (_, startId, count) => {
    expect(() => generateOneTimePrekeys(rng(), startId, count)).toThrow(UsageError);
  });
});

describe("signed prekeys", () => {
  test("an id that is not a u32 is refused", () => {
    const identity = generateIdentity(rng());
    for (const id of [-1, 2 ** 32, 0.5]) expect(() => generateSignedPrekey(rng(), identity, id)).toThrow(UsageError);
    expect(generateSignedPrekey(rng(), identity, 0xffffffff).id).toBe(0xffffffff);
  });
});
