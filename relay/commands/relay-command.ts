/**
 * `smsg relay serve|migrate|invite|accounts|disable`. serve runs the relay; the operator
 * commands talk to the running relay through its admin socket, or, when none runs on that data
 * folder, open its database directly.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Argv } from "yargs";
import { UsageError } from "../../crypto/errors.js";
import { systemRng } from "../../src/system-rng.js";
import { type InviteRequest, createInvite, listAccounts, setAccountDisabled } from "../admin-ops.js";
import { type AdminRequest, adminRequest, startAdminSocket } from "../admin-socket.js";
import { DEFAULT_LIMITS, DEFAULT_PORT, type RelayConfig, type RelayLimits, defaultRelayDataDir, parseDuration } from "../config.js";
import { createLogger } from "../logger.js";
import { openDatabase } from "../open-database.js";
import { loadOrCreateRelayKey, relayKeyFingerprint } from "../relay-key.js";
import { Relay } from "../server.js";
import { RelayStore } from "../store/index.js";

/** Where serve records how to reach it, for invite links made while it is not running. */
const ENDPOINT_FILE = "relay.json";
const FIRST_INVITE_TTL_MS = 7 * 86_400_000;

interface CommonArgs {
  data?: string;
  "database-url"?: string;
  json: boolean;
}

const common = <T>(y: Argv<T>) =>
  y
    .option("data", { type: "string", describe: "The relay's data folder (default: $XDG_DATA_HOME/socketmessenger/relay)" })
    .option("database-url", { type: "string", describe: "PostgreSQL URL (or DATABASE_URL); default: embedded PGlite in the data folder" });

function dataDirOf(a: CommonArgs): string {
  return a.data ?? process.env["SMSG_RELAY_DATA"] ?? defaultRelayDataDir();
}

function databaseUrlOf(a: CommonArgs): string | undefined {
  return a["database-url"] ?? process.env["DATABASE_URL"] ?? undefined;
}

/** Flag name → limit key, each with its default shown in --help. */
const LIMIT_FLAGS: [flag: string, key: keyof RelayLimits, describe: string][] = [
  ["max-frame-bytes", "maxFrameBytes", "Largest wire frame accepted, bytes"],
  ["handshake-timeout-ms", "handshakeTimeoutMs", "Time allowed for the Noise handshake"],
  ["login-timeout-ms", "loginTimeoutMs", "Time allowed to log in after the handshake"],
  ["heartbeat-ms", "heartbeatMs", "Ping a connection silent for this long"],
  ["idle-timeout-ms", "idleTimeoutMs", "Close a connection silent for this long"],
  ["message-rate", "messageRate", "Messages per second per connection (average)"],
  ["message-burst", "messageBurst", "Messages a connection may send in a burst"],
  ["max-connections-per-address", "maxConnectionsPerAddress", "Open connections per remote address"],
  ["max-outbound-bytes", "maxOutboundBytes", "Bytes queued for a slow reader before it is cut off"],
  ["bundle-rate", "bundleRate", "Prekey bundle fetches per second per account"],
  ["bundle-burst", "bundleBurst", "Prekey bundle fetches per account in a burst"],
  ["prekey-low-watermark", "prekeyLowWatermark", "Tell an owner to upload prekeys below this stock"],
  ["max-commit-batch", "maxCommitBatch", "Most sends committed in one transaction"],
  ["commit-shards", "commitShards", "Send transactions committing in parallel on PostgreSQL"],
];

function print(json: boolean, value: unknown, human: string): void {
  console.log(json ? JSON.stringify({ v: 1, ...(value as object) }) : human);
}

/** Runs an operator request on the running relay, or directly on the database when none runs. */
async function operate(a: CommonArgs, req: AdminRequest): Promise<unknown> {
  const dataDir = dataDirOf(a);
  const viaSocket = await adminRequest(dataDir, req);
  if (viaSocket) {
    if (!viaSocket.ok) throw new UsageError(viaSocket.error);
    return viaSocket.result;
  }
  const log = createLogger("silent");
  const db = await openDatabase({ dataDir, databaseUrl: databaseUrlOf(a), allowUnsafeDurability: true }, log);
  try {
    const store = new RelayStore(db);
    switch (req.cmd) {
      case "invite": {
        const { keyPair } = loadOrCreateRelayKey(dataDir, systemRng);
        const ep = readEndpoint(dataDir);
        return await createInvite(store, systemRng, { host: ep.publicHost, port: ep.port, relayKey: keyPair.publicKey }, req, Date.now());
      }
      case "accounts":
        return await listAccounts(store);
      case "disable": {
        const r = await setAccountDisabled(store, req.username, req.disabled);
        return { username: r.username, disabled: req.disabled };
      }
    }
  } finally {
    await db.close();
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

async function serve(argv: Record<string, unknown> & CommonArgs): Promise<void> {
  const dataDir = dataDirOf(argv);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const limits = { ...DEFAULT_LIMITS } as Record<keyof RelayLimits, number>;
  for (const [flag, key] of LIMIT_FLAGS) {
    const v = argv[flag];
    if (v !== undefined) {
      // Rates may be fractional (0.5 per second); sizes, counts and times are whole numbers.
      const fractional = key === "messageRate" || key === "bundleRate";
      const ok = typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 2 ** 31 - 1 && (fractional || Number.isInteger(v));
      if (!ok) throw new UsageError(`--${flag} must be a positive ${fractional ? "number" : "whole number"} below 2^31`);
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
  const { keyPair, created } = loadOrCreateRelayKey(dataDir, systemRng);
  const db = await openDatabase(config, log);
  const relay = new Relay({ config, db, keyPair, rng: systemRng, log });
  let admin: Awaited<ReturnType<typeof startAdminSocket>> | undefined;
  try {
    const { port } = await relay.start();
    const endpoint = { host: config.publicHost, port, relayKey: keyPair.publicKey };
    writeFileSync(join(dataDir, ENDPOINT_FILE), `${JSON.stringify({ publicHost: config.publicHost, port })}\n`, { mode: 0o600 });
    admin = await startAdminSocket(relay, dataDir, endpoint);
    const storage = config.databaseUrl ? "PostgreSQL" : `embedded PGlite in ${join(dataDir, "db")}`;
    const lines = [
      `SocketMessenger relay listening on ${host}:${port} (storage: ${storage})`,
      `Relay key fingerprint: ${relayKeyFingerprint(keyPair.publicKey)}${created ? " (new key created)" : ""}`,
    ];
    if ((await relay.store.countAccounts()) === 0) {
      const inv = await createInvite(relay.store, systemRng, endpoint, { uses: 1, expiresInMs: FIRST_INVITE_TTL_MS, admin: true }, Date.now());
      lines.push(
        "No accounts yet. The first account joins with this one-time admin invite (valid 7 days):",
        `  ${inv.link}`,
        `  smsg join '${inv.link}' --name YOUR_NAME`,
      );
    }
    console.log(lines.join("\n"));
  } catch (e) {
    await relay.stop().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw e;
  }
  await stopRequested;
  await relay.stop();
  admin?.close();
  await db.close();
}

export function relayCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command("relay", "Run and operate a relay (server side)", (r) =>
    r
      .command(
        "serve",
        "Run the relay",
        (a) => {
          let b = common(a)
            .option("host", { type: "string", default: "127.0.0.1", describe: "Address to listen on" })
            .option("port", { type: "number", default: DEFAULT_PORT, describe: "TCP port (0: any free port)" })
            .option("public-host", { type: "string", describe: "Host name to put in invite links (default: --host)" })
            .option("allow-unsafe-durability", { type: "boolean", default: false, describe: "Start even if PostgreSQL has fsync or synchronous_commit off (acked messages could be lost in a crash)" })
            .option("message-ttl", { type: "string", default: "30d", describe: "Delete undelivered messages after this long" })
            .option("retention", { type: "string", default: "0", describe: "Keep delivered ciphertext this long (0: delete once every recipient acked)" });
          for (const [flag, key, describe] of LIMIT_FLAGS) b = b.option(flag, { type: "number", describe: `${describe} (default ${DEFAULT_LIMITS[key]})` });
          return b;
        },
        (argv) => serve(argv as unknown as Record<string, unknown> & CommonArgs),
      )
      .command(
        "migrate",
        "Apply the database migrations (serve also does this at start)",
        (a) => common(a),
        async (argv) => {
          const db = await openDatabase({ dataDir: dataDirOf(argv), databaseUrl: databaseUrlOf(argv), allowUnsafeDurability: true }, createLogger("silent"));
          await db.close();
          print(argv.json, { type: "migrated" }, "migrations applied");
        },
      )
      .command(
        "invite",
        "Print a new invite link",
        (a) =>
          common(a)
            .option("uses", { type: "number", default: 1, describe: "How many accounts it can create" })
            .option("expires", { type: "string", default: "7d", describe: "Lifetime, e.g. 12h, 7d, or 'never'" })
            .option("admin", { type: "boolean", default: false, describe: "Accounts created with it are relay admins" }),
        async (argv) => {
          const req: InviteRequest = {
            uses: argv.uses,
            expiresInMs: argv.expires === "never" ? null : parseDuration(argv.expires),
            admin: argv.admin,
          };
          const r = (await operate(argv, { cmd: "invite", ...req })) as { link: string; expiresAt: string | null };
          print(argv.json, { type: "invite", ...r }, r.link);
        },
      )
      .command(
        "accounts",
        "List the accounts",
        (a) => common(a),
        async (argv) => {
          const list = (await operate(argv, { cmd: "accounts" })) as { username: string; is_admin: boolean; disabled: boolean; created_at: string }[];
          if (argv.json) for (const a of list) console.log(JSON.stringify({ v: 1, type: "account", ...a }));
          else if (list.length === 0) console.log("no accounts");
          else for (const a of list) console.log(`${a.username.padEnd(32)} ${a.is_admin ? "admin " : "member"} ${a.disabled ? "disabled" : "active  "} ${a.created_at}`);
        },
      )
      .command(
        "disable <user>",
        "Disable an account (it is logged out at once), or --enable it again",
        (a) => common(a).positional("user", { type: "string", demandOption: true }).option("enable", { type: "boolean", default: false }),
        async (argv) => {
          const r = (await operate(argv, { cmd: "disable", username: argv.user, disabled: !argv.enable })) as { username: string; disabled: boolean };
          print(argv.json, { type: "account_disabled", ...r }, `${r.username} ${r.disabled ? "disabled" : "enabled"}`);
        },
      )
      .demandCommand(1, "Say serve, migrate, invite, accounts or disable."),
  );
}


