/**
 * The operator's channel into a running relay: a Unix socket `<data>/admin.sock`, mode 0600,
 * so only the relay's own user can use it (docs/ARCHITECTURE.md §3.10: operator commands work on embedded
 * storage too, where only the relay process may open the database). One JSON request line,
 * one JSON answer line.
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { once } from "node:events";
import { type Server, type Socket, createConnection, createServer } from "node:net";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { SmsgError } from "../src/errors.js";
import {
  type AdminEnv,
  type InviteEndpoint,
  type LiveRelay,
  type OperatorRequest,
  runAdminRequest,
} from "./admin-ops.js";
import { dumpDatabase } from "./backup/dump.js";
import { readRelayKeyFile } from "./backup/relay-key-file.js";
import type { Relay } from "./server.js";

export const ADMIN_SOCKET = "admin.sock";

export type AdminRequest =
  | OperatorRequest
  /** Answered not with one line but with the backup's lines (relay/backup/dump.ts). */
  | { readonly cmd: "backup"; readonly operator: string };

/** A failed request carries the error's sentence and its stable code (SmsgError), so the CLI exits with the code's exit code. */
export type AdminResponse = { ok: true; result: unknown } | { ok: false; error: string; code?: string };

const MAX_REQUEST_BYTES = 4096;

/** Serves admin requests for `relay` on `<dataDir>/admin.sock`. */
export async function startAdminSocket(relay: Relay, dataDir: string, endpoint: InviteEndpoint): Promise<Server> {
  const path = join(dataDir, ADMIN_SOCKET);
  // A socket file left by a relay that was killed: remove it if nobody answers on it.
  if (existsSync(path) && !(await socketAnswers(path))) unlinkSync(path);
  const server = createServer((sock) => {
    sock.on("error", () => undefined);
    let buf = "";
    let taken = false;
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      if (taken) return; // one request per connection
      buf += d;
      if (buf.length > MAX_REQUEST_BYTES) return sock.destroy();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      taken = true;
      if (isBackupRequest(line)) return void streamBackup(relay, dataDir, endpoint, sock);
      void answer(relay, dataDir, endpoint, line).then((res) => sock.end(`${JSON.stringify(res)}\n`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

/** What the running relay adds to an operator's change: connections cut, members told. */
function liveRelay(relay: Relay): LiveRelay {
  const { ctx } = relay;
  return {
    isOnline: (id) => (ctx.presence.connectionsOf(id)?.size ?? 0) > 0,
    disconnect(id, code, message) {
      for (const c of [...(ctx.presence.connectionsOf(id) ?? [])]) c.fail(code, message);
    },
    async accountDeleted(username, deleted) {
      for (const g of deleted.groups) {
        ctx.presence.invalidateChat(g.chatId);
        await ctx.fanout.chatEvent({
          chat: g.chatId,
          event: "left",
          user: username,
          by: username,
          audience: g.members,
        });
      }
      for (const chat of deleted.directChats) ctx.presence.invalidateChat(chat);
    },
  };
}

async function answer(relay: Relay, dataDir: string, endpoint: InviteEndpoint, line: string): Promise<AdminResponse> {
  try {
    const req = JSON.parse(line) as OperatorRequest;
    const known = ["invite", "accounts", "disable", "promote", "delete"];
    if (!known.includes(req.cmd)) return { ok: false, error: "unknown admin command" };
    const env: AdminEnv = {
      store: relay.store,
      db: relay.db,
      rng: relay.ctx.rng,
      now: relay.ctx.now(),
      dataDir,
      via: "admin.sock",
      endpoint: () => endpoint,
      live: liveRelay(relay),
      log: relay.ctx.log,
    };
    return { ok: true, result: await runAdminRequest(req, env) };
  } catch (e) {
    if (e instanceof SmsgError) return { ok: false, error: e.message, code: e.code };
    relay.ctx.log.error({ err: e instanceof Error ? e.message : String(e) }, "admin request failed");
    return { ok: false, error: "the relay could not do that; see its log" };
  }
}

function isBackupRequest(line: string): boolean {
  try {
    return (JSON.parse(line) as { cmd?: unknown }).cmd === "backup";
  } catch {
    return false;
  }
}

/** Writes a consistent dump of the running relay's database to `sock`, line by line; cuts it on failure. */
async function streamBackup(relay: Relay, dataDir: string, endpoint: InviteEndpoint, sock: Socket): Promise<void> {
  try {
    const relayKey = readRelayKeyFile(dataDir);
    await dumpDatabase(
      {
        db: relay.db,
        relayKey,
        endpoint: { publicHost: endpoint.host, port: endpoint.port },
        now: new Date(relay.ctx.now()),
      },
      async (line) => {
        if (sock.destroyed) throw new Error("the operator's command went away");
        if (!sock.write(`${line}\n`)) await once(sock, "drain");
      },
    );
    sock.end();
  } catch (e) {
    relay.ctx.log.error({ err: e instanceof Error ? e.message : String(e) }, "backup failed");
    // The reader sees a backup without its last line and discards it.
    sock.destroy();
  }
}

/**
 * Streams a request whose answer is many lines (a backup) from the relay running with
 * `dataDir` to `onLine`. Resolves false when no relay runs there.
 */
export function adminStream(
  dataDir: string,
  req: AdminRequest,
  onLine: (line: string) => Promise<void>,
): Promise<boolean> {
  const path = join(dataDir, ADMIN_SOCKET);
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return resolve(false);
    const s = createConnection(path);
    let connected = false;
    s.once("connect", () => {
      connected = true;
      s.write(`${JSON.stringify(req)}\n`);
      const lines = createInterface({ input: s, crlfDelay: Infinity });
      void (async () => {
        try {
          for await (const line of lines) {
            // A relay that does not know the request answers with one error line.
            if (line.startsWith('{"ok":false'))
              throw new SmsgError("ADMIN", (JSON.parse(line) as { error: string }).error);
            await onLine(line);
          }
          resolve(true);
        } catch (e) {
          s.destroy();
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      })();
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      if (!connected && (e.code === "ECONNREFUSED" || e.code === "ENOENT")) resolve(false);
      // After connecting, the line reader ends and the caller's check finds the stream incomplete.
    });
  });
}

/** True when a relay answers on the admin socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** True when a relay is serving `dataDir` (its admin socket answers). */
export function relayRunsOn(dataDir: string): Promise<boolean> {
  const path = join(dataDir, ADMIN_SOCKET);
  return existsSync(path) ? socketAnswers(path) : Promise.resolve(false);
}

/**
 * Sends one request to the relay running with `dataDir`. Resolves undefined when no relay is
 * running there (no socket, or nobody listening), so the caller can open the database itself.
 */
export function adminRequest(dataDir: string, req: AdminRequest): Promise<AdminResponse | undefined> {
  const path = join(dataDir, ADMIN_SOCKET);
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return resolve(undefined);
    const s = createConnection(path);
    let buf = "";
    s.setEncoding("utf8");
    s.once("error", (e: NodeJS.ErrnoException) =>
      e.code === "ECONNREFUSED" || e.code === "ENOENT" ? resolve(undefined) : reject(e),
    );
    s.on("data", (d: string) => (buf += d));
    s.on("end", () => {
      try {
        resolve(JSON.parse(buf) as AdminResponse);
      } catch {
        reject(new SmsgError("ADMIN", "the relay gave an unreadable answer on its admin socket"));
      }
    });
    s.write(`${JSON.stringify(req)}\n`);
  });
}
