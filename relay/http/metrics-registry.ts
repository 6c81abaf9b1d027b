/**
 * The relay's Prometheus metrics (`/metrics`): prom-client metrics that read the relay's plain
 * counters (relay/metrics.ts) when scraped, the commit histograms, and prom-client's process
 * metrics (CPU, memory, event-loop lag, file descriptors). Labels carry only wire message
 * types, failure reasons and SQLSTATE classes: nothing that identifies a person.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Relay } from "../server.js";

/** A counter whose value is read from the relay at scrape time. */
function counterOf(register: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [register],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A labelled counter whose values are read from a map at scrape time. */
function countersBy(register: Registry, name: string, help: string, label: string, read: () => Map<string, number>) {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [register],
    collect() {
      this.reset();
      for (const [value, n] of read()) this.inc({ [label]: value }, n);
    },
  });
}

function gaugeOf(register: Registry, name: string, help: string, read: () => number | Promise<number>): void {
  new Gauge({
    name,
    help,
    registers: [register],
    async collect() {
      this.set(await read());
    },
  });
}

/** A registry with every metric of `relay`. */
export function relayMetricsRegistry(relay: Relay): Registry {
  const register = new Registry();
  const c = relay.ctx.counters;
  gaugeOf(register, "smsg_relay_connections_open", "Client connections past the Noise handshake", () => {
    return relay.connections.size;
  });
  counterOf(register, "smsg_relay_logins_total", "Successful logins", () => c.logins);
  counterOf(register, "smsg_relay_accounts_created_total", "Accounts created by joining with an invite", () => {
    return c.accountsCreated;
  });
  countersBy(register, "smsg_relay_login_failures_total", "Refused logins and joins", "reason", () => c.loginFailures);
  countersBy(register, "smsg_relay_frames_received_total", "Frames received, by wire type", "type", () => c.framesIn);
  countersBy(register, "smsg_relay_frames_sent_total", "Frames sent, by wire type", "type", () => c.framesOut);
  countersBy(
    register,
    "smsg_relay_frame_bytes_received_total",
    "Frame bytes received (length prefix included, Noise not), by wire type",
    "type",
    () => c.frameBytesIn,
  );
  countersBy(
    register,
    "smsg_relay_frame_bytes_sent_total",
    "Frame bytes sent (length prefix included, Noise not), by wire type",
    "type",
    () => c.frameBytesOut,
  );
  counterOf(register, "smsg_relay_received_bytes_total", "TCP bytes received (Noise included)", () => {
    return relay.tcpBytes().received;
  });
  counterOf(register, "smsg_relay_sent_bytes_total", "TCP bytes sent (Noise included)", () => relay.tcpBytes().sent);
  counterOf(register, "smsg_relay_messages_stored_total", "Messages stored (new sends committed)", () => {
    return c.messagesStored;
  });
  counterOf(register, "smsg_relay_messages_delivered_total", "Messages written to a recipient (push or sync)", () => {
    return c.messagesDelivered;
  });
  counterOf(register, "smsg_relay_acks_total", "Acknowledgements accepted from recipients", () => c.acks);
  counterOf(register, "smsg_relay_messages_acked_total", "Messages deleted once every recipient acked them", () => {
    return c.messagesAcked;
  });
  counterOf(register, "smsg_relay_messages_expired_total", "Undelivered messages deleted after --message-ttl", () => {
    return c.messagesExpired;
  });
  gaugeOf(register, "smsg_relay_commit_queue_depth", "Sends waiting for their commit", () => relay.commitQueueDepth);
  gaugeOf(
    register,
    "smsg_relay_messages_queued",
    "Messages stored and not yet deleted (acked or expired)",
    async () => {
      const rows = await relay.db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages");
      return rows[0]?.n ?? 0;
    },
  );
  countersBy(
    register,
    "smsg_relay_database_errors_total",
    "Errors from the database, by SQLSTATE class",
    "class",
    () => c.databaseErrors,
  );
  register.registerMetric(c.commitBatchSize);
  register.registerMetric(c.commitSeconds);
  collectDefaultMetrics({ register });
  return register;
}
