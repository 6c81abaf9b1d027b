/**
 * The relay throws only typed error codes (docs/ARCHITECTURE.md §5.2): its files take
 * SmsgError from src/errors.ts, whose constructor accepts only a code of ERROR_CODES or
 * LOCAL_ERROR_CODES, never the untyped base in crypto/errors.ts, so a misspelled code does not
 * compile and every code has its exit code in EXIT_BY_CODE (test/client/exit-codes.test.ts).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { isSmsgCode } from "../../src/errors.js";
import { EXIT, EXIT_BY_CODE } from "../../src/exit-codes.js";
import { packageRoot } from "../../src/paths.js";

const relayDir = join(packageRoot(), "relay");
const sources = (readdirSync(relayDir, { recursive: true }) as string[])
  .filter((f) => f.endsWith(".ts"))
  .map((f) => ({ file: f, text: readFileSync(join(relayDir, f), "utf8") }));

describe("the relay's error codes", () => {
  test("no relay file imports the untyped SmsgError base of crypto/errors.ts", () => {
    expect(sources.filter((s) => /from "(\.\.\/)+crypto\/errors\.js"/.test(s.text)).map((s) => s.file)).toEqual([]);
  });

  test("every code the relay throws by name is in the tables, with an exit code", () => {
    const codes = new Set<string>();
    for (const { text } of sources) {
      for (const m of text.matchAll(/(?:SmsgError|super|refuse)\(\s*"([A-Z_]+)"/g)) codes.add(m[1]!);
    }
    expect(codes.size).toBeGreaterThan(20);
    for (const code of codes) {
      expect(isSmsgCode(code), code).toBe(true);
      expect(Object.values(EXIT), code).toContain(EXIT_BY_CODE[code as keyof typeof EXIT_BY_CODE]);
    }
  });
});
