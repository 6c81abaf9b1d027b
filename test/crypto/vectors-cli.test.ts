/**
 * The published vectors: `smsg vectors verify` (the built binary) accepts the committed files,
 * and any single changed byte anywhere in a file makes it fail, naming the first mismatch.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { canonicalVectorText, suiteFor, verifyVectorText } from "../../crypto/vectors/index.js";
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

  // In-process, so it can try many positions: any single changed byte, anywhere, is caught.
  for (const suite of VECTOR_SUITES) {
    test(`${suite.file}: changing any one byte makes verification fail`, () => {
      const text = readFileSync(join(vectorDir, suite.file), "utf8");
      expect(verifyVectorText(suite, text)).toBeNull();
      // Some files take long to recompute (safety-number.json: 31,200 SHA-512s; the rule-case files:
      // thousands of messages or BigInt point arithmetic), so they get fewer positions.
      const slow: Record<string, number> = {
        "safety-number.json": 30,
        "ratchet-cases.json": 40,
        "sender-key-cases.json": 40,
        "signatures.json": 40,
        "device-list.json": 30,
        "device-link.json": 60,
      };
      const numRuns = slow[suite.file] ?? 150;
      const positions = fc.sample(fc.nat({ max: text.length - 1 }), { numRuns, seed: 42 });
      for (const pos of [0, text.length - 1, ...positions]) {
        const code = text.charCodeAt(pos);
        for (const replacement of [code ^ 0x01, 0x30 + ((code + 1) % 10)]) {
          if (replacement === code) continue;
          const changed = text.slice(0, pos) + String.fromCharCode(replacement) + text.slice(pos + 1);
          const s = suiteFor(suite.file, changed, VECTOR_SUITES) ?? suite;
          expect(verifyVectorText(s, changed), `byte ${pos} changed to ${replacement}`).not.toBeNull();
        }
      }
    }, 300_000);
  }

  test("the generate command writes the same files", () => {
    const dir = mkdtempSync(join(tmpdir(), "smsg-vectors-gen-"));
    execFileSync(process.execPath, [cli, "vectors", "generate", "--out", dir]);
    for (const suite of VECTOR_SUITES) {
      expect(readFileSync(join(dir, suite.file), "utf8")).toBe(readFileSync(join(vectorDir, suite.file), "utf8"));
    }
  });
});
