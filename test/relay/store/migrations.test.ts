/** The migration runner's file handling (no database): naming, ordering, refusal of misnamed files. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { listMigrations, migrationsDir } from "../../../relay/store/migrate.js";

describe("listMigrations", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smsg-migrations-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test("migrationsDir holds 0001_init.sql", () => {
    const list = listMigrations(migrationsDir());
    expect(list[0]?.version).toBe(1);
    expect(list[0]?.name).toBe("0001_init.sql");
    expect(readFileSync(list[0]!.path, "utf8")).toContain("CREATE TABLE messages");
  });

  test("orders numerically (2 before 10) and ignores files that are not .sql", () => {
    for (const f of ["0010_ten.sql", "0002_two.sql", "README.md", "0001_one.sql"]) writeFileSync(join(dir, f), "");
    expect(listMigrations(dir).map((m) => m.version)).toEqual([1, 2, 10]);
  });

  test.each([["init.sql"], ["0000_zero.sql"], ["0003 spaces.sql"], ["3.sql"]])(
    "refuses a misnamed file: %s",
    (name) => {
      writeFileSync(join(dir, name), "");
      expect(() => listMigrations(dir)).toThrow(/NNNN_name\.sql/);
    },
  );

  test("refuses two files with one version", () => {
    writeFileSync(join(dir, "0001_a.sql"), "");
    writeFileSync(join(dir, "1_b.sql"), "");
    expect(() => listMigrations(dir)).toThrow(/share version 1/);
  });
});
