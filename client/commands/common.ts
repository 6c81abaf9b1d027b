/**
 * What the client commands share: the profile options (`--profile NAME`, `SMSG_HOME`,
 * `--passphrase-file`), getting the passphrase (file, SMSG_PASSPHRASE, or a prompt on a
 * terminal), opening the account, going online, and reading a message from stdin.
 */
import { readFileSync } from "node:fs";
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import type { EngineEvent } from "../engine/events.js";
import { type Account, closeAccount, openLocalAccount } from "../engine/open-account.js";
import { type Online, goOnline } from "../engine/online.js";
import { type PassphraseKind, PassphraseRequiredError } from "../profile/errors.js";
import { keystoreProtection } from "../profile/keystore.js";
import { envPassphrase } from "../profile/passphrase.js";
import { resolveProfileDir } from "../profile/paths.js";
import { errorSentence } from "./exit.js";
import { eventLine, syncProgress, warn } from "./output.js";

/** The options every client command has. */
export interface ProfileArgs {
  readonly profile?: string | undefined;
  readonly "passphrase-file"?: string | undefined;
  readonly json: boolean;
}

/** Adds `--profile` and `--passphrase-file` to a command. */
export function withProfileOptions<T>(y: Argv<T>) {
  return y
    .option("profile", {
      type: "string",
      describe: 'Profile name (default "default"; SMSG_HOME, when set, is the profile folder itself)',
    })
    .option("passphrase-file", {
      type: "string",
      describe: "Read the profile's passphrase from this file (first line); else SMSG_PASSPHRASE, else a prompt",
    });
}

/** The profile folder the arguments and the environment select (client/profile/paths.ts). */
export function profileDirOf(argv: ProfileArgs): string {
  return resolveProfileDir({ profile: argv.profile, env: process.env });
}

/** The first line of a passphrase file. Throws UsageError when it cannot be read or is empty. */
export function readPassphraseFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the passphrase file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const line = text.split(/\r?\n/)[0] ?? "";
  if (line === "") throw new UsageError(`the passphrase file ${path} is empty`);
  return line;
}

/**
 * A passphrase given without asking: `--passphrase-file`, else SMSG_PASSPHRASE; undefined when
 * neither is set.
 */
export function givenPassphrase(argv: ProfileArgs): string | undefined {
  const file = argv["passphrase-file"];
  if (file !== undefined) return readPassphraseFile(file);
  return envPassphrase(process.env);
}

/**
 * Reads a line from the terminal without echoing it. Throws PassphraseRequiredError for `kind`
 * (its sentence says where that passphrase can come from) when stdin is not a terminal,
 * UsageError when the user presses Ctrl-C.
 */
export function promptHidden(question: string, kind: PassphraseKind): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new PassphraseRequiredError(kind));
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    let buf = "";
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return finish();
        if (ch === "\u0003") return finish(new UsageError("cancelled"));
        if (ch === "\u007f" || ch === "\b") buf = [...buf].slice(0, -1).join("");
        else buf += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/**
 * The passphrase to open the profile in `dir` with: undefined for a profile without one (so a
 * global SMSG_PASSPHRASE does not disturb it), else the given one, else a prompt on a terminal.
 * Throws ProfileNotFoundError, PassphraseRequiredError, UsageError.
 */
export async function passphraseFor(argv: ProfileArgs, dir: string): Promise<string | undefined> {
  if (keystoreProtection(dir) === "none") return undefined;
  return givenPassphrase(argv) ?? (await promptHidden("Passphrase: ", "profile"));
}

/** Opens the selected profile's account (no network). Throws what openLocalAccount throws. */
export async function openAccountOf(argv: ProfileArgs): Promise<Account> {
  const dir = profileDirOf(argv);
  const passphrase = await passphraseFor(argv, dir);
  return openLocalAccount({ dir, passphrase });
}

/** Display names as this profile knows them: ours, and each contact's (for sender labels). */
export function displayNameOf(acct: Account): (username: string) => string | null | undefined {
  return (u) =>
    u === acct.username ? acct.displayName : acct.store.isOpen ? acct.store.contacts.get(u)?.displayName : undefined;
}

/** Prints a warning for something that did not stop the command. */
export function warnError(err: unknown): void {
  warn(errorSentence(err));
}

/**
 * Reports, for a one-shot command, what the sync brought that the user must not miss: key
 * changes, gaps, undecryptable messages, our leaving a group and device lists (as warnings on stderr). Messages
 * themselves are the
 * command's own business (`history` shows them).
 */
export function warnOnEvent(e: EngineEvent): void {
  if (
    e.type === "key_change" ||
    e.type === "gap" ||
    e.type === "undecryptable" ||
    e.type === "departed" ||
    e.type === "device_list"
  )
    process.stderr.write(`smsg: ${eventLine(e)}\n`);
}

/**
 * Opens the account, goes online (login, prekeys, outbox, sync), runs `fn`, refreshes the
 * passphrase backup when `fn` changed the state or the sync did (SECURITY.md §18.6 "Update";
 * nothing is sent otherwise, and a failure is one warning), and closes everything whatever
 * happens. Outbox entries the relay refused are reported as warnings.
 */
export async function withOnlineAccount<T>(
  argv: ProfileArgs,
  fn: (acct: Account, online: Online) => Promise<T>,
): Promise<T> {
  const acct = await openAccountOf(argv);
  try {
    const progress = syncProgress(argv.json);
    let online: Online;
    try {
      online = await goOnline(acct, {
        onEvent: warnOnEvent,
        onWarning: warnError,
        onSyncProgress: progress.onSyncProgress,
      });
    } finally {
      progress.done();
    }
    try {
      for (const f of online.flushed.failed)
        warn(`message #${f.messageId ?? "?"} in chat ${f.chat} was not delivered: ${f.reason}`);
      const result = await fn(acct, online);
      await online.backup.refresh();
      return result;
    } finally {
      online.close();
    }
  } finally {
    closeAccount(acct);
  }
}

/** Adds `--passphrase` to a command that makes a new profile (join, login, device add). */
export function withNewProfilePassphraseOption<T>(y: Argv<T>) {
  return y.option("passphrase", {
    type: "boolean",
    default: false,
    describe: "Protect the new profile with a passphrase (SMSG_PASSPHRASE, --passphrase-file, or typed)",
  });
}

/** Adds `--offline` to a command that can answer from what the profile has stored. */
export function withOfflineOption<T>(y: Argv<T>) {
  return y.option("offline", {
    type: "boolean",
    default: false,
    describe: "Do not contact the relay: answer from what this profile has stored",
  });
}

/**
 * Runs `fn` with the account: online as withOnlineAccount does, or, with `--offline`, with the
 * profile alone (`online` is undefined: nothing is sent or fetched). Every command that reads
 * only what the profile stores takes `--offline` through this, the same way.
 */
export async function withAccount<T>(
  argv: ProfileArgs & { readonly offline?: boolean },
  fn: (acct: Account, online: Online | undefined) => Promise<T>,
): Promise<T> {
  if (!argv.offline) return withOnlineAccount(argv, fn);
  const acct = await openAccountOf(argv);
  try {
    return await fn(acct, undefined);
  } finally {
    closeAccount(acct);
  }
}

/** Reads all of stdin as UTF-8 text (for `send` without TEXT). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}
