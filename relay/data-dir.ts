/**
 * Creates the relay's data folder. The folder itself is private (0700); folders above it that
 * do not exist yet are made passable but not listable (0711), so that a relay running as root
 * can let its embedded PostgreSQL's unprivileged user walk down to `DATA/pg`
 * (relay/embedded/server-user.ts). Existing folders are left as they are.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

export function ensureDataDir(dir: string): void {
  const path = resolve(dir);
  if (existsSync(path)) return;
  const missing: string[] = [];
  for (let d = dirname(path); !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d, { mode: 0o711 });
  mkdirSync(path, { mode: 0o700 });
}
