/**
 * How the client commands end: every error is one clear sentence on stderr and the exit code of
 * its kind (src/exit-codes.ts), matched on the error's stable `code` (src/errors.ts and the
 * codes of client/engine, client/profile, client/store).
 */
import { SmsgError } from "../../src/errors.js";
import { EXIT } from "../../src/exit-codes.js";
import { storageFailureSentence } from "./storage-failure.js";

/** Error code → exit code. Codes not listed exit with EXIT.failure. */
export const EXIT_BY_CODE: Readonly<Record<string, number>> = {
  USAGE: EXIT.usage,
  PROFILE_NOT_FOUND: EXIT.noProfile,
  NOT_JOINED: EXIT.noProfile,
  PROFILE_EXISTS: EXIT.profileExists,
  WRONG_PASSPHRASE: EXIT.wrongPassphrase,
  PASSPHRASE_REQUIRED: EXIT.passphraseRequired,
  RELAY_UNREACHABLE: EXIT.relayUnreachable,
  QUEUED_OFFLINE: EXIT.relayUnreachable,
  JOIN_UNCONFIRMED: EXIT.relayUnreachable,
  CONNECTION_CLOSED: EXIT.relayUnreachable,
  TIMEOUT: EXIT.relayUnreachable,
  SHUTTING_DOWN: EXIT.relayUnreachable,
  UNAVAILABLE: EXIT.relayUnreachable,
  LOGIN_FAILED: EXIT.loginFailed,
  AUTH_FAILED: EXIT.loginFailed,
  ACCOUNT_DISABLED: EXIT.accountDisabled,
  INVITE_INVALID: EXIT.inviteInvalid,
  USERNAME_TAKEN: EXIT.usernameTaken,
  USERNAME_INVALID: EXIT.usernameTaken,
  USER_UNKNOWN: EXIT.userUnknown,
  CHAT_NOT_FOUND: EXIT.chatNotFound,
  CHAT_AMBIGUOUS: EXIT.chatNotFound,
  CHAT_UNKNOWN: EXIT.chatNotFound,
  CHAT_CLOSED: EXIT.chatClosed,
  NOT_A_MEMBER: EXIT.notAMember,
  NOT_CHAT_ADMIN: EXIT.notAMember,
  KEY_CHANGED: EXIT.keyChanged,
  RATE_LIMITED: EXIT.rateLimited,
  NOT_SUPPORTED: EXIT.notSupported,
};

/** The exit code for an error thrown by a client command. */
export function exitCodeOf(err: unknown): number {
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
