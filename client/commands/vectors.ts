/**
 * `smsg vectors generate|verify`: writes the protocol's test vectors from fixed seeds, and
 * recomputes committed ones value by value (SECURITY.md "How to audit"). The work is in
 * vector-files.ts, imported only when a vectors command runs (docs/ARCHITECTURE.md §5.12).
 */
import type { Argv } from "yargs";
import { EXIT } from "../../src/exit-codes.js";
import { printJson } from "./output.js";

/** The generators and checkers, imported only when a vectors command runs. */
const files = () => import("./vector-files.js");

/** Mounts `vectors generate` and `vectors verify`. */
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
        async (argv) => {
          const { defaultVectorDir, generateVectorFiles } = await files();
          const written = generateVectorFiles(argv.out ?? defaultVectorDir());
          if (argv.json) for (const f of written) printJson("vector_written", { file: f });
          else for (const f of written) console.log(`wrote ${f}`);
        },
      )
      .command(
        "verify [files..]",
        "Recompute every value of the given vector files (default: all of test/vectors/) and report the first mismatch",
        (a) => a.positional("files", { type: "string", array: true, describe: "Vector files" }),
        async (argv) => {
          const results = (await files()).verifyVectorFiles((argv.files as string[] | undefined) ?? []);
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
