/**
 * `smsg relay serve` when its address cannot be had: the port is taken, privileged, or the host
 * is not an address of this machine. Node reports these as raw errno errors (`listen
 * EADDRINUSE: address already in use 127.0.0.1:7447`); an operator gets one sentence that says
 * what to change instead (README "Running a relay").
 */
import { createServer } from "node:net";
import { SmsgError, UsageError } from "../../src/errors.js";

/** The highest TCP port. */
const MAX_PORT = 65535;

/** `--port` as a port number (0: any free port). Throws UsageError otherwise. */
export function parsePort(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > MAX_PORT)
    throw new UsageError(
      `--port must be a whole number from 0 to ${MAX_PORT} (0: any free port), not ${String(value)}`,
    );
  return n;
}

/**
 * The relay could not listen on its address. Code LISTEN_FAILED (exit 1: the command line was
 * valid, the machine refused).
 */
export class ListenFailedError extends SmsgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LISTEN_FAILED", message, options);
  }
}

/** `err` (from starting the relay) as a ListenFailedError when it is a listen failure; else `err` itself. */
export function asListenFailure(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}:${port}`;
  switch (code) {
    case "EADDRINUSE":
      return new ListenFailedError(
        `cannot listen on ${where}: another program (another relay?) already uses that port; stop it or choose another --port`,
        { cause: err },
      );
    case "EACCES":
      return new ListenFailedError(
        `cannot listen on ${where}: ports below 1024 need extra privileges; choose --port 1024 or higher`,
        { cause: err },
      );
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ListenFailedError(
        `cannot listen on ${where}: ${host} is not an address of this machine; check --host (0.0.0.0 listens on all)`,
        { cause: err },
      );
    default:
      return err;
  }
}

/**
 * Throws the ListenFailedError the relay's own listen would, when `host:port` cannot be had now:
 * asked before the storage starts, so a taken port costs no embedded-server start (seconds, and
 * a new database folder) before the sentence. The relay's listen still reports what happens
 * between this probe and it. Port 0 (any free port) needs no probe.
 */
export async function ensureCanListen(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen({ host, port, exclusive: true }, () => resolve());
    });
  } catch (e) {
    throw asListenFailure(e, host, port);
  } finally {
    await new Promise<void>((resolve) => (probe.listening ? probe.close(() => resolve()) : resolve()));
  }
}
