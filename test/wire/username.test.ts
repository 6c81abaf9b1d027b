/** Usernames (SECURITY.md §14.5): the canonical form and its rule. */
import { describe, expect, test } from "vitest";
import { UsageError } from "../../src/errors.js";
import { isValidUsername, normalizeUsername, tryNormalizeUsername } from "../../src/wire/index.js";

describe("usernames", () => {
  test("ASCII letters are lowercased, the rest kept", () => {
    expect(normalizeUsername("Alice")).toBe("alice");
    expect(normalizeUsername("BOB.Smith-2_X")).toBe("bob.smith-2_x");
    expect(normalizeUsername("0xy")).toBe("0xy");
    expect(normalizeUsername("a".repeat(32))).toBe("a".repeat(32));
  });

  test("the rule: 3..32 of a-z 0-9 _ . -, starting with a letter or digit", () => {
    for (const bad of ["ab", "a".repeat(33), "_ab", ".ab", "-ab", "a b", "ab!", "", "al\u0131ce", "élise", "ab\n"]) {
      expect(tryNormalizeUsername(bad)).toBeUndefined();
      expect(() => normalizeUsername(bad)).toThrow(UsageError);
    }
  });

  test("no Unicode case folding: look-alikes stay invalid", () => {
    // KELVIN SIGN lowercases to "k" and DOTTED CAPITAL I to "i̇" under toLowerCase.
    expect(tryNormalizeUsername("\u212Aate")).toBeUndefined();
    expect(tryNormalizeUsername("\u0130van")).toBeUndefined();
  });

  test("isValidUsername checks the canonical form only", () => {
    expect(isValidUsername("alice")).toBe(true);
    expect(isValidUsername("Alice")).toBe(false);
  });
});
