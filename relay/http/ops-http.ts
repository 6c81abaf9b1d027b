/**
 * The relay's operations endpoint (`smsg relay serve --http 127.0.0.1:7448`, off by default):
 * `/healthz` (the process is up and answering), `/readyz` (it accepts connections and its
 * database answers) and `/metrics` (Prometheus text). Plain HTTP on loopback by default,
 * like Prosody's metrics: it carries no secrets and no per-person data, but says how busy the
 * relay is, so bind it elsewhere only behind something that restricts who can read it.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { SmsgError, UsageError } from "../../src/errors.js";
import type { Logger } from "../logger.js";
import type { Relay } from "../server.js";
import { relayMetricsRegistry } from "./metrics-registry.js";

/** How long /readyz waits for the database before it answers 503. */
const READY_DB_TIMEOUT_MS = 2000;

export const DEFAULT_HTTP_PORT = 7448;

/** Parses `HOST:PORT`, `[IPv6]:PORT` or a bare `PORT` (then on 127.0.0.1). */
export function parseHttpAddress(text: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new UsageError(`--http must be HOST:PORT or PORT with a port from 0 to 65535, not "${text}"`);
  const host = m[1] === undefined ? "127.0.0.1" : m[1].replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

function reply(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

async function databaseAnswers(relay: Relay): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), READY_DB_TIMEOUT_MS)));
  try {
    return await Promise.race([relay.db.query("SELECT 1").then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the endpoint; resolves with the server and the port it bound (useful with port 0). */
export async function startOpsHttp(
  relay: Relay,
  address: { host: string; port: number },
  log: Logger,
): Promise<{ server: Server; port: number }> {
  const registry = relayMetricsRegistry(relay);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, "only GET\n");
    const path = (req.url ?? "/").split("?")[0];
    switch (path) {
      case "/healthz":
        return reply(res, 200, "ok\n");
      case "/readyz": {
        if (!relay.accepting) return reply(res, 503, "not accepting connections\n");
        if (!(await databaseAnswers(relay))) return reply(res, 503, "the database does not answer\n");
        return reply(res, 200, "ready\n");
      }
      case "/metrics":
        return reply(res, 200, await registry.metrics(), registry.contentType);
      default:
        return reply(res, 404, "not found: /healthz, /readyz and /metrics are served here\n");
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.warn({ err: e instanceof Error ? e.message : String(e) }, "ops endpoint failed");
      if (!res.headersSent) reply(res, 500, "internal error; see the relay's log\n");
      else res.destroy();
    });
  });
  // Scrapers keep connections alive; they must not hold up the relay's stop.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      const why =
        e.code === "EADDRINUSE" ? "the address is in use" : e.code === "EACCES" ? "permission denied" : e.message;
      reject(new SmsgError("HTTP_LISTEN", `cannot serve --http on ${address.host}:${address.port}: ${why}`));
    });
    server.listen(address.port, address.host, () => resolve());
  });
  const a = server.address();
  const port = typeof a === "object" && a ? a.port : address.port;
  log.info({ host: address.host, port }, "ops endpoint listening (/healthz, /readyz, /metrics)");
  return { server, port };
}

/** Closes the endpoint and any keep-alive connections it has. */
export function stopOpsHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
