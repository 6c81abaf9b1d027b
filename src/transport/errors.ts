/**
 * Errors of the socket shell around the Noise transport (noise-connection.ts), under the
 * project's one base class SmsgError (docs/ARCHITECTURE.md §5.2). Everything the peer's bytes can
 * cause is already a crypto/errors.ts kind (CodecError, CryptoVerificationError); these two are
 * about the connection itself. src/errors.ts re-exports them with the rest of the hierarchy; they
 * live here so that the transport depends on crypto/errors.ts alone.
 */
import { SmsgError } from "../../crypto/errors.js";

/** Something did not happen in time: the Noise handshake did not finish within its timeout. Code "TIMEOUT". */
export class TimeoutError extends SmsgError {
  constructor(message: string) {
    super("TIMEOUT", message);
  }
}

/**
 * The connection ended, failed or was destroyed before the operation finished (for example
 * the peer closed it during the handshake, which is what a client sees when the relay refused
 * its first message). `cause` carries the underlying stream error, if any. Code "CONNECTION_CLOSED".
 */
export class ConnectionClosedError extends SmsgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CONNECTION_CLOSED", message, options);
  }
}

/**
 * The initiator sent its first handshake message on an open connection and the peer closed (or
 * reset) it without answering a single byte (SECURITY.md §10.3). A relay does exactly this when
 * it cannot decrypt message 1, i.e. when it does not hold the key the client pinned: so on a
 * connection that was accepted this means "wrong relay key", not "relay unreachable".
 * Code "HANDSHAKE_REFUSED".
 */
export class HandshakeRefusedError extends SmsgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("HANDSHAKE_REFUSED", message, options);
  }
}
