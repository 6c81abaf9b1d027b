/**
 * The published vectors (test/vectors/): any single changed byte, anywhere in a file, makes its
 * verification fail. In-process, so it can try many positions (`smsg vectors verify` itself is
 * vectors-cli.test.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { suiteFor, verifyVectorText } from "../../crypto/vectors/index.js";
import { PUBLISHED_VECTOR_SUITES as VECTOR_SUITES } from "../../client/commands/vector-files.js";

const vectorDir = join(import.meta.dirname, "..", "vectors");

describe("published vectors (test/vectors/): one changed byte", () => {
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
});
