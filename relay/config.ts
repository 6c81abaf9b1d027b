/**
 * The relay's settings: every limit has a default here and a flag in `smsg relay serve`
 * (relay/commands/limit-flags.ts). Times are milliseconds.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../crypto/errors.js";

export interface RelayLimits {
  /** Largest wire frame accepted, in bytes (checked before the frame is buffered). */
  readonly maxFrameBytes: number;
  /** A connection must finish the Noise handshake within this. */
  readonly handshakeTimeoutMs: number;
  /** …and log in (hello + join/login) within this after the handshake. */
  readonly loginTimeoutMs: number;
  /** The relay pings a connection silent for this long… */
  readonly heartbeatMs: number;
  /** …and closes one silent for this long. */
  readonly idleTimeoutMs: number;
  /** Messages per second a connection may send on average, and the burst it may save up. */
  readonly messageRate: number;
  readonly messageBurst: number;
  /** Open connections per remote address. */
  readonly maxConnectionsPerAddress: number;
  /** Bytes queued for a connection's socket before it counts as a slow consumer and is cut off. */
  readonly maxOutboundBytes: number;
  /** Bundle fetches per requester: average per second and burst (protects one-time prekeys). */
  readonly bundleRate: number;
  readonly bundleBurst: number;
  /** Below this many one-time prekeys the owner is told to upload more. */
  readonly prekeyLowWatermark: number;
  /** Most sends committed in one transaction. */
  readonly maxCommitBatch: number;
  /**
   * Transactions committing sends in parallel on PostgreSQL (each chat always uses the same one).
   * Fewer shards make larger batches, so fewer round trips and statements per message: on the
   * 2-core benchmark machine 2 delivered ~6% more than 4 (bench/RESULTS.md), with no worse latency.
   */
  readonly commitShards: number;
}

export interface RelayConfig {
  readonly host: string;
  readonly port: number;
  /** The host name written into invite links (default: `host`). */
  readonly publicHost: string;
  readonly dataDir: string;
  /** A PostgreSQL URL; undefined means the relay's embedded PostgreSQL in `<dataDir>/pg`. */
  readonly databaseUrl: string | undefined;
  /** Who runs the embedded PostgreSQL when the relay is root (`--db-user`; default: an existing `postgres` user). */
  readonly dbUser?: string | undefined;
  /** Start even if PostgreSQL's fsync or synchronous_commit is off. */
  readonly allowUnsafeDurability: boolean;
  /** Unacked messages are deleted after this long. */
  readonly messageTtlMs: number;
  /** Acked ciphertext is kept this long before deletion (0: delete as soon as all acked). */
  readonly retentionMs: number;
  readonly limits: RelayLimits;
}

export const DEFAULT_PORT = 7447;

export const DEFAULT_LIMITS: RelayLimits = {
  maxFrameBytes: 128 * 1024,
  handshakeTimeoutMs: 10_000,
  loginTimeoutMs: 30_000,
  heartbeatMs: 30_000,
  idleTimeoutMs: 90_000,
  messageRate: 500,
  messageBurst: 2000,
  maxConnectionsPerAddress: 64,
  maxOutboundBytes: 8 * 1024 * 1024,
  bundleRate: 1,
  bundleBurst: 30,
  prekeyLowWatermark: 20,
  maxCommitBatch: 1000,
  commitShards: 2,
};

/** Where a relay run by root keeps its data when no folder is named: a system service's state folder. */
export const ROOT_RELAY_DATA_DIR = "/var/lib/socketmessenger/relay";

/**
 * The default data folder: $XDG_DATA_HOME/socketmessenger/relay (~/.local/share/… when unset).
 * Root without XDG_DATA_HOME gets ROOT_RELAY_DATA_DIR instead: the embedded PostgreSQL then runs
 * as an unprivileged user (README, Storage), which could not reach a folder under /root (0700),
 * so `npm start` as root would otherwise fail.
 */
export function defaultRelayDataDir(
  env: NodeJS.ProcessEnv = process.env,
  isRoot: boolean = process.getuid?.() === 0,
): string {
  if (isRoot && !env["XDG_DATA_HOME"]) return ROOT_RELAY_DATA_DIR;
  const base = env["XDG_DATA_HOME"] || join(homedir(), ".local", "share");
  return join(base, "socketmessenger", "relay");
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses "30d", "12h", "90s", "500ms", "2w" into milliseconds; throws UsageError otherwise. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) throw new UsageError(`not a duration: "${text}" (use e.g. 90s, 15m, 12h, 30d, 2w)`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}
