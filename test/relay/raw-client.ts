/**
 * A bare client for the relay's abuse tests (bad input, limits, auth): a real loopback socket,
 * optionally from another 127.0.0.0/8 address (the relay keys its per-address limits on it), a
 * real Noise channel on which the test writes whatever bytes it likes, and a queue of what the
 * relay sent back, each message decoded and validated against the relay catalogue.
 */
import { randomBytes } from "node:crypto";
import { type Socket, connect } from "node:net";
import { expect } from "vitest";
import { loginSignature } from "../../client/relay-client.js";
import type { IdentityKeyPair } from "../../crypto/identity.js";
import type { RelayLimits } from "../../relay/config.js";
import type { ClientConnection } from "../../relay/connection.js";
import { type NoiseConnection, clientHandshake } from "../../src/transport/index.js";
import { systemRng } from "../../src/system-rng.js";
import {
  type ClientMessage,
  type ClientMessageOf,
  type ClientRequestType,
  FrameDecoder,
  COMPACT_PROTOCOL_VERSION,
  OLDEST_PROTOCOL_VERSION,
  type RelayMessage,
  type RelayMessageOf,
  decodeRelayMessage,
  encodeMessageFrame,
  encodeMsgpack,
} from "../../src/wire/index.js";
import { type TestRelay, type TestUser, idem, joinUser } from "./harness.js";

/** How long a helper waits for the relay before failing the test (a hang guard, not an assertion). */
export const WAIT_MS = 5000;

/** Opens a plain TCP connection to the relay, from `localAddress` (any 127.x.y.z) if given. */
export function openSocket(r: TestRelay, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port: r.port,
      noDelay: true,
      ...(localAddress ? { localAddress } : {}),
    });
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => undefined); // a reset by the relay is what some tests expect
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Resolves when `socket` has closed (the relay dropped it); rejects after WAIT_MS. */
export function socketClosed(socket: Socket, waitMs = WAIT_MS): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the relay did not close the socket")), waitMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume(); // read (and discard) whatever comes, so an end or reset is noticed
  });
}

export interface RawOptions {
  readonly localAddress?: string;
  /** The relay key to pin (default: the relay's own). */
  readonly relayKey?: Uint8Array;
  /** Answer the relay's pings with pong and keep them out of the queue (default true). */
  readonly answerPings?: boolean;
  /** The protocol version hello asks for (default 1; 2 reads the compact hot frames, SECURITY.md §14.9). */
  readonly version?: number;
}

type RequestOf<T extends ClientRequestType> = Omit<ClientMessageOf<T>, "id">;

export class RawClient {
  /** Everything the relay sent, in order (pings excluded when they are answered, prekeys_low apart). */
  readonly received: RelayMessage[] = [];
  /** The prekeys_low notices, kept out of `received` (the relay pushes them whenever stock is low). */
  readonly prekeysLow: RelayMessageOf<"prekeys_low">[] = [];
  /** Set once the Noise connection closed. */
  closed = false;
  /** Pings answered (with answerPings). */
  pingsAnswered = 0;
  /** Set if the relay sent bytes that are not a valid v1 message: every later `next` throws it. */
  private failure: Error | undefined;
  private cursor = 0;
  private nextId = 1;
  private wake: (() => void) | undefined;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 0xffffffff });
  /** Set when a version-2 welcome is read: later frames may be compact. */
  private compact = false;
  private readonly closedOnce: Promise<void>;

  private constructor(
    readonly socket: Socket,
    readonly noise: NoiseConnection,
    private readonly answerPings: boolean,
    private readonly version: number,
  ) {
    this.closedOnce = new Promise((resolve) => {
      noise.on("close", () => {
        this.closed = true;
        this.wake?.();
        resolve();
      });
    });
    noise.on("data", (chunk) => this.onData(chunk));
  }

  /** Connects and runs the Noise handshake (no hello). */
  static async connect(r: TestRelay, opts: RawOptions = {}): Promise<RawClient> {
    const socket = await openSocket(r, opts.localAddress);
    const noise = await clientHandshake(socket, {
      relayStaticKey: opts.relayKey ?? r.keyPair.publicKey,
      rng: systemRng,
      timeoutMs: WAIT_MS,
    });
    return new RawClient(socket, noise, opts.answerPings ?? true, opts.version ?? OLDEST_PROTOCOL_VERSION);
  }

  /** Connects, handshakes and says hello. */
  static async ready(r: TestRelay, opts: RawOptions = {}): Promise<RawClient> {
    const c = await RawClient.connect(r, opts);
    await c.hello();
    return c;
  }

  get handshakeHash(): Uint8Array {
    return this.noise.handshakeHash;
  }

  /** Writes raw plaintext bytes into the Noise channel (frames are the caller's business). */
  write(bytes: Uint8Array): void {
    this.noise.write(bytes);
  }

  /** Frames and writes a payload: u32be length || payload, whatever the payload is. */
  sendPayload(payload: Uint8Array): void {
    const frame = new Uint8Array(4 + payload.length);
    new DataView(frame.buffer).setUint32(0, payload.length, false);
    frame.set(payload, 4);
    this.write(frame);
  }

  /** Encodes (and so validates) a message and writes it. */
  send(msg: ClientMessage): void {
    this.write(encodeMessageFrame(msg));
  }

  /** The next message the relay sent; rejects if the connection closed first. */
  async next(waitMs = WAIT_MS): Promise<RelayMessage> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.failure) throw this.failure;
      const m = this.received[this.cursor];
      if (m !== undefined) {
        this.cursor++;
        return m;
      }
      if (this.closed) throw new Error(`the relay closed the connection; it had sent ${summarize(this.received)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message from the relay in time; it had sent ${summarize(this.received)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  /** Skips messages until one matches `pred`, and returns it. */
  async nextWhere(pred: (m: RelayMessage) => boolean, waitMs = WAIT_MS): Promise<RelayMessage> {
    for (;;) {
      const m = await this.next(waitMs);
      if (pred(m)) return m;
    }
  }

  /** The next error frame (skipping other messages); fails the test if none comes. */
  async nextError(waitMs = WAIT_MS): Promise<RelayMessageOf<"error">> {
    return (await this.nextWhere((m) => m.t === "error", waitMs)) as RelayMessageOf<"error">;
  }

  /** Sends a request with a fresh id; resolves with its reply or its error frame. */
  async request<T extends ClientRequestType>(msg: RequestOf<T>): Promise<RelayMessage> {
    const id = this.nextId++;
    this.send({ ...msg, id } as ClientMessage);
    return this.nextWhere((m) => "id" in m && m.id === id);
  }

  /** Like request, but the map goes out as is: no schema check, so it may break the protocol. */
  async requestUnchecked(msg: Record<string, unknown>): Promise<RelayMessage> {
    const id = this.nextId++;
    this.sendPayload(encodeMsgpack({ ...msg, id }));
    return this.nextWhere((m) => "id" in m && m.id === id);
  }

  async hello(): Promise<void> {
    this.send({ t: "hello", v: this.version, client: "raw-test/1" });
    expect(await this.next()).toMatchObject({ t: "welcome", v: this.version });
  }

  /** Sends a login signed for this connection; resolves with the reply or error. */
  login(username: string, credential: Uint8Array, identity: IdentityKeyPair): Promise<RelayMessage> {
    return this.request<"login">({
      t: "login",
      username,
      credential,
      signature: loginSignature(identity, this.handshakeHash),
    });
  }

  /** Logs in as `u` and expects success. */
  async loginAs(u: TestUser): Promise<void> {
    expect(await this.login(u.username, u.credential, u.identity)).toMatchObject({
      t: "logged_in",
      username: u.username,
    });
  }

  /** Resolves once the relay (or we) closed the connection; rejects after `waitMs`. */
  waitClosed(waitMs = WAIT_MS): Promise<void> {
    return Promise.race([
      this.closedOnce,
      new Promise<void>((_, reject) =>
        setTimeout(
          () => reject(new Error(`the connection stayed open; the relay sent ${summarize(this.received)}`)),
          waitMs,
        ).unref(),
      ),
    ]);
  }

  /** The error frame that ended the connection, and that it did end. */
  async expectClosedWith(code: string, waitMs = WAIT_MS): Promise<RelayMessageOf<"error">> {
    const err = await this.nextError(waitMs);
    expect(err.code).toBe(code);
    await this.waitClosed(waitMs);
    return err;
  }

  /** The relay's side of this connection, while the relay holds it (matched by handshake hash). */
  relaySide(r: TestRelay): ClientConnection | undefined {
    const h = Buffer.from(this.handshakeHash);
    for (const c of r.relay.connections) if (h.equals(c.handshakeHash)) return c;
    return undefined;
  }

  pause(): void {
    this.noise.pause();
  }

  resume(): void {
    this.noise.resume();
  }

  close(): void {
    this.noise.close();
  }

  destroy(): void {
    this.noise.destroy();
  }

  private onData(chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
      for (const f of frames) {
        const m = decodeRelayMessage(f, { compact: this.compact });
        if (m.t === "welcome") this.compact = m.v >= COMPACT_PROTOCOL_VERSION;
        if (m.t === "ping" && this.answerPings) {
          this.send({ t: "pong", n: m.n });
          this.pingsAnswered++;
          continue;
        }
        if (m.t === "prekeys_low") this.prekeysLow.push(m);
        else this.received.push(m);
      }
    } catch (e) {
      // The relay sent something that is not a valid v1 message: that fails whatever test waits.
      this.failure = new Error(`the relay sent an invalid frame: ${String(e)}`);
      this.noise.destroy(this.failure);
    }
    this.wake?.();
  }
}

function summarize(ms: readonly RelayMessage[]): string {
  if (ms.length === 0) return "nothing";
  return ms.map((m) => (m.t === "error" ? `error ${m.code} (${m.message})` : m.t)).join(", ");
}

/** Two members with a direct chat, and a check that the relay still serves them. */
export interface World {
  readonly alice: TestUser;
  readonly bob: TestUser;
  readonly chat: number;
}

export async function makeWorld(r: TestRelay): Promise<World> {
  const alice = await joinUser(r, "alice");
  const bob = await joinUser(r, "bob");
  const opened = await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" });
  return { alice, bob, chat: opened.chat.id };
}

/**
 * Proves the relay still works for a well-behaved client: alice logs in on a new connection
 * (from `localAddress` if given), sends, and bob's long-lived connection receives it.
 */
export async function expectServing(r: TestRelay, w: World, localAddress?: string): Promise<void> {
  expect(w.bob.client.isClosed).toBe(false);
  const c = await RawClient.ready(r, localAddress ? { localAddress } : {});
  await c.loginAs(w.alice);
  const envelope = new Uint8Array(randomBytes(24));
  // Bob may also be getting other tests' traffic: wait for this very envelope.
  let listener: ((m: RelayMessageOf<"msg">) => void) | undefined;
  const arriving = new Promise<RelayMessageOf<"msg">>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("bob never received alice's message")), WAIT_MS);
    listener = (m) => {
      if (m.chat === w.chat && Buffer.from(m.envelope).equals(envelope)) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    w.bob.client.on("msg", listener);
  });
  arriving.catch(() => undefined); // if the send fails first, that is the error to report
  try {
    const sent = await c.request<"send">({ t: "send", chat: w.chat, idem: idem(), envelope });
    expect(sent).toMatchObject({ t: "sent", duplicate: false });
    expect(await arriving).toMatchObject({
      t: "msg",
      chat: w.chat,
      from: "alice",
      msg: (sent as RelayMessageOf<"sent">).msg,
    });
  } finally {
    w.bob.client.off("msg", listener!);
    c.close();
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The running relay's limits, changed in place. The relay reads them when it needs them: the
 * handshake timeout, the connection count and the per-connection rate and frame limits when a
 * connection is accepted, the timeouts on each heartbeat tick, the outbound bound on each push.
 * (The heartbeat interval is fixed at start: max(1000, heartbeatMs / 3).)
 */
export function liveLimits(r: TestRelay): { set(p: Partial<RelayLimits>): void; reset(): void } {
  const live = r.relay.ctx.config.limits as Mutable<RelayLimits>;
  const base = { ...live };
  return {
    set: (p) => void Object.assign(live, p),
    reset: () => void Object.assign(live, base),
  };
}
