/**
 * The operator's channel into a running relay: a Unix socket `<data>/admin.sock`, mode 0600,
 * so only the relay's own user can use it (DESIGN.md: operator commands work on embedded
 * storage too, where only the relay process may open the database). One JSON request line,
 * one JSON answer line.
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { type Server, createConnection, createServer } from "node:net";
import { join } from "node:path";
import { SmsgError } from "../crypto/errors.js";
import { type InviteEndpoint, createInvite, listAccounts, setAccountDisabled } from "./admin-ops.js";
import type { Relay } from "./server.js";

export const ADMIN_SOCKET = "admin.sock";

export type AdminRequest =
  | { readonly cmd: "invite"; readonly uses: number; readonly expiresInMs: number | null; readonly admin: boolean }
  | { readonly cmd: "accounts" }
  | { readonly cmd: "disable"; readonly username: string; readonly disabled: boolean };

export type AdminResponse = { ok: true; result: unknown } | { ok: false; error: string };

const MAX_REQUEST_BYTES = 4096;

/** Serves admin requests for `relay` on `<dataDir>/admin.sock`. */
export async function startAdminSocket(relay: Relay, dataDir: string, endpoint: InviteEndpoint): Promise<Server> {
  const path = join(dataDir, ADMIN_SOCKET);
  // A socket file left by a relay that was killed: remove it if nobody answers on it.
  if (existsSync(path) && !(await socketAnswers(path))) unlinkSync(path);
  const server = createServer((sock) => {
    sock.on("error", () => undefined);
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.length > MAX_REQUEST_BYTES) return sock.destroy();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      void answer(relay, endpoint, buf.slice(0, nl)).then((res) => sock.end(`${JSON.stringify(res)}\n`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

async function answer(relay: Relay, endpoint: InviteEndpoint, line: string): Promise<AdminResponse> {
  try {
    const req = JSON.parse(line) as AdminRequest;
    const { store, ctx } = relay;
    switch (req.cmd) {
      case "invite":
        return { ok: true, result: await createInvite(store, ctx.rng, endpoint, req, ctx.now()) };
      case "accounts":
        return { ok: true, result: await listAccounts(store) };
      case "disable": {
        const r = await setAccountDisabled(store, req.username, req.disabled);
        // A disabled account loses its open connections at once.
        if (req.disabled)
          for (const c of [...(ctx.presence.connectionsOf(r.id) ?? [])])
            c.fail("ACCOUNT_DISABLED", "this account was disabled by the relay's operator");
        return { ok: true, result: { username: r.username, disabled: req.disabled } };
      }
      default:
        return { ok: false, error: "unknown admin command" };
    }
  } catch (e) {
    return { ok: false, error: e instanceof SmsgError ? e.message : "the relay could not do that; see its log" };
  }
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
