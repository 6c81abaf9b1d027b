/**
 * Which user the embedded PostgreSQL runs as. PostgreSQL refuses to run as root, so a relay
 * running as root (containers, CI) starts it as an unprivileged user instead: the one named by
 * `--db-user`, else an existing `postgres` user. Nothing on the host is created or changed;
 * only the relay's own data folder is made reachable to that user (its pg/ folder is owned
 * by it, the data folder itself gets mode 0711 so the user can pass through but not list it).
 * A relay that is not root runs the server as itself. See docs/ARCHITECTURE.md, Relay storage.
 */
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { SmsgError } from "../../src/errors.js";

/** The server's user: undefined uid/gid means "the relay's own user". */
export interface ServerUser {
  readonly name: string | undefined;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
}

/** The user that runs PostgreSQL when the relay itself is root. */
export const DEFAULT_ROOT_DB_USER = "postgres";

function lookup(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves the server's user. `requested` is `--db-user`; it only matters when the relay is
 * root (as another user, the server always runs as the relay's user). Throws a sentence when
 * the relay is root and no usable unprivileged user exists.
 */
export function serverUser(requested: string | undefined, isRoot = process.getuid?.() === 0): ServerUser {
  if (!isRoot) return { name: undefined, uid: undefined, gid: undefined };
  const name = requested ?? DEFAULT_ROOT_DB_USER;
  const ids = lookup(name);
  if (ids === undefined) {
    throw new SmsgError(
      "DB_USER_MISSING",
      requested === undefined
        ? "the relay runs as root, and PostgreSQL refuses to run as root: there is no user named postgres to run " +
            "the embedded database as; pass --db-user NAME (an existing unprivileged user), run the relay as an " +
            "ordinary user, or use --database-url"
        : `the relay runs as root and --db-user names ${name}, but there is no user named ${name}`,
    );
  }
  if (ids.uid === 0) {
    throw new SmsgError("DB_USER_ROOT", `--db-user ${name} is root, and PostgreSQL refuses to run as root`);
  }
  return { name, ...ids };
}

/**
 * Checks that `user` can walk down to `dir` (every folder above it searchable by that user);
 * `dir` itself is the relay's data folder, which the caller makes passable. Throws a sentence
 * naming the folder that blocks the way.
 */
export function checkReachable(dir: string, user: ServerUser): void {
  if (user.uid === undefined || user.gid === undefined) return;
  const path = resolve(dir);
  for (let up = dirname(path); ; up = dirname(up)) {
    const st = statSync(up);
    const mode = st.mode;
    const ok =
      (mode & 0o001) !== 0 ||
      (st.uid === user.uid && (mode & 0o100) !== 0) ||
      (st.gid === user.gid && (mode & 0o010) !== 0);
    if (!ok) {
      throw new SmsgError(
        "DB_USER_CANNOT_REACH",
        `the embedded PostgreSQL runs as ${user.name} (the relay runs as root) and cannot reach ${path}: ${up} ` +
          `is closed to ${user.name}; give --data a folder it can reach (for example /var/lib/socketmessenger/relay), ` +
          "run the relay as an ordinary user, or use --database-url",
      );
    }
    if (up === dirname(up)) return;
  }
}
