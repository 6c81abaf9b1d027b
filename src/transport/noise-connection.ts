/**
 * The thin socket shell of the relay transport (SECURITY.md §10; docs/ARCHITECTURE.md §5.1, §5.7): runs the
 * sans-I/O RelayHandshake and SecureSession over any injected Duplex (a net.Socket, an
 * in-memory pair). Only this file touches the stream and the one handshake timer.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { concat } from "../../crypto/bytes.js";
import { CodecError, InternalError, UsageError } from "../../crypto/errors.js";
import type { X25519KeyPair } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { ConnectionClosedError, HandshakeRefusedError, TimeoutError } from "./errors.js";
import { RelayHandshake } from "./relay-handshake.js";
import type { SecureSession } from "./secure-session.js";

/** The largest timeout setTimeout honours (2^31 − 1 ms); longer ones would fire at once. */
const MAX_TIMEOUT_MS = 0x7fffffff;

/** Options of `clientHandshake`. */
export interface ClientHandshakeOptions {
  /** The relay's static X25519 public key, pinned from the invite. */
  readonly relayStaticKey: Uint8Array;
  /** Randomness for the ephemeral key (docs/ARCHITECTURE.md §5.4); `systemRng` in production. */
  readonly rng: Rng;
  /** How long the whole handshake may take, in ms (1..2^31−1). */
  readonly timeoutMs: number;
}

/** Options of `serverHandshake`. */
export interface ServerHandshakeOptions {
  /** The relay's static X25519 key pair (only `privateKey` is used). */
  readonly staticKeyPair: X25519KeyPair;
  /** Randomness for the ephemeral key (docs/ARCHITECTURE.md §5.4); `systemRng` in production. */
  readonly rng: Rng;
  /** How long the whole handshake may take, in ms (1..2^31−1): the relay's handshake timeout. */
  readonly timeoutMs: number;
}

/**
 * Runs the client side (Noise initiator) of the relay handshake on `stream` (SECURITY.md §10
 * "Protocol"): writes framed message 1 at once, reads message 2, splits.
 * Resolves with the connection, its stream paused until a 'data' listener is added.
 * Rejects, after destroying the stream, with TimeoutError when it takes longer than
 * `timeoutMs`; CodecError for a malformed message 2 (wrong length, non-empty payload);
 * CryptoVerificationError("could not decrypt") when message 2 does not verify;
 * HandshakeRefusedError when the peer ends or resets the stream after message 1 without sending
 * a byte back (what a client with the wrong relay key sees: the relay drops it, SECURITY.md
 * §10.3); ConnectionClosedError when the stream ends, closes or fails otherwise (before message 1
 * was written, or inside message 2); UsageError for bad options.
 */
export function clientHandshake(stream: Duplex, opts: ClientHandshakeOptions): Promise<NoiseConnection> {
  return runHandshake(
    stream,
    opts.timeoutMs,
    () => new RelayHandshake({ role: "initiator", relayStaticKey: opts.relayStaticKey, rng: opts.rng }),
  );
}

/**
 * Runs the relay side (Noise responder) of the relay handshake on `stream` (SECURITY.md §10
 * "Protocol"): reads message 1, writes framed message 2, splits. Bytes the client sent after
 * message 1 in the same segment are kept for the connection.
 * Resolves with the connection, its stream paused until a 'data' listener is added.
 * Rejects, after destroying the stream (nothing is sent back), with TimeoutError when the
 * client does not complete message 1 within `timeoutMs`; CodecError when message 1 is
 * malformed (length prefix other than 48: garbage, a non-empty payload, another protocol);
 * CryptoVerificationError("could not decrypt") when it does not verify (the client pinned
 * another key or speaks another prologue, tampering); ConnectionClosedError when the stream
 * ends, closes or fails first; UsageError for bad options.
 */
export function serverHandshake(stream: Duplex, opts: ServerHandshakeOptions): Promise<NoiseConnection> {
  return runHandshake(
    stream,
    opts.timeoutMs,
    () => new RelayHandshake({ role: "responder", staticPrivateKey: opts.staticKeyPair.privateKey, rng: opts.rng }),
  );
}

function ignore(): void {}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new InternalError(String(err));
}

function runHandshake(stream: Duplex, timeoutMs: number, create: () => RelayHandshake): Promise<NoiseConnection> {
  return new Promise<NoiseConnection>((resolve, reject) => {
    let hs: RelayHandshake | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    // The initiator wrote message 1 and has had nothing back yet: a close now is a refusal.
    let awaitingReply = false;

    const cleanup = (): void => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      stream.off("error", onError);
    };
    const fail = (err: Error): void => {
      if (settled) return;
      cleanup();
      hs?.destroy();
      stream.on("error", ignore); // the stream is dead; a late error must not crash the process
      stream.destroy();
      reject(err);
    };
    function onData(chunk: Uint8Array): void {
      if (settled) return;
      if (chunk.length > 0) awaitingReply = false;
      let step;
      try {
        step = hs!.receive(chunk);
      } catch (err) {
        fail(asError(err));
        return;
      }
      if (step.send.length > 0) stream.write(step.send);
      if (step.session) {
        cleanup();
        stream.pause(); // until the caller listens: nothing may be emitted into the void
        resolve(new NoiseConnection(stream, step.session, step.rest));
      }
    }
    function onEnd(): void {
      if (awaitingReply) {
        fail(new HandshakeRefusedError("the peer closed the connection without answering the Noise handshake"));
        return;
      }
      fail(new ConnectionClosedError("the connection closed during the Noise handshake"));
    }
    function onError(err: Error): void {
      if (awaitingReply && (err as NodeJS.ErrnoException).code === "ECONNRESET") {
        fail(
          new HandshakeRefusedError("the peer reset the connection without answering the Noise handshake", {
            cause: err,
          }),
        );
        return;
      }
      fail(
        new ConnectionClosedError(`the connection failed during the Noise handshake: ${err.message}`, { cause: err }),
      );
    }

    try {
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
        throw new UsageError(`timeoutMs must be an integer 1..${MAX_TIMEOUT_MS}`);
      }
      hs = create();
    } catch (err) {
      fail(asError(err));
      return;
    }
    if (stream.destroyed || !stream.readable || !stream.writable) {
      fail(new ConnectionClosedError("the connection is already closed"));
      return;
    }
    timer = setTimeout(
      () => fail(new TimeoutError(`the Noise handshake did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("close", onEnd);
    stream.on("error", onError);
    stream.resume();
    if (hs.role === "initiator") {
      let first: Uint8Array;
      try {
        first = hs.start();
      } catch (err) {
        fail(asError(err));
        return;
      }
      stream.write(first);
      awaitingReply = true;
    }
  });
}

/** Events of a NoiseConnection. */
export interface NoiseConnectionEvents {
  /** Plaintext received, in order; chunks follow record boundaries, not the peer's writes. */
  data: [plaintext: Uint8Array];
  /** The stream can take more writes after `write` returned false. */
  drain: [];
  /** The peer finished sending; the connection then ends its own side too. */
  end: [];
  /** The connection failed (emitted just before 'close', only if someone listens). */
  error: [err: Error];
  /** The connection is closed; `err` says why, if it failed. Emitted once. */
  close: [err: Error | undefined];
}

/** How long close() waits for the peer to end its side before it destroys the stream. */
export const CLOSE_GRACE_MS = 3_000;

/** `open` while usable, `closing` after close() or the peer's end, `closed` once dead. */
export type NoiseConnectionState = "open" | "closing" | "closed";

/**
 * An established relay transport connection (SECURITY.md §10.2): plaintext
 * in, sealed records out to the stream; records in, plaintext out as 'data' events. Made by
 * clientHandshake / serverHandshake, never directly.
 *
 * Reading: starts paused; adding a 'data' listener (or `resume()`) starts the flow, beginning
 * with any bytes that arrived with the last handshake message. A record that fails to decrypt
 * (tampered, replayed, reordered) or is malformed destroys the connection with
 * CryptoVerificationError("could not decrypt") or CodecError; the peer ending the stream in the
 * middle of a record is a CodecError.
 *
 * Writing: the writes of one tick are sealed together, in order, into as few records as their
 * size allows, and reach the stream on the next tick (one syscall on a socket).
 *
 * Errors: 'error' is only emitted when a listener is attached, so a misbehaving peer cannot
 * crash a process that forgot one; 'close' always carries the error. Keeps no buffer of its
 * own beyond a partial incoming record and the current tick's writes: outgoing bytes wait in
 * the stream (see bufferedBytes).
 */
export class NoiseConnection extends EventEmitter<NoiseConnectionEvents> {
  private readonly stream: Duplex;
  private readonly session: SecureSession;
  private rest: Uint8Array | undefined;
  private status: NoiseConnectionState = "open";
  private failure: Error | undefined;
  private corked = false;
  /** Plaintext written this tick, sealed as one on the next (flushWrites). */
  private pendingPlain: Uint8Array[] = [];
  private pendingBytes = 0;
  /** write() returned false since the last 'drain': one must follow. */
  private owesDrain = false;
  private flowing = false;
  private userPaused = false;
  private closeEmitted = false;

  private readonly flushLater = (): void => this.flushWrites();
  private readonly startFlowLater = (): void => this.startFlow();
  private readonly onData = (chunk: Uint8Array): void => this.receive(chunk);
  private readonly onDrain = (): void => {
    this.emit("drain");
  };
  private readonly onEnd = (): void => this.peerEnded();
  private readonly onError = (err: Error): void => this.fail(err);
  private readonly onClose = (): void => this.closed();

  /** @internal Use clientHandshake / serverHandshake. Takes over `stream` (paused) and `session`. */
  constructor(stream: Duplex, session: SecureSession, rest?: Uint8Array) {
    super();
    this.stream = stream;
    this.session = session;
    this.rest = rest !== undefined && rest.length > 0 ? rest : undefined;
    stream.on("data", this.onData);
    stream.on("drain", this.onDrain);
    stream.on("end", this.onEnd);
    stream.on("error", this.onError);
    stream.on("close", this.onClose);
    (this as EventEmitter).on("newListener", (event: string | symbol) => {
      if (event === "data" && !this.flowing && !this.userPaused) process.nextTick(this.startFlowLater);
    });
    if (stream.destroyed) process.nextTick(this.onClose);
  }

  /** The handshake hash h (Noise §11.2), 32 bytes, the same on both ends: what the login signs. */
  get handshakeHash(): Uint8Array {
    return this.session.handshakeHash;
  }

  /** "open", "closing" (close() called or the peer ended) or "closed". */
  get state(): NoiseConnectionState {
    return this.status;
  }

  /** Bytes written but not yet sent: this tick's writes plus what waits in the stream. */
  get bufferedBytes(): number {
    return this.stream.writableLength + this.pendingBytes;
  }

  /**
   * Sealed bytes from earlier ticks that the stream still holds because the peer has not
   * taken them: what a relay checks to cut off a slow reader. This tick's writes do not
   * count, so one large burst to a reader that keeps up is not mistaken for a slow reader.
   */
  get backlogBytes(): number {
    return this.stream.writableLength;
  }

  /**
   * Queues `plaintext`; on the next tick every write of this tick is sealed together into
   * transport records (SecureSession.seal, SECURITY.md §10.2) and written to the stream.
   * Returns the stream's backpressure signal: false means wait for 'drain'. On a connection
   * that is closing or closed it sends nothing and returns false ('close' tells why). An
   * exhausted send nonce (LimitError) destroys the connection when the tick's writes are sealed.
   */
  write(plaintext: Uint8Array): boolean {
    if (this.status !== "open") return false;
    if (plaintext.length === 0) return !this.stream.writableNeedDrain;
    // Writes of one tick are sealed together: under load many frames share one record's
    // 18 bytes of length and tag instead of paying them each.
    this.pendingPlain.push(plaintext);
    this.pendingBytes += plaintext.length;
    if (!this.corked) {
      this.corked = true;
      process.nextTick(this.flushLater);
    }
    const ok = this.stream.writableLength + this.pendingBytes < this.stream.writableHighWaterMark;
    if (!ok) this.owesDrain = true;
    return ok;
  }

  /** Stops 'data' events (from the next received chunk on) and reading from the stream. */
  pause(): void {
    this.userPaused = true;
    this.flowing = false;
    this.stream.pause();
  }

  /** Starts or restarts 'data' events. Adding a 'data' listener does this by itself. */
  resume(): void {
    this.userPaused = false;
    this.startFlow();
  }

  /**
   * Ends the connection gracefully: flushes pending writes, then ends the stream. Incoming
   * data is still delivered until the stream closes. Idempotent.
   */
  close(graceMs: number = CLOSE_GRACE_MS): void {
    if (this.status !== "open") return;
    this.status = "closing";
    this.flushWrites();
    if (!this.stream.writableEnded) this.stream.end();
    // A peer that never answers our end (a frozen relay, a dead link without a reset) would keep
    // the socket, and with it the process, alive for good: past the grace the stream is destroyed.
    const timer = setTimeout(() => this.destroy(), graceMs);
    timer.unref();
    this.stream.once("close", () => clearTimeout(timer));
  }

  /**
   * Tears the connection down at once: unsent data is dropped, both transport keys are wiped,
   * the stream is destroyed. 'close' follows with `err` (and 'error' first, if listened to).
   * Idempotent.
   */
  destroy(err?: Error): void {
    if (this.status === "closed") return;
    this.status = "closed";
    this.failure ??= err;
    this.corked = false;
    this.pendingPlain = [];
    this.pendingBytes = 0;
    this.session.destroy();
    this.stream.destroy();
  }

  // --- internals ---------------------------------------------------------------------------

  private flushWrites(): void {
    if (!this.corked) return;
    this.corked = false;
    const pieces = this.pendingPlain;
    this.pendingPlain = [];
    this.pendingBytes = 0;
    if (this.stream.destroyed || this.status === "closed") return;
    let sealed: Uint8Array;
    try {
      sealed = this.session.seal(pieces.length === 1 ? pieces[0]! : concat(...pieces));
    } catch (err) {
      this.destroy(asError(err));
      return;
    }
    // A caller told "false" waits for 'drain': the stream sends one if it is full, else we do.
    if (this.stream.write(sealed)) {
      if (this.owesDrain) {
        this.owesDrain = false;
        process.nextTick(this.onDrain);
      }
    } else this.owesDrain = false;
  }

  private startFlow(): void {
    if (this.flowing || this.userPaused || this.status === "closed") return;
    this.flowing = true;
    const rest = this.rest;
    this.rest = undefined;
    if (rest !== undefined) this.receive(rest);
    if (this.flowing && !this.isClosed()) this.stream.resume();
  }

  private receive(chunk: Uint8Array): void {
    if (this.status === "closed") return;
    let pieces: Uint8Array[];
    try {
      pieces = this.session.open(chunk);
    } catch (err) {
      this.destroy(asError(err));
      return;
    }
    for (const piece of pieces) {
      if (this.isClosed()) return;
      this.emit("data", piece);
    }
  }

  private peerEnded(): void {
    if (this.status === "closed") return;
    if (this.session.bufferedBytes > 0) {
      this.destroy(new CodecError("the connection ended inside a Noise record"));
      return;
    }
    this.emit("end");
    this.close();
  }

  private fail(err: Error): void {
    this.destroy(err);
  }

  /** Re-reads the state after a listener ran (TypeScript would keep an earlier narrowing). */
  private isClosed(): boolean {
    return this.status === "closed";
  }

  private closed(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.status = "closed";
    this.corked = false;
    this.pendingPlain = [];
    this.pendingBytes = 0;
    this.session.destroy();
    const err = this.failure;
    if (err !== undefined && this.listenerCount("error") > 0) this.emit("error", err);
    this.emit("close", err);
  }
}
