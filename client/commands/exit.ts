/**
 * How the client commands end: every error is one clear sentence on stderr and the exit code of
 * its kind, matched on the error's stable `code`: src/exit-codes.ts EXIT_BY_CODE gives every code
 * of src/errors.ts (ERROR_CODES, LOCAL_ERROR_CODES) its exit code.
 */
import { SmsgError } from "../../src/errors.js";
import { EXIT, EXIT_BY_CODE } from "../../src/exit-codes.js";
import { storageFailureSentence } from "./storage-failure.js";

/** The exit code for an error thrown by a client command. */
export function exitCodeOf(err: unknown): number {
  // An SmsgError's code is always in the table; `?? failure` only guards a code that is not.
  if (err instanceof SmsgError) return EXIT_BY_CODE[err.code] ?? EXIT.failure;
  if (storageFailureSentence(err) !== undefined) return EXIT.storage;
  return EXIT.failure;
}

/** The one sentence printed for an error (without the "smsg: " prefix). */
export function errorSentence(err: unknown): string {
  if (err instanceof SmsgError) return err.message;
  const storage = storageFailureSentence(err);
  if (storage !== undefined) return storage;
  if (err instanceof Error) return `unexpected error: ${err.message}`;
  return `unexpected error: ${String(err)}`;
}

/**
 * Runs a command's body: on an error prints `smsg: SENTENCE` on stderr and sets the exit code of
 * its kind instead of throwing (so yargs prints no usage text for a failure that is not one).
 */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (err) {
    process.stderr.write(`smsg: ${errorSentence(err)}\n`);
    process.exitCode = exitCodeOf(err);
  }
}
