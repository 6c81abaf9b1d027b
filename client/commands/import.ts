/**
 * `smsg import FILE [--profile NAME] [--force]`: makes the profile in an export file (smsg
 * export) the selected profile. Everything is decrypted and checked before anything is written:
 * a wrong passphrase exits with its code and writes nothing; an existing profile is replaced
 * only with `--force`. The export passphrase comes as for export.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { ProfileExistsError } from "../profile/errors.js";
import { importProfile } from "../profile/export.js";
import { keystoreProtection } from "../profile/keystore.js";
import { KEYSTORE_FILE, STORE_FILE } from "../profile/paths.js";
import { profileDirOf } from "./common.js";
import { type TransferArgs, exportPassphrase, withSteps, withTransferOptions } from "./export.js";
import { runCommand } from "./exit.js";
import { printJson, printLine } from "./output.js";

/** Mounts `import`. */
export function importCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "import <file>",
    "Make the profile in FILE (from smsg export) the selected profile",
    (a) => withTransferOptions(a, "Replace an existing profile"),
    (argv) =>
      runCommand(async () => {
        const args = argv as unknown as TransferArgs;
        const dir = profileDirOf(args);
        if (!existsSync(args.file)) throw new UsageError(`cannot read ${args.file}: no such file`);
        if (!args.force && (existsSync(join(dir, KEYSTORE_FILE)) || existsSync(join(dir, STORE_FILE))))
          throw new ProfileExistsError(dir);
        const passphrase = await exportPassphrase(args, false);
        withSteps(args.json, "import", (onStep) =>
          importProfile(args.file, dir, passphrase, { overwrite: args.force, onStep }),
        );
        const protectedBy = keystoreProtection(dir);
        if (args.json) printJson("imported", { profile_dir: dir, passphrase_protected: protectedBy !== "none" });
        else {
          printLine(`imported the profile into ${dir}`);
          if (protectedBy !== "none")
            printLine("the profile keeps its own passphrase (SMSG_PASSPHRASE or the prompt), as before");
        }
      }),
  );
}
