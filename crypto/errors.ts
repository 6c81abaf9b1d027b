/**
 * The base of the project's error hierarchy. It lives in crypto/ because crypto/ may import
 * nothing but libsodium; src/errors.ts re-exports it and adds the wire-level kinds.
 */

/** Base class of every error SocketMessenger throws on purpose. `code` is stable. */
export class SmsgError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A message could not be authenticated or decrypted, or a signature did not verify.
 * The message never says which check failed (docs/ARCHITECTURE.md §5.3; SECURITY.md §2):
 * callers and peers learn only that it failed, so the error cannot be used as an oracle.
 */
export class CryptoVerificationError extends SmsgError {
  constructor(message = "could not decrypt") {
    super("CRYPTO_VERIFICATION", message);
  }
}

/** An encoded structure (state blob, header, bundle) is malformed: wrong length, version, tag. */
export class CodecError extends SmsgError {
  constructor(message: string) {
    super("CODEC", message);
  }
}

/** A caller broke an API contract (wrong key length, nonce reuse, exhausted replay RNG). */
export class UsageError extends SmsgError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

/** A limit of the protocol was reached (too many skipped messages, counter overflow). */
export class LimitError extends SmsgError {
  constructor(message: string) {
    super("LIMIT", message);
  }
}

/** Something that cannot happen did: a bug, never the peer's or the user's fault. */
export class InternalError extends SmsgError {
  constructor(message: string) {
    super("INTERNAL", message);
  }
}
