/**
 * Vitest global setup: compiles the project (`tsc -p tsconfig.json`) before any suite runs, so
 * suites that run the built CLI (test/crypto/vectors-cli.test.ts runs dist/bin/smsg.js) never
 * test a stale dist/. `npm test` builds first anyway; this covers `npx vitest run` on its own.
 *
 * Quick when nothing changed: it compiles only when a source file that tsconfig.json includes
 * is newer than its output in dist/ (or has none), or tsconfig.json is newer than the outputs.
 * Type errors do not stop the tests (tsc still emits; `npm test` and tsconfig.test.json are
 * where they fail) — only a build that leaves dist/ stale does.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const outDir = join(root, "dist");
const tsconfig = join(root, "tsconfig.json");

/** The folders tsconfig.json compiles, from its "include" patterns of the form "dir/**\/*.ts". */
function sourceDirs(): string[] | undefined {
  const config = JSON.parse(readFileSync(tsconfig, "utf8")) as { include?: unknown };
  if (!Array.isArray(config.include)) return undefined;
  const dirs: string[] = [];
  for (const pattern of config.include) {
    const m = typeof pattern === "string" ? /^([\w-]+)\/\*\*\/\*\.ts$/.exec(pattern) : null;
    if (!m) return undefined; // a pattern this check does not understand: always build
    dirs.push(m[1]!);
  }
  return dirs;
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The first source whose output is missing or older than it, or undefined when dist/ is current. */
function staleSource(): string | undefined {
  const dirs = sourceDirs();
  if (!dirs) return tsconfig;
  const configTime = statSync(tsconfig).mtimeMs;
  for (const src of dirs.flatMap((d) => tsFiles(join(root, d)))) {
    const out = join(outDir, relative(root, src)).replace(/\.ts$/, ".js");
    if (!existsSync(out)) return src;
    const outTime = statSync(out).mtimeMs;
    if (statSync(src).mtimeMs > outTime || configTime > outTime) return src;
  }
  return undefined;
}

export default function setup(): void {
  const stale = staleSource();
  if (!stale) return;
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", tsconfig], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(
      `global setup: tsc -p tsconfig.json reported errors (dist/ was out of date at ${relative(root, stale)}):\n${r.stdout}${r.stderr}`,
    );
  }
  const still = staleSource();
  if (still)
    throw new Error(`global setup: dist/ is still out of date after tsc (${relative(root, still)}); run npm run build`);
}
