/**
 * What `smsg relay …` does, loaded only when a relay command runs: it pulls in the database
 * drivers, the server and the logger, which client commands never need (they would add
 * ~0.2 s to every `smsg` start).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SmsgError, UsageError } from "../../crypto/errors.js";
import { systemRng } from "../../src/system-rng.js";
import { createInvite, listAccounts, setAccountDisabled } from "../admin-ops.js";
import { type AdminRequest, adminRequest, relayRunsOn, startAdminSocket } from "../admin-socket.js";
import {
  DEFAULT_LIMITS,
  DEFAULT_PORT,
  type RelayConfig,
  type RelayLimits,
  defaultRelayDataDir,
  parseDuration,
} from "../config.js";
import { createLogger } from "../logger.js";
import { openDatabase } from "../open-database.js";
import { loadOrCreateRelayKey, relayKeyFingerprint } from "../relay-key.js";
import { Relay } from "../server.js";
import { PGLITE_DIR } from "../storage-marker.js";
import { RelayStore } from "../store/index.js";
import { LIMIT_FLAGS } from "./limit-flags.js";
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

/** `--db-user`, or SMSG_RELAY_DB_USER (containers and CI set it once for every command). */
function dbUserOf(a: CommonArgs): string | undefined {
  return a["db-user"] ?? (process.env["SMSG_RELAY_DB_USER"] || undefined);
}

/** Runs an operator request on the running relay, or directly on the database when none runs. */
export async function operate(a: CommonArgs, req: AdminRequest): Promise<unknown> {
  const dataDir = dataDirOf(a);
  const viaSocket = await adminRequest(dataDir, req);
  if (viaSocket) {
    if (!viaSocket.ok) throw new UsageError(viaSocket.error);
    return viaSocket.result;
  }
  const log = createLogger("silent");
  const opened = await openDatabase(
    { dataDir, databaseUrl: databaseUrlOf(a), dbUser: dbUserOf(a), allowUnsafeDurability: true },
    log,
    "operate",
  );
  try {
    const store = new RelayStore(opened.db);
    switch (req.cmd) {
      case "invite": {
        const { keyPair } = loadOrCreateRelayKey(dataDir, systemRng);
        const ep = readEndpoint(dataDir);
        return await createInvite(
          store,
          systemRng,
          { host: ep.publicHost, port: ep.port, relayKey: keyPair.publicKey },
          req,
          Date.now(),
        );
      }
      case "accounts":
        return await listAccounts(store);
      case "disable": {
        const r = await setAccountDisabled(store, req.username, req.disabled);
        return { username: r.username, disabled: req.disabled };
      }
    }
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
  const host = String(argv["host"]);
  const config: RelayConfig = {
    host,
    port: Number(argv["port"]),
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
  // Listen for the stop signals before anything starts, so a stop during start-up is clean too.
  const stopRequested = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  // A second relay on one folder would stop the first one's embedded server: refuse before touching anything.
  if (await relayRunsOn(dataDir)) throw new UsageError(`a relay is already running on ${dataDir}`);
  let serverLost: ((detail: string) => void) | undefined;
  const lost = new Promise<string>((resolve) => (serverLost = resolve));
  // The database first: the storage check reads the folder as it was (a relay key alone means external PostgreSQL).
  const opened = await openDatabase({ ...config, onServerLost: (d) => serverLost?.(d) }, log, "serve");
  const { db } = opened;
  let relay: Relay | undefined;
  let admin: Awaited<ReturnType<typeof startAdminSocket>> | undefined;
  try {
    const { keyPair, created } = loadOrCreateRelayKey(dataDir, systemRng);
    relay = new Relay({ config, db, keyPair, rng: systemRng, log });
    const { port } = await relay.start();
    const endpoint = { host: config.publicHost, port, relayKey: keyPair.publicKey };
    writeFileSync(join(dataDir, ENDPOINT_FILE), `${JSON.stringify({ publicHost: config.publicHost, port })}\n`, {
      mode: 0o600,
    });
    admin = await startAdminSocket(relay, dataDir, endpoint);
    const lines = [
      `SocketMessenger relay listening on ${host}:${port} (storage: ${opened.description})`,
      `Relay key fingerprint: ${relayKeyFingerprint(keyPair.publicKey)}${created ? " (new key created)" : ""}`,
    ];
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
    await relay?.stop().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw e;
  }
  const why = await Promise.race([stopRequested.then(() => undefined), lost]);
  if (why !== undefined) log.error({ detail: why }, "the embedded PostgreSQL stopped unexpectedly; stopping the relay");
  await relay.stop();
  admin?.close();
  await opened.close();
  if (why !== undefined) throw new SmsgError("DATABASE_LOST", `the embedded PostgreSQL stopped unexpectedly (${why})`);
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
