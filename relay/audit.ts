/**
 * The operator's audit trail: one JSON line per operator action (invite created, account
 * disabled, enabled, promoted, deleted; backup, restore), appended to `<data>/audit.log`
 * (mode 0600) whether the action went through the running relay or straight to the database,
 * and also written to the relay's log when the relay did it. Never a secret: no invite link
 * or code, no credential, no key; the invite is named by its database id.
 */
import { appendFileSync, chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "./logger.js";

export const AUDIT_FILE = "audit.log";

export type AuditAction =
  | "invite_created"
  | "account_disabled"
  | "account_enabled"
  | "account_promoted"
  | "account_demoted"
  | "account_deleted"
  | "backup_written"
  | "backup_restored";

export interface AuditEntry {
  readonly action: AuditAction;
  /** The account acted on, when there is one. */
  readonly username?: string;
  /** Who ran the command: the operating-system user the command ran as (self-reported over admin.sock). */
  readonly operator: string;
  /** How it was done: through the running relay, or on the database directly. */
  readonly via: "admin.sock" | "database";
  readonly [detail: string]: unknown;
}

/** Appends `entry` (with the time) to the data folder's audit log, and to `log` when given. */
export function audit(dataDir: string, entry: AuditEntry, log?: Logger, now: Date = new Date()): void {
  const line = { ts: now.toISOString(), ...entry };
  const path = join(dataDir, AUDIT_FILE);
  const fresh = !existsSync(path);
  appendFileSync(path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  if (fresh) chmodSync(path, 0o600);
  log?.info({ audit: line }, `operator: ${entry.action}`);
}
