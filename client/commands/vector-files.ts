/**
 * The file work of `smsg vectors`: writes every suite's vector file from its fixed seed, and
 * recomputes committed ones value by value (SECURITY.md "How to audit"). Loaded only when a
 * vectors command runs (docs/ARCHITECTURE.md §5.12): the generators are most of the crypto code.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { VECTOR_SUITES, canonicalVectorText, suiteFor, verifyVectorText } from "../../crypto/vectors/index.js";
import { packageRoot } from "../../src/paths.js";
import { compactFrameVectors } from "../../src/wire/compact-frame-vectors.js";
import { accountStateVectors } from "../protocol/account-state-vectors.js";

/**
 * The end-to-end suites, the wire protocol's (SECURITY.md §14.9) and the account-state
 * snapshot's (§17.6.1), which crypto/ cannot import.
 */
export const PUBLISHED_VECTOR_SUITES = [...VECTOR_SUITES, compactFrameVectors, accountStateVectors];

/** Where the committed vector files live: test/vectors/ of the installed package. */
export const defaultVectorDir = () => join(packageRoot(), "test", "vectors");

/** How one file verified: ok, or the first problem found. */
export interface FileResult {
  file: string;
  ok: boolean;
  problem?: string;
}

/** Verifies each file; with none given, every .json file in test/vectors/. */
export function verifyVectorFiles(files: string[]): FileResult[] {
  const targets = files.length > 0 ? files.map((f) => resolve(f)) : listVectorFiles(defaultVectorDir());
  return targets.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      return { file, ok: false, problem: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    const suite = suiteFor(file, text, PUBLISHED_VECTOR_SUITES);
    if (!suite)
      return { file, ok: false, problem: 'not a known vector suite (no matching "suite" field or file name)' };
    const problem = verifyVectorText(suite, text);
    return problem ? { file, ok: false, problem } : { file, ok: true };
  });
}

function listVectorFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f));
}

/** Writes every suite's file into `dir`. */
export function generateVectorFiles(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return PUBLISHED_VECTOR_SUITES.map((s) => {
    const path = join(dir, s.file);
    writeFileSync(path, canonicalVectorText(s.generate()));
    return path;
  });
}
