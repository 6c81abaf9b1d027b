/**
 * One client connection after its Noise handshake: reassembles wire frames, validates every
 * message before a handler sees it, enforces the per-connection limits, and keeps the state
 * machine hello → login → ready. Errors the client caused go back as `error` frames with a
 * stable code; nothing a client sends can throw out of here or touch another connection.
 */
import { ERROR_CODES, type ErrorCode, ProtocolError, SmsgError } from "../src/errors.js";
import {
  COMPACT_PROTOCOL_VERSION,
  type ClientMessage,
  FrameDecoder,
  type RelayMessage,
  decodeClientMessage,
  encodeMessageFrame,
  errorMessageFor,
} from "../src/wire/index.js";
import type { RelayContext } from "./context.js";
import { isDatabaseUnavailable } from "./database-unavailable.js";
import { dispatch } from "./handlers/dispatch.js";
import type { HandlerConnection, Phase, SessionAccount } from "./handlers/handler-connection.js";
import { TokenBucket } from "./limits/token-bucket.js";
import { touchLastSeen } from "./store/account-admin.js";
import type { Pushable } from "./presence.js";

/** What the connection needs of its transport (a NoiseConnection, or a fake in tests). */
export interface Transport {
  readonly handshakeHash: Uint8Array;
  /** Bytes the peer has not taken from earlier ticks (NoiseConnection.backlogBytes). */
  readonly backlogBytes: number;
  write(plaintext: Uint8Array): boolean;
  pause(): void;
  resume(): void;
  close(): void;
  destroy(err?: Error): void;
  on(event: "data", cb: (chunk: Uint8Array) => void): unknown;
  on(event: "close", cb: (err?: Error) => void): unknown;
}

/** Requests waiting behind the one being handled before the connection stops reading. */
const MAX_PIPELINE = 256;

export class ClientConnection implements Pushable, HandlerConnection {
  phase: Phase = "hello";
  /** Set when a version-2 hello is read: compact hot frames both ways (SECURITY.md §14.9). */
  compact = false;
  private helloRead = false;
  account: SessionAccount | undefined;
  /** Milliseconds (ctx.now) of the last frame received, and when the connection started. */
  lastSeen: number;
  readonly openedAt: number;
  pingOutstanding = false;
  private readonly decoder: FrameDecoder;
  private readonly bucket: TokenBucket;
  /** Requests are handled in order; `send` only waits for its turn to be queued, not for its commit. */
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private paused = false;
  private quiescing = false;

  /** `onClosed` is called once the connection is closed (the relay forgets it then). */
  constructor(
    readonly ctx: RelayContext,
    private readonly transport: Transport,
    readonly remoteAddress: string,
    private readonly onClosed?: (conn: ClientConnection) => void,
  ) {
    const now = ctx.now();
    this.lastSeen = now;
    this.openedAt = now;
    const limits = ctx.config.limits;
    this.decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    this.bucket = new TokenBucket(limits.messageRate, limits.messageBurst, now);
    transport.on("data", (chunk) => this.onData(chunk));
    transport.on("close", () => this.onClose());
  }

  /** A getter, so checks after an await or a call see the current phase. */
  get closed(): boolean {
    return this.phase === "closed";
  }

  get accountId(): number | undefined {
    return this.account?.id;
  }

  get deviceId(): number | undefined {
    return this.account?.device;
  }

  get handshakeHash(): Uint8Array {
    return this.transport.handshakeHash;
  }

  /** Takes a bundle-fetch token of the logged-in account; false when it is fetching too fast. */
  takeBundleToken(): boolean {
    const now = this.ctx.now();
    const accountId = this.account?.id;
    if (accountId === undefined) return false;
    // Per account, not per connection: reconnecting gives no fresh burst of others' prekeys.
    const buckets = this.ctx.bundleBuckets;
    let bucket = buckets.get(accountId);
    if (!bucket) {
      const { bundleRate, bundleBurst } = this.ctx.config.limits;
      buckets.set(accountId, (bucket = new TokenBucket(bundleRate, bundleBurst, now)));
    }
    return bucket.take(now);
  }

  takeMessageTokens(n: number): boolean {
    return this.bucket.take(this.ctx.now(), n);
  }

  /** Bytes queued for the client that it has not taken yet (checked before work that would add more). */
  get outboundBacklog(): number {
    return this.transport.backlogBytes;
  }

  /** Sends a message to the client. */
  send(msg: RelayMessage): void {
    this.push(encodeMessageFrame(msg, this.ctx.config.limits.maxFrameBytes), msg.t);
  }

  /** Queues an encoded frame of wire type `type`; a client whose queue overflows is cut off (SLOW_CONSUMER). */
  push(frame: Uint8Array, type: RelayMessage["t"]): void {
    if (this.phase === "closed") return;
    if (this.transport.backlogBytes > this.ctx.config.limits.maxOutboundBytes) {
      this.fail("SLOW_CONSUMER", "the client read too slowly; reconnect and sync");
      return;
    }
    this.transport.write(frame);
    this.ctx.counters.frameOut(type, frame.length);
  }

  /** Sends an error frame, and closes the connection when the code says so. */
  sendError(code: ErrorCode, message: string, id?: number): void {
    this.send({ t: "error", code, message, ...(id !== undefined ? { id } : {}) });
    if (ERROR_CODES[code].closes) this.close();
  }

  /** Sends `code` and closes, whatever the code. */
  fail(code: ErrorCode, message: string): void {
    if (this.phase === "closed") return;
    const frame = encodeMessageFrame({ t: "error", code, message });
    this.transport.write(frame);
    this.ctx.counters.frameOut("error", frame.length);
    this.close();
  }

  /** Stops reading and resolves once every request already read has been handled (for shutdown). */
  quiesce(): Promise<void> {
    this.quiescing = true;
    this.paused = true;
    this.transport.pause();
    return this.chain;
  }

  close(): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.transport.close();
    // A graceful close waits for the peer to read what is queued and to close its side; a peer
    // that does neither (a slow consumer, a client ignoring the error) would keep the socket and
    // its queued bytes forever. It gets as long as a new peer gets for its handshake.
    const cut = setTimeout(
      () => this.transport.destroy(),
      Math.min(0x7fffffff, this.ctx.config.limits.handshakeTimeoutMs),
    );
    cut.unref();
    this.transport.on("close", () => clearTimeout(cut));
    this.onClose();
  }

  private onClose(): void {
    const wasOpen = this.phase !== "closed";
    this.phase = "closed";
    // When the account was last seen, for `relay accounts`; a failure only loses that time.
    if (this.account && wasOpen) {
      const at = new Date(this.ctx.now());
      touchLastSeen(this.ctx.store.db, this.account.id, at).catch(() => undefined);
      this.ctx.store.touchDeviceLastSeen(this.account.id, this.account.device, at).catch(() => undefined);
    }
    if (this.account) this.ctx.presence.remove(this.account.id, this);
    this.ctx.links.connectionClosed(this); // its device links end with it (SECURITY.md §17.8)
    this.onClosed?.(this);
  }

  private onData(chunk: Uint8Array): void {
    if (this.phase === "closed") return;
    this.lastSeen = this.ctx.now();
    this.pingOutstanding = false;
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      // The byte stream cannot be resynchronised after a bad frame header.
      const err = e instanceof ProtocolError ? e : new ProtocolError("BAD_FRAME", "malformed frame");
      this.fail(err.code, err.message);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      if (!this.bucket.take(this.lastSeen)) {
        this.fail("RATE_LIMITED", `more than ${this.ctx.config.limits.messageRate} messages per second`);
        return;
      }
      let msg: ClientMessage;
      try {
        msg = decodeClientMessage(frame, { compact: this.compact });
      } catch (e) {
        this.ctx.counters.frameIn("invalid", frame.length);
        if (e instanceof ProtocolError) {
          if (ERROR_CODES[e.code].closes) this.fail(e.code, e.message);
          else this.send(errorMessageFor(e));
        } else {
          this.ctx.log.error({ err: String(e) }, "decoder failed");
          this.fail("BAD_FRAME", "malformed frame");
        }
        continue;
      }
      this.ctx.counters.frameIn(msg.t, frame.length);
      // Frames after a version-2 hello are read as version 2 at once, before dispatch answers it.
      // Only the first hello counts: dispatch refuses a second one.
      if (msg.t === "hello" && !this.helloRead) this.compact = msg.v >= COMPACT_PROTOCOL_VERSION;
      if (msg.t === "hello") this.helloRead = true;
      this.enqueue(msg);
    }
  }

  /** Runs handlers one after another; stops reading while too many wait (backpressure). */
  private enqueue(msg: ClientMessage): void {
    this.pending += 1;
    if (this.pending > MAX_PIPELINE && !this.paused) {
      this.paused = true;
      this.transport.pause();
    }
    this.chain = this.chain.then(async () => {
      // Acks already read still count after the client closed: a client that acks and then
      // disconnects at once must not get those messages again on its next sync.
      if (this.phase !== "closed" || msg.t === "ack") await this.handle(msg);
      this.pending -= 1;
      if (this.paused && !this.quiescing && this.pending <= MAX_PIPELINE / 2) {
        this.paused = false;
        this.transport.resume();
      }
    });
  }

  private async handle(msg: ClientMessage): Promise<void> {
    const id = "id" in msg ? msg.id : undefined;
    try {
      await dispatch(this, msg);
    } catch (e) {
      if (e instanceof SmsgError) {
        this.send(errorMessageFor(e, id));
        if (e.code in ERROR_CODES && ERROR_CODES[e.code as ErrorCode].closes) this.close();
      } else if (isDatabaseUnavailable(e)) {
        this.ctx.log.warn({ err: e instanceof Error ? e.message : String(e), type: msg.t }, "database unavailable");
        this.sendError("UNAVAILABLE", "the relay cannot reach its database right now; retry shortly", id);
      } else {
        this.ctx.log.error({ err: e instanceof Error ? e.stack : String(e), type: msg.t }, "handler failed");
        this.send(errorMessageFor(e, id));
      }
    }
  }
}
