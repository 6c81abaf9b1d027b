/**
 * The relay's embedded PostgreSQL as the relay runs it (relay/embedded/): durable settings,
 * reachable only through its socket, stopped by its watchdog when the process that started it
 * dies (SIGKILL), a server left running found and stopped at the next start, a stale lock file
 * that names another live process ignored, and the root rules (an unprivileged user, a clear
 * sentence when none exists or the folder is closed to it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../../relay/embedded/embedded-postgres.js";
import { isAlive, readPostmasterPid } from "../../../relay/embedded/postmaster-pid.js";
import { checkReachable, serverUser } from "../../../relay/embedded/server-user.js";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { RelayUnreachableError } from "../../../client/engine/errors.js";
import { asUnreachable } from "../../../client/engine/open-account.js";
import { createLogger } from "../../../relay/logger.js";
import { createPgDriver, migrate } from "../../../relay/store/index.js";
import { RemoteError } from "../../../src/errors.js";
import { EXIT } from "../../../src/exit-codes.js";
import { idem, joinUser, startRelay } from "../harness.js";
import { packageRoot } from "../../../src/paths.js";

const log = createLogger("silent");
const isRoot = process.getuid?.() === 0;
const running: EmbeddedPostgres[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const s of running) await s.stop();
});

async function start(dataDir: string): Promise<EmbeddedPostgres> {
  const s = await startEmbeddedPostgres({ dataDir, log, dbUser: process.env["SMSG_RELAY_DB_USER"] });
  running.push(s);
  return s;
}

async function query<T extends object>(s: EmbeddedPostgres, sql: string): Promise<T[]> {
  const c = new pg.Client(s.connectionConfig());
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Every live postmaster whose command line names `pgDir`. */
function postmastersOn(pgDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirProc()) {
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmd[0]?.endsWith("/postgres") && cmd.includes(pgDir)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function readdirProc(): string[] {
  return readdirSyncSafe("/proc").filter((e) => /^\d+$/.test(e));
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

/** Starts the embedded server in a separate node process that then idles; resolves with the server's pid. */
async function startInChild(dataDir: string): Promise<{ child: ChildProcess; pid: number }> {
  const module = join(packageRoot(), "dist", "relay", "embedded", "embedded-postgres.js");
  const logger = join(packageRoot(), "dist", "relay", "logger.js");
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { startEmbeddedPostgres } from ${JSON.stringify(module)};
       import { createLogger } from ${JSON.stringify(logger)};
       const s = await startEmbeddedPostgres({
         dataDir: ${JSON.stringify(dataDir)},
         log: createLogger("silent"),
         dbUser: process.env.SMSG_RELAY_DB_USER || undefined,
       });
       console.log("ready " + s.pid);
       setInterval(() => {}, 60000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);
  const pid = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`the child exited (${code}) before the server was ready`)));
  });
  return { child, pid };
}

function dataFolder(): string {
  return mkdtempSync(join(tmpdir(), "smsg-embedded-"));
}

/** One cluster for the tests that run one after another (initdb takes seconds on a busy machine). */
let shared: string | undefined;
const sharedFolder = () => (shared ??= dataFolder());

describe.skipIf(process.platform !== "linux")("the relay's embedded PostgreSQL", () => {
  test("durable, on a socket in DATA/pg only, owned by the server's user", async () => {
    const data = sharedFolder();
    const s = await start(data);
    const settings = await query<{ name: string; setting: string }>(
      s,
      `SELECT name, setting FROM pg_settings
        WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses',
                       'unix_socket_directories', 'unix_socket_permissions')
        ORDER BY name`,
    );
    expect(Object.fromEntries(settings.map((r) => [r.name, r.setting]))).toEqual({
      fsync: "on",
      full_page_writes: "on",
      listen_addresses: "",
      synchronous_commit: "on",
      unix_socket_directories: join(data, "pg"),
      unix_socket_permissions: "0700",
    });
    const pgDir = statSync(join(data, "pg"));
    expect(pgDir.mode & 0o777).toBe(0o700);
    if (isRoot) {
      expect(pgDir.uid).toBe(serverUser(process.env["SMSG_RELAY_DB_USER"]).uid);
      expect(statSync(data).mode & 0o777).toBe(0o711);
    } else expect(pgDir.uid).toBe(process.getuid?.());
    expect(s.connectionString()).toBe(`postgresql://smsg@/smsg?host=${encodeURIComponent(join(data, "pg"))}&port=5432`);
    await s.stop();
    expect(isAlive(s.pid)).toBe(false);
  }, 60_000);

  test("SIGKILL of the process that started it: the watchdog stops the server", async () => {
    const data = sharedFolder();
    const { child, pid } = await startInChild(data);
    expect(isAlive(pid)).toBe(true);
    child.kill("SIGKILL");
    const ms = await until(() => !isAlive(pid), 15_000, "the server stops after its relay was killed");
    console.log(`embedded PostgreSQL gone ${ms} ms after SIGKILL of its relay`);
    expect(postmastersOn(join(data, "pg"))).toEqual([]);
  }, 60_000);

  test("a server left running (relay and watchdog killed) is stopped at the next start: one server, no lock error", async () => {
    const data = sharedFolder();
    const { child, pid } = await startInChild(data);
    // Kill the watchdog shell first, then the relay: the server is orphaned and keeps running.
    const watchdog = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
    process.kill(watchdog, "SIGKILL");
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(isAlive(pid)).toBe(true);
    const s = await start(data);
    try {
      expect(s.pid).not.toBe(pid);
      // The old server may still be finishing a shutdown it began when its relay died (its lock
      // file already gone): it ends on its own, and the new one runs meanwhile.
      await until(() => !isAlive(pid), 15_000, "the old server is gone");
      expect(postmastersOn(join(data, "pg"))).toEqual([s.pid]);
      expect(await query(s, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      // Stopped whatever happened: a server left running would make the next tests of this folder fail.
      await s.stop();
    }
  }, 60_000);

  test("a lock file naming another live process (a reused pid) does not stop a start", async () => {
    const data = sharedFolder();
    const pgDir = join(data, "pg");
    // This test process is alive and is not a postgres server of this folder.
    writeFileSync(join(pgDir, "postmaster.pid"), `${process.pid}\n${pgDir}\n0\n5432\n\n\n\nready   \n`);
    const s = await start(data);
    expect(readPostmasterPid(pgDir)?.pid).toBe(s.pid);
    await s.stop();
  }, 60_000);

  test("while the database is down requests get the retryable UNAVAILABLE; once it is back the same send is stored once", async () => {
    const data = sharedFolder();
    let server = await start(data);
    const db = createPgDriver({ pool: new pg.Pool({ ...server.connectionConfig(), max: 4 }) });
    await migrate(db);
    const r = await startRelay({ db });
    try {
      const alice = await joinUser(r, "alice");
      await joinUser(r, "bob");
      const chat = (await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" })).chat.id;
      await server.stop();
      const send = { t: "send" as const, chat, idem: idem(), envelope: new Uint8Array([1, 2, 3]) };
      const refused = await alice.client.request<"send">(send).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RemoteError);
      expect(refused).toMatchObject({ code: "UNAVAILABLE" });
      const lookup = await alice.client.request<"lookup_user">({ t: "lookup_user", username: "bob" }).catch((e) => e);
      expect(lookup).toMatchObject({ code: "UNAVAILABLE" });
      // The client treats it as "relay unreachable": the message stays queued, exit code 8.
      expect(asUnreachable("127.0.0.1", r.port, refused)).toBeInstanceOf(RelayUnreachableError);
      expect(exitCodeOf(refused)).toBe(EXIT.relayUnreachable);

      server = await start(data);
      const first = await alice.client.request<"send">(send);
      const again = await alice.client.request<"send">(send);
      expect(again).toMatchObject({ msg: first.msg, duplicate: true });
      const stored = await db.query<{ n: number }>("SELECT count(*) AS n FROM messages");
      expect(Number(stored[0]!.n)).toBe(1);
      alice.client.close();
    } finally {
      await r.stop();
      await db.close();
      await server.stop();
    }
  }, 90_000);

  describe.skipIf(!isRoot)("when the relay runs as root", () => {
    test("an unknown --db-user is refused with a sentence", () => {
      expect(() => serverUser("no-such-user-smsg")).toThrow(
        "the relay runs as root and --db-user names no-such-user-smsg, but there is no user named no-such-user-smsg",
      );
      expect(() => serverUser("root")).toThrow("--db-user root is root, and PostgreSQL refuses to run as root");
    });

    test("a data folder the server's user cannot reach is refused with a sentence naming the closed folder", async () => {
      const closed = dataFolder();
      chmodSync(closed, 0o700);
      const data = join(closed, "relay");
      mkdirSync(data);
      const user = serverUser(process.env["SMSG_RELAY_DB_USER"]);
      expect(() => checkReachable(data, user)).toThrow(
        `${closed} is closed to ${user.name}; give --data a folder it can reach`,
      );
      await expect(
        startEmbeddedPostgres({ dataDir: data, log, dbUser: process.env["SMSG_RELAY_DB_USER"] }),
      ).rejects.toThrow(`cannot reach ${data}`);
    });
  });
});
