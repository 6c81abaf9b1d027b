/**
 * SECURITY.md §13 tells auditors that crypto/primitives.ts is the only caller of libsodium.
 * This keeps that true: no other file under crypto/ imports the sodium module or libsodium.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, test } from "vitest";

const cryptoDir = join(import.meta.dirname, "..", "..", "crypto");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("libsodium boundary (§13)", () => {
  test("only primitives.ts (and sodium.ts, which loads the library) touch libsodium", () => {
    const offenders = sources(cryptoDir)
      .map((f) => relative(cryptoDir, f))
      .filter((f) => f !== "primitives.ts" && f !== "sodium.ts")
      .filter((f) => {
        const text = readFileSync(join(cryptoDir, f), "utf8");
        return /from\s+["'][^"']*sodium[^"']*["']/.test(text) || /\bsodium\./.test(text);
      });
    expect(offenders).toEqual([]);
  });
});
