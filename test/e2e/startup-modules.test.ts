/**
 * The one-shot commands load only what they run (bin/smsg.ts mounts the named command's module
 * alone; docs/ARCHITECTURE.md §5.12): `smsg send`, `whoami` and `history`, run for real
 * against a relay, must not load the relay, the full-screen UI (ink, React), the relay's
 * drivers (pg, pino, prom-client, PGlite) or the test-vector generators. This checks the
 * structure, not the time (bench/startup.ts measures that), so an import added later that pulls
 * one of them in fails here instead of quietly slowing every command.
 *
 * Each run gets `--import` of a small recorder: an ES module loader hook that writes down every
 * module URL it loads, and, at exit, every CommonJS file in require's cache (better-sqlite3,
 * and whatever CommonJS packages require in turn).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createWorld, expectOk } from "./world.js";

const world = createWorld("startup-modules");
afterAll(() => world.close());

const hooksFile = join(world.root, "record-hooks.mjs");
const recorderFile = join(world.root, "record-modules.mjs");

/** The loader hook (runs on the loader's thread): one line per module loaded. */
const HOOKS = `import { appendFileSync } from "node:fs";
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, next) {
  appendFileSync(out, url + "\\n");
  return next(url, context);
}
`;

/** Registers the hook, and lists require's cache when the process exits. */
const RECORDER = `import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";
const out = process.env.SMSG_TEST_MODULES_OUT;
register(${JSON.stringify(pathToFileURL(hooksFile).href)}, import.meta.url, { data: { out } });
const cache = createRequire(import.meta.url).cache;
process.on("exit", () => appendFileSync(out, Object.keys(cache).map((f) => pathToFileURL(f).href + "\\n").join("")));
`;

/** What no one-shot client command may load, by URL. */
const FORBIDDEN: readonly [what: string, url: RegExp][] = [
  ["the relay", /\/dist\/relay\//],
  ["the full-screen UI", /\/dist\/client\/tui\//],
  ["the test-vector generators", /\/dist\/crypto\/vectors\//],
  ["the interactive mode", /\/dist\/client\/commands\/interactive\.js$/],
  ["ink", /\/node_modules\/ink\//],
  ["react", /\/node_modules\/react\//],
  ["pg", /\/node_modules\/pg\//],
  ["pino", /\/node_modules\/pino\//],
  ["prom-client", /\/node_modules\/prom-client\//],
  ["PGlite", /\/node_modules\/@electric-sql\/pglite\//],
];

let runs = 0;

/** Runs `smsg ARGS` as alice with the recorder; expects exit code 0 and returns the module URLs it loaded. */
async function loadedBy(args: string[]): Promise<string[]> {
  const out = join(world.root, `modules-${++runs}.txt`);
  writeFileSync(out, "");
  const r = await world.smsg("alice", args, {
    env: { NODE_OPTIONS: `--import ${pathToFileURL(recorderFile).href}`, SMSG_TEST_MODULES_OUT: out },
  });
  // stderr may hold a warning (the first send pins bob's key), never a failure.
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(out, "utf8").split("\n").filter(Boolean);
}

/** Expects `urls` to hold the command's own module and none of FORBIDDEN. */
function expectOnlyWhatItRuns(urls: string[], own: string): void {
  // The recorder works: the command's own module and the local store's driver are listed.
  expect(urls.some((u) => u.endsWith(`/dist/client/commands/${own}.js`))).toBe(true);
  expect(urls.some((u) => /\/node_modules\/better-sqlite3\//.test(u))).toBe(true);
  for (const [what, url] of FORBIDDEN)
    expect(
      urls.filter((u) => url.test(u)),
      `smsg ${own} loaded ${what}`,
    ).toEqual([]);
}

describe("one-shot commands load only their own modules", () => {
  beforeAll(async () => {
    writeFileSync(hooksFile, HOOKS);
    writeFileSync(recorderFile, RECORDER);
    await world.startRelay();
    await world.join("alice");
    await world.join("bob");
    expectOk(await world.smsg("alice", ["chat", "open", "bob"]));
  });

  test("smsg send", async () => {
    expectOnlyWhatItRuns(await loadedBy(["send", "bob", "hello"]), "send");
  });

  test("smsg whoami", async () => {
    expectOnlyWhatItRuns(await loadedBy(["whoami"]), "whoami");
  });

  test("smsg history", async () => {
    expectOnlyWhatItRuns(await loadedBy(["history", "bob"]), "history");
  });

  test("the recorder does see the relay where a command runs it", async () => {
    const urls = await loadedBy(["relay", "invite", "--data", world.relayData]);
    expect(urls.some((u) => FORBIDDEN[0]![1].test(u))).toBe(true);
  });
});
