/**
 * `smsg vectors generate|verify`: writes the protocol's test vectors from fixed seeds, and
 * recomputes committed ones value by value (SECURITY.md "How to audit").
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Argv } from "yargs";
import { VECTOR_SUITES, canonicalVectorText, suiteFor, verifyVectorText } from "../../crypto/vectors/index.js";
import { EXIT } from "../../src/exit-codes.js";
import { compactFrameVectors } from "../../src/wire/compact-frame-vectors.js";
import { packageRoot } from "../../src/paths.js";
import { printJson } from "./output.js";

/** The end-to-end suites and the wire protocol's (SECURITY.md §14.9), which crypto/ cannot import. */
export const PUBLISHED_VECTOR_SUITES = [...VECTOR_SUITES, compactFrameVectors];

const defaultDir = () => join(packageRoot(), "test", "vectors");

interface FileResult {
  file: string;
  ok: boolean;
  problem?: string;
}

/** Verifies each file; with none given, every .json file in test/vectors/. */
export function verifyVectorFiles(files: string[]): FileResult[] {
  const targets = files.length > 0 ? files.map((f) => resolve(f)) : listVectorFiles(defaultDir());
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

export function vectorsCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command("vectors", "Generate or verify the protocol test vectors (test/vectors/)", (v) =>
    v
      .command(
        "generate",
        "Write every vector file from its fixed seed",
        (a) =>
          a.option("out", {
            type: "string",
            describe: "Folder to write into",
            default: undefined as string | undefined,
          }),
        (argv) => {
          const written = generateVectorFiles(argv.out ?? defaultDir());
          if (argv.json) for (const f of written) printJson("vector_written", { file: f });
          else for (const f of written) console.log(`wrote ${f}`);
        },
      )
      .command(
        "verify [files..]",
        "Recompute every value of the given vector files (default: all of test/vectors/) and report the first mismatch",
        (a) => a.positional("files", { type: "string", array: true, describe: "Vector files" }),
        (argv) => {
          const results = verifyVectorFiles((argv.files as string[] | undefined) ?? []);
          for (const r of results) {
            if (argv.json)
              printJson("vector_verified", { file: r.file, ok: r.ok, ...(r.problem ? { problem: r.problem } : {}) });
            else if (r.ok) console.log(`ok       ${r.file}`);
            else console.error(`MISMATCH ${r.file}: ${r.problem}`);
          }
          const failed = results.filter((r) => !r.ok).length;
          if (!argv.json) console.log(`${results.length - failed} of ${results.length} vector files verified`);
          if (failed > 0 || results.length === 0) process.exitCode = EXIT.verificationFailed;
        },
      )
      .demandCommand(1, "Say generate or verify."),
  );
}
