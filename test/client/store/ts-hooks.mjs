/**
 * Node module hooks that let a child process run the project's TypeScript sources directly
 * (Node 20 cannot strip types): a `.js` import that does not exist resolves to the `.ts` file
 * next to it, and `.ts` files are transpiled (no type check) with the project's TypeScript.
 * Transpiled output is cached in the temp dir by path, size and mtime, so only the first
 * child of a run pays for loading TypeScript. Used only by tests that spawn real processes
 * (crash and concurrency tests).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const uid = process.getuid?.() ?? 0;
const CACHE = join(tmpdir(), `smsg-test-ts-cache-${uid}`);
let ts;

/** True when the cache folder exists, is ours and private (never run code another user planted). */
function cacheUsable() {
  mkdirSync(CACHE, { recursive: true, mode: 0o700 });
  const st = statSync(CACHE);
  return st.uid === uid && (st.mode & 0o077) === 0;
}

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (context.parentURL && /^(\.|\/|file:)/.test(specifier) && specifier.endsWith(".js")) {
      const url = new URL(specifier.slice(0, -3) + ".ts", context.parentURL);
      if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
    }
    throw err;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return next(url, context);
  const fileName = fileURLToPath(url);
  const st = statSync(fileName);
  const id = createHash("sha256").update(`${fileName}\0${st.size}\0${st.mtimeMs}`).digest("hex");
  const cached = join(CACHE, `${id}.js`);
  const useCache = cacheUsable();
  if (useCache && existsSync(cached))
    return { format: "module", source: readFileSync(cached, "utf8"), shortCircuit: true };
  ts ??= (await import("typescript")).default;
  const out = ts.transpileModule(readFileSync(fileName, "utf8"), {
    fileName,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  }).outputText;
  if (useCache) {
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, out);
    renameSync(tmp, cached);
  }
  return { format: "module", source: out, shortCircuit: true };
}
