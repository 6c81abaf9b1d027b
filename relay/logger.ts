/**
 * Structured logs (pino, JSON lines on stderr). Never log secrets, credentials, invite codes,
 * envelopes or anything a client sent verbatim: log ids, sizes, codes and usernames only.
 */
import { pino } from "pino";

export type Logger = pino.Logger;

/** A logger writing JSON lines to stderr at `level` ("silent" in tests). */
export function createLogger(level: string = process.env["SMSG_LOG_LEVEL"] ?? "info"): Logger {
  return pino({ level, base: { svc: "smsg-relay" } }, pino.destination(2));
}
