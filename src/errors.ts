/**
 * The project's one error hierarchy (STYLE.md rule 5). Every error SocketMessenger throws on
 * purpose is an `SmsgError` with a stable `code`. The base and the local kinds live in
 * crypto/errors.ts (crypto/ may import nothing else) and the connection kinds in
 * src/transport/errors.ts; this file re-exports them and adds the wire kinds:
 *
 * - `ProtocolError`: the peer's bytes broke the wire protocol (src/wire/SECURITY.md §14.2–§4).
 * - `RemoteError`: the relay answered a request with an `error` message.
 *
 * `ERROR_CODES` is the table of every code the relay may put in an `error` message. The codes
 * are part of protocol v1: clients match on them, so they never change meaning.
 */
import { SmsgError } from "../crypto/errors.js";

/** The base class and the local kinds (crypto/errors.ts documents each). */
export {
  CodecError,
  CryptoVerificationError,
  InternalError,
  LimitError,
  SmsgError,
  UsageError,
} from "../crypto/errors.js";
/** The connection kinds (src/transport/errors.ts documents each). */
export { ConnectionClosedError, TimeoutError } from "./transport/errors.js";

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
} as const satisfies Record<string, { readonly closes: boolean; readonly meaning: string }>;

/** A code the relay may send in an `error` message: a key of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Every ErrorCode, in table order. */
export const ERROR_CODE_LIST: readonly ErrorCode[] = Object.freeze(Object.keys(ERROR_CODES) as ErrorCode[]);

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
