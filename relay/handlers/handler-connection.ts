/**
 * What a handler may do with the connection it serves: the narrow view relay/connection.ts
 * implements, so the handlers depend on this interface and not on the connection module
 * (docs/ARCHITECTURE.md §2: no import cycle between the connection and its handlers).
 */
import type { ErrorCode } from "../../src/errors.js";
import type { RelayMessage } from "../../src/wire/index.js";
import type { RelayContext } from "../context.js";
import type { Pushable } from "../presence.js";

/**
 * Where a connection stands: hello first, then join or login, then everything else;
 * "passphrase" between a passphrase_login and the device registration it leads to (§18.6).
 */
export type Phase = "hello" | "login" | "passphrase" | "ready" | "closed";

/** The logged-in account of a connection, and which of its devices (SECURITY.md §17.8). */
export interface SessionAccount {
  readonly id: number;
  readonly username: string;
  readonly isAdmin: boolean;
  /** The device logged in: 1 for `join` and for an account without a device list. */
  readonly device: number;
}

/** One client connection as its handlers see it (also what presence pushes to: `push`, `fail`). */
export interface HandlerConnection extends Pushable {
  /** The relay's shared state: store, presence, fan-out, limits, clock. */
  readonly ctx: RelayContext;
  /** Set by dispatch (hello) and by join/login (ready). */
  phase: Phase;
  /** Set by a successful join or login. */
  account: SessionAccount | undefined;
  /** The peer's address, the key of the login backoff. */
  readonly remoteAddress: string;
  /** This connection's Noise handshake hash, which a login signs (SECURITY.md §10.4). */
  readonly handshakeHash: Uint8Array;
  /** True once the connection closed (a long reply stops filling). */
  readonly closed: boolean;
  /** Bytes queued for the client and not yet written: a reply waits while this is high. */
  readonly outboundBacklog: number;
  /** Sends a message to the client. */
  send(msg: RelayMessage): void;
  /** Sends an error frame, and closes the connection when the code says so. */
  sendError(code: ErrorCode, message: string, id?: number): void;
  /** Takes a bundle-fetch token of the logged-in account; false when it is fetching too fast. */
  takeBundleToken(): boolean;
  /**
   * Takes `n` more tokens of this connection's message rate (§14.7) for a request that asks as
   * much as `n` one-name requests would; false, taking none, when there are not that many.
   */
  takeMessageTokens(n: number): boolean;
}
