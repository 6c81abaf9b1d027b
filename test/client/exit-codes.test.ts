/**
 * README.md "Exit codes" lists exactly the codes of src/exit-codes.ts, and every error code the
 * client maps (client/commands/exit.ts) exits with one of them; storage failures (disk full,
 * read-only, damaged database) get their own code and a sentence that says what to do.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXIT_BY_CODE, errorSentence, exitCodeOf } from "../../client/commands/exit.js";
import { EXIT } from "../../src/exit-codes.js";
import { packageRoot } from "../../src/paths.js";

const readme = readFileSync(join(packageRoot(), "README.md"), "utf8");

/** The codes in the table after README's "Exit codes" heading. */
function readmeCodes(): number[] {
  const start = readme.search(/^## Exit codes/m);
  expect(start, 'README.md has no section "Exit codes"').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf("\n## ", start + 1);
  const rows = readme
    .slice(start, end === -1 ? undefined : end)
    .split("\n")
    .filter((l) => /^\| \d+ \|/.test(l));
  return rows.map((l) => Number(/^\| (\d+) \|/.exec(l)![1]));
}

describe("exit codes", () => {
  test("README's table lists exactly the codes of src/exit-codes.ts", () => {
    expect(readmeCodes()).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });

  test("every mapped error code exits with a listed code", () => {
    const codes = new Set<number>(Object.values(EXIT));
    for (const [code, exit] of Object.entries(EXIT_BY_CODE)) expect(codes.has(exit), code).toBe(true);
  });

  test("storage failures: a sentence to act on and exit code 20; other errors are not taken for them", () => {
    const fail = (code: string, message = "x") => Object.assign(new Error(message), { code });
    expect(errorSentence(fail("SQLITE_FULL", "database or disk is full"))).toMatch(
      /disk holding the profile is full: what was being written was not stored/,
    );
    expect(errorSentence(fail("ENOSPC"))).toMatch(/is full/);
    expect(errorSentence(fail("SQLITE_BUSY_SNAPSHOT"))).toMatch(/another smsg process kept the profile locked/);
    expect(errorSentence(fail("SQLITE_READONLY"))).toMatch(/cannot be written/);
    expect(errorSentence(fail("SQLITE_CORRUPT"))).toMatch(/is damaged: restore the profile from an export/);
    expect(errorSentence(fail("SQLITE_IOERR_WRITE"))).toMatch(/input\/output error/);
    for (const c of ["SQLITE_FULL", "ENOSPC", "SQLITE_BUSY", "SQLITE_READONLY", "SQLITE_NOTADB", "SQLITE_IOERR_FSYNC"])
      expect(exitCodeOf(fail(c)), c).toBe(EXIT.storage);
    expect(exitCodeOf(fail("ECONNRESET"))).toBe(EXIT.failure);
    expect(errorSentence(fail("ECONNRESET", "socket hang up"))).toBe("unexpected error: socket hang up");
  });
});
