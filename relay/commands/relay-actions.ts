/**
 * What `smsg relay …` does, loaded only when a relay command runs: it pulls in the database
 * drivers, the server and the logger, which client commands never need (they would add
 * ~0.2 s to every `smsg` start).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { SmsgError, UsageError, isSmsgCode } from "../../src/errors.js";
import { systemRng } from "../../src/system-rng.js";
import { type OperatorRequest, createInvite, runAdminRequest } from "../admin-ops.js";
import { adminRequest, adminStream, relayRunsOn, startAdminSocket } from "../admin-socket.js";
import { type WrittenBackup, writeBackupFile } from "../backup/backup-file.js";
import { dumpDatabase } from "../backup/dump.js";
import { readRelayKeyFile } from "../backup/relay-key-file.js";
import { restoreBackup } from "../backup/restore.js";
import {
  DEFAULT_LIMITS,
  DEFAULT_PORT,
  type RelayConfig,
  type RelayLimits,
  defaultRelayDataDir,
  parseDuration,
} from "../config.js";
import { parseHttpAddress, startOpsHttp, stopOpsHttp } from "../http/ops-http.js";
import { audit } from "../audit.js";
import { createLogger } from "../logger.js";
import { openDatabase } from "../open-database.js";
import { loadOrCreateRelayKey, relayKeyFingerprint } from "../relay-key.js";
import { Relay } from "../server.js";
import { whenStopRequested, withShutdownTimeout } from "../stop-signals.js";
import { PGLITE_DIR } from "../storage-marker.js";
import { RelayStore } from "../store/index.js";
import { LIMIT_FLAGS } from "./limit-flags.js";
import { asListenFailure, ensureCanListen, parsePort } from "./listen-failure.js";
import { ensureDataDir } from "../data-dir.js";

/** Where serve records how to reach it, for invite links made while it is not running. */
const ENDPOINT_FILE = "relay.json";
const FIRST_INVITE_TTL_MS = 7 * 86_400_000;

/** The options every relay command takes. */
export interface CommonArgs {
  data?: string;
  "database-url"?: string;
  "db-user"?: string;
  json: boolean;
}

function dataDirOf(a: CommonArgs): string {
  return a.data ?? process.env["SMSG_RELAY_DATA"] ?? defaultRelayDataDir();
}

function databaseUrlOf(a: CommonArgs): string | undefined {
  return a["database-url"] ?? process.env["DATABASE_URL"] ?? undefined;
}

/** A request as a command makes it; operate() adds who runs it. */
type RequestOf<T> = T extends unknown ? Omit<T, "operator"> : never;

/** Who runs this command, for the audit log. */
export function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? "unknown"}`;
  }
}

/** `--db-user`, or SMSG_RELAY_DB_USER (containers and CI set it once for every command). */
function dbUserOf(a: CommonArgs): string | undefined {
  return a["db-user"] ?? (process.env["SMSG_RELAY_DB_USER"] || undefined);
}

/** Runs an operator request on the running relay, or directly on the database when none runs. */
export async function operate(a: CommonArgs, request: RequestOf<OperatorRequest>): Promise<unknown> {
  const req = { ...request, operator: operatorName() } as OperatorRequest;
  const dataDir = dataDirOf(a);
  const viaSocket = await adminRequest(dataDir, req);
  if (viaSocket) {
    // The relay's error keeps its code, so the exit code is the same as without a running relay
    // (a code this version does not know, from a relay of another version, exits as ADMIN).
    if (!viaSocket.ok) throw new SmsgError(isSmsgCode(viaSocket.code) ? viaSocket.code : "ADMIN", viaSocket.error);
    return viaSocket.result;
  }
  const log = createLogger("silent");
  const opened = await openDatabase(
    { dataDir, databaseUrl: databaseUrlOf(a), dbUser: dbUserOf(a), allowUnsafeDurability: true },
    log,
    "operate",
  );
  try {
    return await runAdminRequest(req, {
      store: new RelayStore(opened.db),
      db: opened.db,
      rng: systemRng,
      now: Date.now(),
      dataDir,
      via: "database",
      endpoint: () => {
        const { keyPair } = loadOrCreateRelayKey(dataDir, systemRng);
        const ep = readEndpoint(dataDir);
        return { host: ep.publicHost, port: ep.port, relayKey: keyPair.publicKey };
      },
    });
  } finally {
    await opened.close();
  }
}

function readEndpoint(dataDir: string): { publicHost: string; port: number } {
  try {
    const j = JSON.parse(readFileSync(join(dataDir, ENDPOINT_FILE), "utf8")) as { publicHost: string; port: number };
    return { publicHost: String(j.publicHost), port: Number(j.port) };
  } catch {
    return { publicHost: "127.0.0.1", port: DEFAULT_PORT };
  }
}

export async function serve(argv: Record<string, unknown> & CommonArgs): Promise<void> {
  const dataDir = dataDirOf(argv);
  const port = parsePort(argv["port"]);
  // Checked before anything is created: a typo must leave no data folder behind.
  const shutdownTimeoutMs = parseDuration(String(argv["shutdown-timeout"]));
  const httpAddress = argv["http"] === undefined ? undefined : parseHttpAddress(String(argv["http"]));
  ensureDataDir(dataDir);
  const limits = { ...DEFAULT_LIMITS } as Record<keyof RelayLimits, number>;
  for (const [flag, key] of LIMIT_FLAGS) {
    const v = argv[flag];
    if (v !== undefined) {
      // Rates may be fractional (0.5 per second); sizes, counts and times are whole numbers.
      const fractional = key === "messageRate" || key === "bundleRate";
      const ok =
        typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 2 ** 31 - 1 && (fractional || Number.isInteger(v));
      if (!ok)
        throw new UsageError(`--${flag} must be a positive ${fractional ? "number" : "whole number"} below 2^31`);
      limits[key] = v;
    }
  }
  // A client's hello and login arrive together (SECURITY.md §14.9), so a burst of one would refuse every login.
  if (limits.messageBurst < 2)
    throw new UsageError("--message-burst must be at least 2 (a client sends hello and login together)");
  const host = String(argv["host"]);
  const config: RelayConfig = {
    host,
    port,
    publicHost: (argv["public-host"] as string | undefined) ?? host,
    dataDir,
    databaseUrl: databaseUrlOf(argv),
    dbUser: dbUserOf(argv),
    allowUnsafeDurability: Boolean(argv["allow-unsafe-durability"]),
    messageTtlMs: parseDuration(String(argv["message-ttl"])),
    retentionMs: argv["retention"] === "0" ? 0 : parseDuration(String(argv["retention"])),
    limits,
  };
  const log = createLogger();
  // Listen for the stop signals (and a wrapper's end) before anything starts, so a stop during start-up is clean too.
  const stopRequested = whenStopRequested({ log });
  // A second relay on one folder would stop the first one's embedded server: refuse before touching anything.
  if (await relayRunsOn(dataDir)) throw new UsageError(`a relay is already running on ${dataDir}`);
  await ensureCanListen(host, port);
  let serverLost: ((detail: string) => void) | undefined;
  const lost = new Promise<string>((resolve) => (serverLost = resolve));
  // The database first: the storage check reads the folder as it was (a relay key alone means external PostgreSQL).
  const opened = await openDatabase({ ...config, onServerLost: (d) => serverLost?.(d) }, log, "serve");
  const { db } = opened;
  let relay: Relay | undefined;
  let admin: Awaited<ReturnType<typeof startAdminSocket>> | undefined;
  let http: Server | undefined;
  try {
    const { keyPair, created } = loadOrCreateRelayKey(dataDir, systemRng);
    relay = new Relay({ config, db, keyPair, rng: systemRng, log });
    const { port: boundPort } = await relay.start().catch((e: unknown) => {
      throw asListenFailure(e, host, port);
    });
    const endpoint = { host: config.publicHost, port: boundPort, relayKey: keyPair.publicKey };
    writeFileSync(
      join(dataDir, ENDPOINT_FILE),
      `${JSON.stringify({ publicHost: config.publicHost, port: boundPort, pid: process.pid })}\n`,
      {
        mode: 0o600,
      },
    );
    admin = await startAdminSocket(relay, dataDir, endpoint);
    let opsLine: string | undefined;
    if (httpAddress) {
      const ops = await startOpsHttp(relay, httpAddress, log);
      http = ops.server;
      opsLine = `Health and metrics on http://${httpAddress.host.includes(":") ? `[${httpAddress.host}]` : httpAddress.host}:${ops.port} (/healthz, /readyz, /metrics)`;
    }
    const lines = [
      `SocketMessenger relay listening on ${host}:${boundPort} (storage: ${opened.description})`,
      `Relay key fingerprint: ${relayKeyFingerprint(keyPair.publicKey)}${created ? " (new key created)" : ""}`,
    ];
    if (opsLine) lines.push(opsLine);
    if ((await relay.store.countAccounts()) === 0) {
      const inv = await createInvite(
        relay.store,
        systemRng,
        endpoint,
        { uses: 1, expiresInMs: FIRST_INVITE_TTL_MS, admin: true },
        Date.now(),
      );
      lines.push(
        "No accounts yet. The first account joins with this one-time admin invite (valid 7 days):",
        `  ${inv.link}`,
        `  smsg join '${inv.link}' --name YOUR_NAME`,
      );
    }
    console.log(lines.join("\n"));
  } catch (e) {
    if (http) await stopOpsHttp(http);
    admin?.close();
    await relay?.stop().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw e;
  }
  const why = await Promise.race([stopRequested.then(() => undefined), lost]);
  if (why !== undefined) log.error({ detail: why }, "the embedded PostgreSQL stopped unexpectedly; stopping the relay");
  const running = relay;
  await withShutdownTimeout(
    (async () => {
      await running.stop();
      // Kept up while stopping, so /readyz says 503 to a load balancer meanwhile.
      if (http) await stopOpsHttp(http);
      admin?.close();
      await opened.close();
    })(),
    shutdownTimeoutMs,
    log,
  );
  if (why !== undefined) throw new SmsgError("DATABASE_LOST", `the embedded PostgreSQL stopped unexpectedly (${why})`);
}
/** `smsg relay backup FILE`: through the running relay when there is one, else from the database directly. */
export async function backup(a: CommonArgs & { file: string; force: boolean }): Promise<WrittenBackup> {
  const dataDir = dataDirOf(a);
  const file = resolve(a.file);
  let via: "admin.sock" | "database" = "admin.sock";
  const written = await writeBackupFile(file, a.force, async (write) => {
    if (await adminStream(dataDir, { cmd: "backup", operator: operatorName() }, write)) return;
    via = "database";
    const relayKey = readRelayKeyFile(dataDir);
    const opened = await openDatabase(
      { dataDir, databaseUrl: databaseUrlOf(a), dbUser: dbUserOf(a), allowUnsafeDurability: true },
      createLogger("silent"),
      "operate",
    );
    try {
      await dumpDatabase({ db: opened.db, relayKey, endpoint: readEndpoint(dataDir), now: new Date() }, write);
    } finally {
      await opened.close();
    }
  });
  audit(dataDir, { action: "backup_written", operator: operatorName(), via, file, rows: written.rows });
  return written;
}

/** `smsg relay restore FILE`: into an empty data folder (and an empty database with --database-url). */
export async function restore(a: CommonArgs & { file: string }): Promise<{ rows: Record<string, number> }> {
  const file = resolve(a.file);
  const dataDir = dataDirOf(a);
  const r = await restoreBackup({
    file,
    dataDir,
    databaseUrl: databaseUrlOf(a),
    dbUser: dbUserOf(a),
    endpointFile: ENDPOINT_FILE,
    log: createLogger("silent"),
  });
  audit(dataDir, { action: "backup_restored", operator: operatorName(), via: "database", file, rows: r.rows });
  return r;
}

/**
 * `smsg relay migrate [--from-pglite]`: applies the migrations; on a folder of an earlier
 * version it moves the PGlite data into the embedded PostgreSQL (serve does that too, at its
 * first start). With --from-pglite a folder without PGlite data is an error.
 */
export async function migrateDatabase(a: CommonArgs & { "from-pglite"?: boolean }): Promise<void> {
  const dataDir = dataDirOf(a);
  if (await relayRunsOn(dataDir)) throw new UsageError(`a relay is running on ${dataDir}: stop it first`);
  if (a["from-pglite"] && !existsSync(join(dataDir, PGLITE_DIR, "PG_VERSION"))) {
    throw new UsageError(`there is no PGlite database to move in ${join(dataDir, PGLITE_DIR)}`);
  }
  const opened = await openDatabase(
    { dataDir, databaseUrl: databaseUrlOf(a), dbUser: dbUserOf(a), allowUnsafeDurability: true },
    createLogger("silent"),
    "migrate",
  );
  await opened.close();
}
