/**
 * One connection from a client to its relay: TCP, the Noise handshake against the pinned
 * relay key, hello, then requests matched to replies by id, and pushed messages as events.
 * Errors travel two ways (as in node-postgres): an `error` reply fails that one request; a
 * broken connection fails every pending request and emits 'close'.
 */
import { EventEmitter } from "node:events";
import { type Socket, connect } from "node:net";
import { concat } from "../crypto/bytes.js";
import type { IdentityKeyPair } from "../crypto/identity.js";
import { label } from "../crypto/labels.js";
import { ed25519Sign } from "../crypto/primitives.js";
import type { Rng } from "../crypto/rng.js";
import { ConnectionClosedError, RemoteError, TimeoutError } from "../src/errors.js";
import { type NoiseConnection, clientHandshake } from "../src/transport/index.js";
import {
  type ClientMessage,
  type ClientRequestType,
  COMPACT_PROTOCOL_VERSION,
  FrameDecoder,
  OLDEST_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  type RelayMessage,
  type RelayMessageOf,
  type ReplyTo,
  decodeRelayMessage,
  encodeCompactAckFrame,
  encodeCompactSendFrame,
  encodeMessageFrame,
  remoteErrorOf,
} from "../src/wire/index.js";

export interface RelayClientOptions {
  readonly host: string;
  readonly port: number;
  /** The relay's static key, pinned from the invite link. */
  readonly relayKey: Uint8Array;
  readonly rng: Rng;
  /** For connecting, the handshake and hello together. */
  readonly timeoutMs?: number;
  /** Per request. */
  readonly requestTimeoutMs?: number;
  readonly clientName?: string;
  readonly maxFrameBytes?: number;
  /**
   * The protocol version to ask for (default PROTOCOL_VERSION). Without it, a relay that
   * refuses the newest version (UNSUPPORTED_VERSION: an older relay) is asked again, on a new
   * connection, for the oldest one (SECURITY.md §14.9).
   */
  readonly protocolVersion?: number;
}

type RequestOf<T extends ClientRequestType> = Omit<Extract<ClientMessage, { t: T }>, "id">;

interface Pending {
  resolve(msg: RelayMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface RelayClientEvents {
  msg: [RelayMessageOf<"msg">];
  /** A sync reply's stub for a message its `have` named (SECURITY.md §14.7 "Held messages"). */
  held: [RelayMessageOf<"held">];
  chat_event: [RelayMessageOf<"chat_event">];
  prekeys_low: [RelayMessageOf<"prekeys_low">];
  device_list_changed: [RelayMessageOf<"device_list_changed">];
  link_msg: [RelayMessageOf<"link_msg">];
  /** An error the relay sent about the connection as a whole (no request id). */
  relay_error: [RemoteError];
  close: [Error | undefined];
}

/** The signature a join or login carries: Ed25519(identity, L("SMSG-v1 relay login") || h) (SECURITY.md §10.4). */
export function loginSignature(identity: IdentityKeyPair, handshakeHash: Uint8Array): Uint8Array {
  return ed25519Sign(identity.signing.privateKey, concat(label("relayLogin"), handshakeHash));
}

export class RelayClient extends EventEmitter<RelayClientEvents> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder: FrameDecoder;
  private closedWith: Error | undefined;
  /** The last error the relay sent without a request id, until another frame arrives. */
  private connectionError: RemoteError | undefined;
  private closed = false;
  private welcome: ((m: RelayMessage) => void) | undefined;
  /** The version the relay's welcome confirmed; 2 and later: compact hot frames (§14.9). */
  private version: number = OLDEST_PROTOCOL_VERSION;

  private constructor(
    private readonly noise: NoiseConnection,
    private readonly opts: RelayClientOptions,
  ) {
    super();
    this.decoder = new FrameDecoder({ maxFrameBytes: opts.maxFrameBytes ?? 128 * 1024 });
    noise.on("data", (chunk) => this.onData(chunk));
    noise.on("close", (err) => this.onClose(err));
  }

  /** Connects, runs the handshake and hello. Throws ConnectionClosedError or TimeoutError with a clear message. */
  static async connect(opts: RelayClientOptions): Promise<RelayClient> {
    return (await RelayClient.connectThen(opts, () => Promise.resolve())).client;
  }

  /**
   * Connects as connect() does, and sends `first`'s request (a login) right behind hello
   * instead of after the welcome: one round trip less. The relay handles a connection's frames
   * in the order they came (docs/ARCHITECTURE.md §3), so it reads hello first; a request
   * encoded before the welcome is in the map form, which every version reads (§14.9). Resolves
   * once welcomed, with `answer`, `first`'s reply; when hello fails the connection is closed
   * and hello's error thrown (what `first` sent is then never handled, or refused with it).
   */
  static async connectThen<T>(
    opts: RelayClientOptions,
    first: (client: RelayClient) => Promise<T>,
  ): Promise<{ client: RelayClient; answer: Promise<T> }> {
    try {
      return await RelayClient.connectAs(opts, opts.protocolVersion ?? PROTOCOL_VERSION, first);
    } catch (e) {
      // An older relay speaks only version 1 and says so: ask it again in version 1.
      if (opts.protocolVersion === undefined && e instanceof RemoteError && e.code === "UNSUPPORTED_VERSION")
        return RelayClient.connectAs(opts, OLDEST_PROTOCOL_VERSION, first);
      throw e;
    }
  }

  private static async connectAs<T>(
    opts: RelayClientOptions,
    version: number,
    first: (client: RelayClient) => Promise<T>,
  ): Promise<{ client: RelayClient; answer: Promise<T> }> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const socket = await openSocket(opts.host, opts.port, timeoutMs);
    const noise = await clientHandshake(socket, { relayStaticKey: opts.relayKey, rng: opts.rng, timeoutMs });
    const client = new RelayClient(noise, opts);
    const welcomed = client.hello(timeoutMs, version);
    // A throw of `first` itself (before it sent anything) is its answer's failure too.
    const answer = Promise.resolve().then(() => first(client));
    // If hello fails, so does `answer` (the connection closes): hello's error is the one to tell.
    answer.catch(() => undefined);
    try {
      await welcomed;
    } catch (e) {
      client.close();
      throw e;
    }
    return { client, answer };
  }

  /** The protocol version of this connection (what the relay's welcome confirmed). */
  get protocolVersion(): number {
    return this.version;
  }

  private get compact(): boolean {
    return this.version >= COMPACT_PROTOCOL_VERSION;
  }

  get handshakeHash(): Uint8Array {
    return this.noise.handshakeHash;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private hello(timeoutMs: number, version: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new TimeoutError("the relay did not answer hello in time"));
      }, timeoutMs);
      this.welcome = (m) => {
        clearTimeout(timer);
        this.welcome = undefined;
        if (m.t === "welcome" && m.v !== version) {
          this.close();
          reject(new ConnectionClosedError(`the relay answered hello for version ${version} with version ${m.v}`));
        } else if (m.t === "welcome") {
          // Set before the next frame is decoded: the relay's frames after welcome are in this version.
          this.version = version;
          resolve();
        } else if (m.t === "error") reject(remoteErrorOf(m));
        else reject(new ConnectionClosedError(`the relay answered hello with ${m.t}`));
      };
      this.once("close", (err) => {
        clearTimeout(timer);
        reject(err ?? new ConnectionClosedError("the relay closed the connection during hello"));
      });
      this.write({ t: "hello", v: version, client: this.opts.clientName ?? "smsg/0.1" });
    });
  }

  /** Sends a request and resolves with its reply; rejects with RemoteError, ConnectionClosedError or TimeoutError. */
  request<T extends ClientRequestType>(msg: RequestOf<T>): Promise<ReplyTo<T>> {
    if (this.closed) return Promise.reject(this.closedWith ?? new ConnectionClosedError("the connection is closed"));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    let frame: Uint8Array;
    try {
      // Encoding validates the message: a bad one fails here, before anything is pending.
      frame =
        msg.t === "send" && this.compact
          ? encodeCompactSendFrame({ ...(msg as unknown as RequestOf<"send">), id }, this.opts.maxFrameBytes)
          : encodeMessageFrame({ ...msg, id } as ClientMessage, this.opts.maxFrameBytes);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<ReplyTo<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(`the relay did not answer ${msg.t} in time`));
      }, this.opts.requestTimeoutMs ?? 30_000);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (m: RelayMessage) => void, reject, timer });
      this.noise.write(frame);
    });
  }

  /** Sends a message that has no reply (ack, pong). */
  notify(msg: Extract<ClientMessage, { t: "ack" | "pong" | "ping" }>): void {
    this.write(msg);
  }

  /**
   * Logs in to an existing account on this connection, as `device` (SECURITY.md §17.8; device
   * 1, the default, sends no device field, exactly as before §17). `identity` is the device's.
   */
  login(username: string, credential: Uint8Array, identity: IdentityKeyPair, device = 1) {
    return this.request<"login">({
      t: "login",
      username,
      credential,
      signature: loginSignature(identity, this.handshakeHash),
      ...(device === 1 ? {} : { device }),
    });
  }

  close(): void {
    if (this.closed) return;
    this.noise.close();
  }

  private write(msg: ClientMessage): void {
    const { maxFrameBytes } = this.opts;
    this.noise.write(
      msg.t === "ack" && this.compact
        ? encodeCompactAckFrame(msg, maxFrameBytes)
        : encodeMessageFrame(msg, maxFrameBytes),
    );
  }

  private onData(chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.noise.destroy(e as Error);
      return;
    }
    for (const f of frames) {
      let m: RelayMessage;
      try {
        m = decodeRelayMessage(f, { compact: this.compact });
      } catch (e) {
        this.noise.destroy(e as Error);
        return;
      }
      this.onMessage(m);
    }
  }

  private onMessage(m: RelayMessage): void {
    if (m.t !== "error") this.connectionError = undefined; // the connection went on after it
    // hello has no id, so only an error without one answers it: a request sent behind hello
    // (connectThen) may be refused, with its id, before the welcome comes.
    if (this.welcome && (m.t === "welcome" || (m.t === "error" && m.id === undefined))) return this.welcome(m);
    switch (m.t) {
      case "ping":
        return this.write({ t: "pong", n: m.n });
      case "pong":
      case "welcome":
        return;
      case "msg":
        this.emit("msg", m);
        return;
      case "held":
        this.emit("held", m);
        return;
      case "chat_event":
        this.emit("chat_event", m);
        return;
      case "prekeys_low":
        this.emit("prekeys_low", m);
        return;
      case "device_list_changed":
        this.emit("device_list_changed", m);
        return;
      case "link_msg":
        this.emit("link_msg", m);
        return;
      case "error": {
        const err = remoteErrorOf(m);
        if (m.id !== undefined) return this.settle(m.id, undefined, err);
        if (this.listenerCount("relay_error") > 0) this.emit("relay_error", err);
        // An error about the whole connection is the reason if the relay closes it next.
        this.connectionError = err;
        return;
      }
      default:
        return this.settle(m.id, m);
    }
  }

  private settle(id: number, reply: RelayMessage | undefined, err?: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(reply!);
  }

  private onClose(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    const reason =
      this.closedWith ??
      this.connectionError ??
      new ConnectionClosedError(
        err ? `the connection to the relay broke: ${err.message}` : "the relay closed the connection",
      );
    this.closedWith = reason;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(reason);
      this.pending.delete(id);
    }
    this.emit("close", this.closedWith);
  }
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TimeoutError(`the relay at ${host}:${port} did not answer in time`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.on("error", () => undefined);
      resolve(socket);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ConnectionClosedError(`cannot reach the relay at ${host}:${port} (${e.code ?? e.message})`));
    });
  });
}
