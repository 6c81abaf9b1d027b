/**
 * `smsg export FILE [--force]`: writes the whole profile (keys, sessions, contacts, history) to
 * FILE as one passphrase-encrypted file (client/profile/export.ts), for moving to another
 * machine with `smsg import`. The export passphrase is its own (not the profile's): from
 * `--passphrase-file`, else SMSG_EXPORT_PASSPHRASE, else asked twice on a terminal. A profile
 * protected by a passphrase keeps needing it after import.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { systemRng } from "../../src/system-rng.js";
import { type StepListener, exportProfile } from "../profile/export.js";
import { ProfileNotFoundError } from "../profile/errors.js";
import { KEYSTORE_FILE, STORE_FILE } from "../profile/paths.js";
import { promptHidden, readPassphraseFile } from "./common.js";
import { profileDirOf } from "./common.js";
import { runCommand } from "./exit.js";
import { type StatusStream, fitStatusLine, printJson, printLine } from "./output.js";

/** The environment variable that gives the export file's passphrase without a prompt. */
export const EXPORT_PASSPHRASE_ENV = "SMSG_EXPORT_PASSPHRASE";

/** The options of export and import. */
export interface TransferArgs {
  readonly profile?: string | undefined;
  readonly "passphrase-file"?: string | undefined;
  readonly json: boolean;
  readonly force: boolean;
  readonly file: string;
}

/** Adds `--profile`, `--passphrase-file` (the export file's) and `--force`. */
export function withTransferOptions<T>(y: Argv<T>, force: string) {
  return y
    .positional("file", { type: "string", demandOption: true })
    .option("profile", {
      type: "string",
      describe: 'Profile name (default "default"; SMSG_HOME, when set, is the profile folder itself)',
    })
    .option("passphrase-file", {
      type: "string",
      describe: `Read the export file's passphrase from this file (first line); else ${EXPORT_PASSPHRASE_ENV}, else a prompt`,
    })
    .option("force", { type: "boolean", default: false, describe: force });
}

/**
 * The export file's passphrase: `--passphrase-file`, else SMSG_EXPORT_PASSPHRASE, else a hidden
 * prompt on a terminal (asked twice when `confirm`). Throws PassphraseRequiredError without a
 * terminal, UsageError when the two entries differ or it is empty.
 */
export async function exportPassphrase(args: TransferArgs, confirm: boolean): Promise<string> {
  const file = args["passphrase-file"];
  if (file !== undefined) return readPassphraseFile(file);
  const env = process.env[EXPORT_PASSPHRASE_ENV];
  if (env !== undefined && env !== "") return env;
  const p = await promptHidden("Export passphrase: ", "export file");
  if (p === "") throw new UsageError("a passphrase cannot be empty");
  if (confirm && (await promptHidden("Again: ", "export file")) !== p)
    throw new UsageError("the two passphrases differ; nothing was written");
  return p;
}

/**
 * Runs `fn` with a step progress bar on a terminal's stderr (`smsg: import [######······] 2/4
 * writing the profile`), redrawn before each step and erased at the end (cut to the terminal's
 * width, so it never wraps and leaves a row behind); nothing with --json or when stderr is not a
 * terminal. Returns what `fn` returns.
 */
export function withSteps<T>(
  json: boolean,
  label: string,
  fn: (onStep: StepListener) => T,
  out: StatusStream = process.stderr,
): T {
  const show = !json && Boolean(out.isTTY);
  const width = 12;
  const onStep: StepListener = (step, steps, what) => {
    if (!show) return;
    const filled = Math.round((width * (step - 1)) / steps);
    const bar = `[${"#".repeat(filled)}${"·".repeat(width - filled)}]`;
    out.write(`\r\x1b[2K${fitStatusLine(`smsg: ${label} ${bar} ${step}/${steps} ${what}…`, out)}`);
  };
  try {
    return fn(onStep);
  } finally {
    if (show) out.write("\r\x1b[2K");
  }
}

/** Mounts `export`. */
export function exportCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "export <file>",
    "Write the whole profile to FILE, encrypted under a passphrase (for smsg import on another machine)",
    (a) => withTransferOptions(a, "Replace FILE if it exists"),
    (argv) =>
      runCommand(async () => {
        const args = argv as unknown as TransferArgs;
        const dir = profileDirOf(args);
        if (!existsSync(join(dir, KEYSTORE_FILE)) || !existsSync(join(dir, STORE_FILE)))
          throw new ProfileNotFoundError(dir);
        const out = resolve(args.file);
        if (!args.force && existsSync(out)) throw new UsageError(`${args.file} already exists (--force replaces it)`);
        const passphrase = await exportPassphrase(args, true);
        withSteps(args.json, "export", (onStep) =>
          exportProfile(dir, out, passphrase, systemRng, { overwrite: args.force, onStep }),
        );
        if (args.json) printJson("exported", { file: out, profile_dir: dir });
        else printLine(`exported the profile to ${out}; on the new machine: smsg import ${args.file}`);
      }),
  );
}
