/**
 * The relay process: TCP accept loop, Noise handshake per connection, the shared context of
 * the handlers, group commit of sends, fan-out, heartbeats and the retention sweeper, and a
 * graceful stop (stop accepting, finish and commit what is in flight, close, return).
 */
import { randomBytes } from "node:crypto";
import { type Server, type Socket, createServer } from "node:net";
import type { X25519KeyPair } from "../crypto/primitives.js";
import type { Rng } from "../crypto/rng.js";
import { serverHandshake } from "../src/transport/index.js";
import type { RelayConfig } from "./config.js";
import { ClientConnection } from "./connection.js";
import type { RelayContext } from "./context.js";
import { DeviceEvents } from "./device-events.js";
import { Fanout } from "./fanout.js";
import { ShardedGroupCommit } from "./group-commit.js";
import { countingDatabaseErrors } from "./db-error-counter.js";
import { LoginBackoff } from "./limits/login-backoff.js";
import { LinkMailboxes } from "./link-mailboxes.js";
import type { Logger } from "./logger.js";
import { RelayCounters } from "./metrics.js";
import { PassphraseState } from "./passphrase-state.js";
import { dropRefilledPassphraseBuckets } from "./store/passphrase-records.js";
import { Presence } from "./presence.js";
import { type CommittedMessage, type Db, type InsertResult, type NewSend, RelayStore } from "./store/index.js";

export interface RelayDeps {
  readonly config: RelayConfig;
  readonly db: Db;
  readonly keyPair: X25519KeyPair;
  readonly rng: Rng;
  readonly log: Logger;
  /** The clock; Date.now by default. */
  readonly now?: () => number;
}

const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_BATCH = 10_000;

export class Relay {
  readonly ctx: RelayContext;
  readonly store: RelayStore;
  /** Every connection past its handshake, until it closes. */
  readonly connections = new Set<ClientConnection>();
  /** The database as the relay uses it (counting its errors). */
  readonly db: Db;
  private server: Server | undefined;
  private stopping = false;
  private readonly perAddress = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: RelayDeps) {
    const { config, log, rng } = deps;
    const now = deps.now ?? Date.now;
    const counters = new RelayCounters();
    const db = countingDatabaseErrors(deps.db, counters);
    this.db = db;
    this.store = new RelayStore(db);
    const presence = new Presence(this.store);
    const relayId = randomBytes(8).toString("hex");
    const fanout = new Fanout(this.store, db, presence, relayId, log);
    const deviceEvents = new DeviceEvents(this.store, db, presence, relayId, log);
    // PGlite is one connection: parallel transactions would only queue up there.
    const shards = db.kind === "pg" ? config.limits.commitShards : 1;
    const sends = new ShardedGroupCommit<NewSend, InsertResult>(
      shards,
      (m) => m.chatId,
      (batch) => this.commit(batch),
      config.limits.maxCommitBatch,
    );
    this.ctx = {
      config,
      store: this.store,
      presence,
      fanout,
      deviceEvents,
      sends,
      backoff: new LoginBackoff(),
      passphrase: new PassphraseState(),
      links: new LinkMailboxes(now),
      bundleBuckets: new Map(),
      counters,
      log,
      rng,
      now,
      relayName: "smsg-relay/0.1",
    };
  }

  /** Commits a batch of sends, then pushes the new ones to online recipients. */
  private async commit(batch: NewSend[]): Promise<InsertResult[]> {
    const { counters } = this.ctx;
    const started = performance.now();
    const results = await this.insertWithRetry(batch);
    counters.commitSeconds.observe((performance.now() - started) / 1000);
    counters.commitBatchSize.observe(batch.length);
    const fresh: CommittedMessage[] = [];
    results.forEach((r, i) => {
      const m = batch[i]!;
      if (r.ok && !r.duplicate) {
        const copies = "copies" in m;
        fresh.push({
          id: r.id,
          chatId: m.chatId,
          senderId: m.senderId,
          senderDevice: m.senderDevice ?? 1,
          recipientId: copies ? null : m.recipientId,
          envelope: copies ? undefined : m.envelope,
          copies: copies ? m.copies : undefined,
          createdAt: r.createdAt,
        });
      }
    });
    counters.messagesStored += fresh.length;
    // Fan-out must not hold up the next commit; its failures lose nothing (recipients sync).
    void this.ctx.fanout
      .committed(fresh)
      .catch((e: unknown) => this.ctx.log.warn({ err: String(e) }, "fan-out failed"));
    return results;
  }

  /**
   * Two relays committing overlapping batches can deadlock (PostgreSQL aborts one with
   * 40P01) or fail serialization (40001); the batch is idempotent, so it is simply retried.
   */
  private async insertWithRetry(batch: NewSend[]): Promise<InsertResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.insertMessages(batch, new Date(this.ctx.now()));
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (attempt >= 3 || (code !== "40P01" && code !== "40001")) throw e;
        this.ctx.log.warn({ code, attempt }, "send batch conflicted with another relay; retrying");
      }
    }
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  async start(): Promise<{ port: number; host: string }> {
    await this.ctx.fanout.start();
    await this.ctx.deviceEvents.start();
    await this.ctx.passphrase.load(this.db, this.ctx.rng);
    const { host, port } = this.deps.config;
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    server.on("error", (e) => this.ctx.log.error({ err: e.message }, "listener error"));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // setInterval turns a period over 2^31 − 1 ms into 1 ms: clamp, or a long heartbeat spins.
    const period = Math.min(0x7fffffff, Math.max(1000, Math.floor(this.deps.config.limits.heartbeatMs / 3)));
    const heartbeat = setInterval(() => this.heartbeat(), period);
    const sweep = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    heartbeat.unref();
    sweep.unref();
    this.timers.push(heartbeat, sweep);
    const addr = server.address();
    const bound = typeof addr === "object" && addr ? addr.port : port;
    this.ctx.log.info({ host, port: bound, storage: this.deps.db.kind }, "relay listening");
    return { port: bound, host };
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    // A peer resetting the connection must never become an unhandled 'error'.
    socket.on("error", () => undefined);
    const addr = socket.remoteAddress ?? "unknown";
    const count = (this.perAddress.get(addr) ?? 0) + 1;
    this.perAddress.set(addr, count);
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.ctx.counters.closedBytesIn += socket.bytesRead;
      this.ctx.counters.closedBytesOut += socket.bytesWritten;
      const left = (this.perAddress.get(addr) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(addr);
      else this.perAddress.set(addr, left);
    });
    const { limits } = this.deps.config;
    serverHandshake(socket, {
      staticKeyPair: this.deps.keyPair,
      rng: this.ctx.rng,
      timeoutMs: limits.handshakeTimeoutMs,
    }).then(
      (noise) => {
        const conn = new ClientConnection(this.ctx, noise, addr, (c) => this.connections.delete(c));
        this.connections.add(conn);
        if (this.stopping) conn.fail("SHUTTING_DOWN", "the relay is stopping; reconnect later");
        else if (count > limits.maxConnectionsPerAddress) {
          conn.fail(
            "TOO_MANY_CONNECTIONS",
            `more than ${limits.maxConnectionsPerAddress} connections from your address`,
          );
        }
      },
      (err: unknown) => {
        // The handshake destroyed the socket; a wrong key, garbage or a timeout is the peer's problem.
        this.ctx.log.debug({ addr, err: err instanceof Error ? err.message : String(err) }, "handshake failed");
      },
    );
  }

  /**
   * Pings quiet connections, closes dead ones and ones that never logged in. A connection is
   * only closed as dead once it left a ping unanswered: the timer's period may exceed
   * idleTimeoutMs − heartbeatMs, and a client must not be cut for a ping it was never sent.
   */
  private heartbeat(): void {
    const now = this.ctx.now();
    const { limits } = this.deps.config;
    for (const c of this.connections) {
      // The new side of a device link logs in only once the link is done (SECURITY.md §17.6).
      if (c.phase !== "ready" && now - c.openedAt > limits.loginTimeoutMs && !this.ctx.links.isNewSide(c))
        c.fail("TIMEOUT", "no login in time");
      else if (c.pingOutstanding && now - c.lastSeen > limits.idleTimeoutMs) c.fail("TIMEOUT", "no answer to pings");
      else if (now - c.lastSeen > limits.heartbeatMs && !c.pingOutstanding) {
        c.pingOutstanding = true;
        c.send({ t: "ping", n: now >>> 0 });
      }
    }
  }

  /** Deletes delivered messages (after the retention period) and expired undelivered ones. */
  async sweep(): Promise<{ delivered: number; expired: number }> {
    const now = this.ctx.now();
    const { retentionMs, messageTtlMs } = this.deps.config;
    try {
      // Each call deletes at most one batch: repeat until a backlog is gone.
      const retained = retentionMs > 0 ? { createdBefore: new Date(now - retentionMs) } : {};
      let delivered = 0;
      let expired = 0;
      let n: number;
      // Copies first: a send_copies message goes once its copies are gone.
      do n = await this.store.deleteDeliveredCopies({ ...retained, limit: SWEEP_BATCH });
      while (n === SWEEP_BATCH);
      do {
        n = await this.store.deleteDelivered({ ...retained, limit: SWEEP_BATCH });
        delivered += n;
      } while (n === SWEEP_BATCH);
      do {
        n = await this.store.expireOlderThan(new Date(now - messageTtlMs), SWEEP_BATCH);
        expired += n;
      } while (n === SWEEP_BATCH);
      this.ctx.backoff.sweep(now);
      await dropRefilledPassphraseBuckets(this.db, new Date(now));
      this.ctx.counters.messagesAcked += delivered;
      this.ctx.counters.messagesExpired += expired;
      if (delivered + expired > 0) this.ctx.log.info({ delivered, expired }, "old messages deleted");
      return { delivered, expired };
    } catch (e) {
      this.ctx.log.warn({ err: String(e) }, "sweep failed");
      return { delivered: 0, expired: 0 };
    }
  }

  /** True while the relay listens and is not stopping: what /readyz reports besides the database. */
  get accepting(): boolean {
    return this.server?.listening === true && !this.stopping;
  }

  /** TCP bytes received and sent since start, over every connection (closed and open). */
  tcpBytes(): { received: number; sent: number } {
    let received = this.ctx.counters.closedBytesIn;
    let sent = this.ctx.counters.closedBytesOut;
    for (const s of this.sockets) {
      received += s.bytesRead;
      sent += s.bytesWritten;
    }
    return { received, sent };
  }

  /** Sends waiting for a commit, over every shard (not counting the batches in flight). */
  get commitQueueDepth(): number {
    return this.ctx.sends.waiting;
  }

  /** Stops accepting, lets every request already read finish and commit, then closes everything. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    const conns = [...this.connections];
    await Promise.all(conns.map((c) => c.quiesce()));
    await this.ctx.sends.drained();
    for (const c of conns) c.fail("SHUTTING_DOWN", "the relay is stopping; reconnect later");
    // Give sockets a moment to flush their last frames, then cut what is left.
    await new Promise((r) => setTimeout(r, 50));
    for (const s of this.sockets) s.destroy();
    await closed;
    await this.ctx.fanout.stop();
    await this.ctx.deviceEvents.stop();
    this.ctx.log.info("relay stopped");
  }
}
