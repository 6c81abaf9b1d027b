/**
 * Tells a database that cannot be reached (restarting, a killed connection, a full pool, the
 * socket gone) from a failure of the request itself, so the relay answers the first with the
 * stable, retryable UNAVAILABLE and never with INTERNAL (docs/ARCHITECTURE.md, Relay storage).
 */

/** SQLSTATEs that mean "the server or the connection is not there right now". */
const UNAVAILABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown (the server is stopping)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, recovering)
  "53300", // too_many_connections
  "57014", // query_canceled (statement_timeout): the server is overloaded
]);

/** Node socket errors on the way to the database. */
const UNAVAILABLE_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);

export function isDatabaseUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code)) return true;
  }
  // What pg throws when the connection ends under a query, or no pooled connection comes in time.
  return /Connection terminated|connection timeout|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)/i.test(
    e.message,
  );
}
