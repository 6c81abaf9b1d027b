/**
 * The published vectors: `smsg vectors verify` (the built binary) accepts the committed files,
 * and a changed byte makes it fail, naming the first mismatch. That any single changed byte
 * anywhere in a file is caught is vectors-one-byte.test.ts (its own file, so that the two
 * workers can run it beside this one).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { canonicalVectorText } from "../../crypto/vectors/index.js";
import { PUBLISHED_VECTOR_SUITES as VECTOR_SUITES } from "../../client/commands/vector-files.js";

const root = join(import.meta.dirname, "..", "..");
const cli = join(root, "dist", "bin", "smsg.js");
const vectorDir = join(root, "test", "vectors");
const smsg = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

describe("published vectors (test/vectors/)", () => {
  test("every suite has its committed file, and generate reproduces it byte for byte", () => {
    for (const suite of VECTOR_SUITES) {
      const committed = readFileSync(join(vectorDir, suite.file), "utf8");
      expect(canonicalVectorText(suite.generate()), suite.file).toBe(committed);
    }
    const files = readdirSync(vectorDir)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(files).toEqual(VECTOR_SUITES.map((s) => s.file).sort());
  });

  test("`smsg vectors verify` exits 0 on the committed files", () => {
    const r = smsg("vectors", "verify");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${VECTOR_SUITES.length} of ${VECTOR_SUITES.length} vector files verified`);
  });

  test("`smsg vectors verify` exits 3 and names the mismatch when one byte of a file changes", () => {
    const dir = mkdtempSync(join(tmpdir(), "smsg-vectors-"));
    const text = readFileSync(join(vectorDir, "ratchet.json"), "utf8");
    const at = text.indexOf('"message": "') + '"message": "'.length + 8;
    const flipped = text.slice(0, at) + (text[at] === "0" ? "1" : "0") + text.slice(at + 1);
    const file = join(dir, "ratchet.json");
    writeFileSync(file, flipped);
    const r = smsg("vectors", "verify", file);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/MISMATCH .*ratchet\.json: \$\.events\[0\]\.message: file has/);
    // --json reports it as an event too.
    const j = smsg("--json", "vectors", "verify", file);
    expect(j.status).toBe(3);
    expect(JSON.parse(j.stdout.trim())).toMatchObject({ v: 1, type: "vector_verified", ok: false });
  });

  test("verify fails on a missing file and on an unknown suite", () => {
    expect(smsg("vectors", "verify", "/nonexistent/x3dh.json").status).toBe(3);
    const dir = mkdtempSync(join(tmpdir(), "smsg-vectors-"));
    writeFileSync(join(dir, "other.json"), "{}\n");
    expect(smsg("vectors", "verify", join(dir, "other.json")).status).toBe(3);
  });

  test("the generate command writes the same files", () => {
    const dir = mkdtempSync(join(tmpdir(), "smsg-vectors-gen-"));
    execFileSync(process.execPath, [cli, "vectors", "generate", "--out", dir]);
    for (const suite of VECTOR_SUITES) {
      expect(readFileSync(join(dir, suite.file), "utf8")).toBe(readFileSync(join(vectorDir, suite.file), "utf8"));
    }
  });
});
