/**
 * Exit codes of `smsg`, fixed per kind of failure so scripts can branch on them.
 * README.md lists them; never renumber one, only add.
 */
import type { SmsgCode } from "./errors.js";

export const EXIT = {
  ok: 0,
  /** Something failed that has no more specific code. */
  failure: 1,
  /** The command line was wrong (unknown command, missing argument). */
  usage: 2,
  /** A check found a mismatch: `smsg vectors verify`. */
  verificationFailed: 3,
  /** No profile (or no account in it): join first. */
  noProfile: 4,
  /** `smsg join` would overwrite an existing profile. */
  profileExists: 5,
  /** The passphrase does not unlock the profile (nothing was changed). */
  wrongPassphrase: 6,
  /** The profile needs a passphrase and none was given (SMSG_PASSPHRASE, --passphrase-file, a terminal). */
  passphraseRequired: 7,
  /** The relay cannot be reached (a message that was queued is sent by the next command that reaches it). */
  relayUnreachable: 8,
  /** The relay refused the login: this profile's keys are not the account's. */
  loginFailed: 9,
  /** The relay's operator disabled this account. */
  accountDisabled: 10,
  /** The invite link is malformed, unknown, used up or expired. */
  inviteInvalid: 11,
  /** The username is taken or not allowed on this relay. */
  usernameTaken: 12,
  /** The relay has no such user, or its operator disabled that user's account. */
  userUnknown: 13,
  /** No chat matches the CHAT argument (or several do). */
  chatNotFound: 14,
  /** The chat is closed: reopen it first. */
  chatClosed: 15,
  /** The user is not a member of the chat, or not allowed to do this in it. */
  notAMember: 16,
  /** A contact's identity key changed: verify or accept it first (`smsg verify USER`). */
  keyChanged: 17,
  /** The relay asks to slow down (too many requests or failed logins). */
  rateLimited: 18,
  /** This version cannot do that. */
  notSupported: 19,
  /** The machine's storage failed under the profile (disk full, read-only, damaged database); nothing was changed. */
  storage: 20,
  /**
   * The relay's address answered but does not hold the relay key this profile (or the invite
   * link) pinned: possible impersonation, or the operator changed the key. Not retried.
   */
  relayKeyMismatch: 21,
} as const;

/** An exit code of `smsg`: a value of EXIT. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The exit code of every error code (src/errors.ts: ERROR_CODES and LOCAL_ERROR_CODES). The
 * table must name every code and nothing else, so a new code does not compile until it has
 * its exit code, and no code exits 1 by omission.
 */
export const EXIT_BY_CODE = {
  // Wire codes (ERROR_CODES), as the relay's answer to a client's request.
  BAD_FRAME: EXIT.failure,
  FRAME_TOO_LARGE: EXIT.failure,
  BAD_MESSAGE: EXIT.failure,
  UNKNOWN_TYPE: EXIT.failure,
  UNSUPPORTED_VERSION: EXIT.failure,
  UNEXPECTED_MESSAGE: EXIT.failure,
  NOT_AUTHENTICATED: EXIT.failure,
  AUTH_FAILED: EXIT.loginFailed,
  RATE_LIMITED: EXIT.rateLimited,
  INVITE_INVALID: EXIT.inviteInvalid,
  USERNAME_INVALID: EXIT.usernameTaken,
  USERNAME_TAKEN: EXIT.usernameTaken,
  USER_UNKNOWN: EXIT.userUnknown,
  USER_DISABLED: EXIT.userUnknown,
  ACCOUNT_DISABLED: EXIT.accountDisabled,
  CHAT_UNKNOWN: EXIT.chatNotFound,
  NOT_A_MEMBER: EXIT.notAMember,
  NOT_CHAT_ADMIN: EXIT.notAMember,
  CHAT_CLOSED: EXIT.chatClosed,
  CHAT_FULL: EXIT.failure,
  IDEMPOTENCY_CONFLICT: EXIT.failure,
  TOO_MANY_CONNECTIONS: EXIT.failure,
  SLOW_CONSUMER: EXIT.failure,
  TIMEOUT: EXIT.relayUnreachable,
  SHUTTING_DOWN: EXIT.relayUnreachable,
  UNAVAILABLE: EXIT.relayUnreachable,
  INTERNAL: EXIT.failure,
  DEVICE_LIST_STALE: EXIT.failure,
  DEVICE_UNKNOWN: EXIT.userUnknown,
  DEVICE_REMOVED: EXIT.loginFailed,
  LINK_UNKNOWN: EXIT.inviteInvalid,
  // Local codes (LOCAL_ERROR_CODES).
  CRYPTO_VERIFICATION: EXIT.failure,
  CODEC: EXIT.failure,
  USAGE: EXIT.usage,
  LIMIT: EXIT.failure,
  CONNECTION_CLOSED: EXIT.relayUnreachable,
  HANDSHAKE_REFUSED: EXIT.relayKeyMismatch,
  RELAY_UNREACHABLE: EXIT.relayUnreachable,
  QUEUED_OFFLINE: EXIT.relayUnreachable,
  NOT_JOINED: EXIT.noProfile,
  JOIN_UNCONFIRMED: EXIT.relayUnreachable,
  LOGIN_FAILED: EXIT.loginFailed,
  RELAY_KEY_MISMATCH: EXIT.relayKeyMismatch,
  KEY_CHANGED: EXIT.keyChanged,
  SEND_FAILED: EXIT.failure,
  GROUP_CHANGED: EXIT.failure,
  GROUP_WARNING: EXIT.failure,
  EVENTS_DROPPED: EXIT.failure,
  EVENT_DAMAGED: EXIT.failure,
  HELD_MISSING: EXIT.failure,
  NOT_SUPPORTED: EXIT.notSupported,
  PROFILE_NOT_FOUND: EXIT.noProfile,
  PROFILE_EXISTS: EXIT.profileExists,
  WRONG_PASSPHRASE: EXIT.wrongPassphrase,
  PASSPHRASE_REQUIRED: EXIT.passphraseRequired,
  CHAT_NOT_FOUND: EXIT.chatNotFound,
  CHAT_AMBIGUOUS: EXIT.chatNotFound,
  STORE_TOO_NEW: EXIT.notSupported,
  STORE_KEY_MISMATCH: EXIT.failure,
  CONFIG: EXIT.failure,
  ADMIN: EXIT.failure,
  UNSAFE_DURABILITY: EXIT.failure,
  DATABASE_UNREACHABLE: EXIT.failure,
  // The relay process's own failures: the command line was valid, the machine or the data
  // folder is not as it must be; the sentence says what to do. (A wrong option is USAGE.)
  DATABASE_LOST: EXIT.failure,
  LISTEN_FAILED: EXIT.failure,
  HTTP_LISTEN: EXIT.failure,
  NO_RELAY: EXIT.failure,
  STORAGE_MARKER: EXIT.failure,
  STORAGE_MISMATCH: EXIT.failure,
  DATABASE_URL_REQUIRED: EXIT.failure,
  PGLITE_NOT_MOVED: EXIT.failure,
  EMBEDDED_POSTGRES_MISSING: EXIT.failure,
  EMBEDDED_POSTGRES_BROKEN: EXIT.failure,
  EMBEDDED_POSTGRES_INIT: EXIT.failure,
  EMBEDDED_POSTGRES_START: EXIT.failure,
  EMBEDDED_POSTGRES_DAMAGED: EXIT.failure,
  EMBEDDED_POSTGRES_OWNER: EXIT.failure,
  DATA_PATH_TOO_LONG: EXIT.failure,
  DB_USER_MISSING: EXIT.failure,
  DB_USER_ROOT: EXIT.failure,
  DB_USER_CANNOT_REACH: EXIT.failure,
  BACKUP_INVALID: EXIT.failure,
  BACKUP_NEWER: EXIT.failure,
} as const satisfies Record<SmsgCode, ExitCode>;
