/**
 * What the relay counts while it runs, for `/metrics` (relay/http/metrics-registry.ts turns
 * these into Prometheus text). The hot path (every frame in and out) only adds to plain
 * numbers here; prom-client reads them when Prometheus scrapes. Commit batches, a few per
 * second, go straight into two prom-client histograms.
 *
 * No value here may identify a person: labels are wire message types (a fixed set: frames the
 * decoder rejected are counted as "invalid"), failure reasons and SQLSTATE classes. Never a
 * username, chat id, address or anything else a client chose.
 */
import { Histogram } from "prom-client";

/** The u32be length in front of every frame (SECURITY.md §14.2). */
const FRAME_LENGTH_BYTES = 4;

/** Wire frame types, by direction. Only types the wire schema knows ever get here. */
type PerType = Map<string, number>;

function bump(m: PerType, key: string, by = 1): void {
  m.set(key, (m.get(key) ?? 0) + by);
}

/** One wire type's frames in one direction: one map entry per type, so a frame costs one lookup. */
interface FrameTally {
  frames: number;
  bytes: number;
}

function tally(m: Map<string, FrameTally>, type: string, bytes: number): void {
  const t = m.get(type);
  if (t) {
    t.frames++;
    t.bytes += bytes;
  } else m.set(type, { frames: 1, bytes });
}

function column(m: Map<string, FrameTally>, field: keyof FrameTally): PerType {
  return new Map([...m].map(([type, t]) => [type, t[field]]));
}

/** Why a login or join was refused: the wire error codes, lower-cased. */
export type LoginFailure = "auth_failed" | "account_disabled" | "rate_limited" | "invite_invalid" | "username_taken";

export class RelayCounters {
  /** Frames and their bytes by wire type (length prefix included, Noise records not), each direction. */
  private readonly talliesIn = new Map<string, FrameTally>();
  private readonly talliesOut = new Map<string, FrameTally>();
  readonly loginFailures: PerType = new Map();
  /** Database errors by SQLSTATE class ("08" connection, "40" conflict, …) or "connection" when the driver gave none. */
  readonly databaseErrors: PerType = new Map();
  logins = 0;
  accountsCreated = 0;
  messagesStored = 0;
  /** msg frames written to a recipient's connection: live pushes and sync/history pages. */
  messagesDelivered = 0;
  /** ack requests that moved (or kept) a cursor. */
  acks = 0;
  /** Messages deleted by the sweeper because every recipient acked them (after --retention). */
  messagesAcked = 0;
  /** Undelivered messages deleted after --message-ttl. */
  messagesExpired = 0;
  /** TCP bytes of connections already closed (open ones are read from their sockets). */
  closedBytesIn = 0;
  closedBytesOut = 0;

  readonly commitBatchSize = new Histogram({
    name: "smsg_relay_commit_batch_size",
    help: "Sends committed per group-commit transaction",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
    registers: [],
  });

  readonly commitSeconds = new Histogram({
    name: "smsg_relay_commit_duration_seconds",
    help: "Time to commit one group-commit batch of sends",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [],
  });

  /** A frame received; `bytes` is its payload's length (the 4-byte length prefix is added here, §14.2). */
  frameIn(type: string, bytes: number): void {
    tally(this.talliesIn, type, bytes + FRAME_LENGTH_BYTES);
  }

  /** A frame sent; `bytes` is the whole encoded frame, length prefix included. */
  frameOut(type: string, bytes: number): void {
    tally(this.talliesOut, type, bytes);
    if (type === "msg") this.messagesDelivered++;
  }

  /** Frames received, by wire type (read when scraped). */
  get framesIn(): PerType {
    return column(this.talliesIn, "frames");
  }

  get framesOut(): PerType {
    return column(this.talliesOut, "frames");
  }

  /** Bytes of the frames received, by wire type (bench/real-client-wire.ts's breakdown). */
  get frameBytesIn(): PerType {
    return column(this.talliesIn, "bytes");
  }

  get frameBytesOut(): PerType {
    return column(this.talliesOut, "bytes");
  }

  loginFailed(reason: LoginFailure): void {
    bump(this.loginFailures, reason);
  }

  databaseError(err: unknown): void {
    const code = (err as { code?: unknown } | null)?.code;
    bump(this.databaseErrors, typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code.slice(0, 2) : "connection");
  }
}
