/**
 * A data folder remembers which storage its relay uses (relay/storage-marker.ts): an operator
 * command on a folder whose relay is on an external PostgreSQL, run without a reachable URL,
 * fails with a sentence and creates no second database; a folder with an embedded database is
 * not pointed at another server; a folder where no relay ran gets nothing from an operator
 * command. Operator commands run the built CLI, as an operator would.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { CLI } from "../../bench/relay-process.js";
import { createLogger } from "../../relay/logger.js";
import { openDatabase } from "../../relay/open-database.js";
import { createThrowawayDatabase, pgUrl } from "../helpers/throwaway-pg.js";

const log = createLogger("silent");
const run = promisify(execFile);

/** Runs `smsg relay ARGS` without DATABASE_URL; resolves with its exit code and stderr. */
async function relayCommand(...args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SMSG_LOG_LEVEL: "silent" };
  delete env["DATABASE_URL"];
  try {
    const r = await run(process.execPath, [CLI, "relay", ...args], { env });
    return { code: 0, stderr: r.stderr, stdout: r.stdout };
  } catch (e) {
    const err = e as { code: number; stderr: string; stdout: string };
    return { code: err.code, stderr: err.stderr, stdout: err.stdout };
  }
}

const folder = () => mkdtempSync(join(tmpdir(), "smsg-marker-"));

describe("the data folder's storage marker", () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });

  test.skipIf(!pgUrl)(
    "a folder of a relay on PostgreSQL: without --database-url an operator command fails and creates nothing",
    async () => {
      const db = await createThrowawayDatabase(pgUrl!);
      drops.push(db.drop);
      const data = folder();
      const opened = await openDatabase(
        { dataDir: data, databaseUrl: db.url, allowUnsafeDurability: false },
        log,
        "serve",
      );
      await opened.close();
      expect(JSON.parse(readFileSync(join(data, "storage.json"), "utf8"))).toEqual({ v: 1, storage: "postgresql" });
      const before = readdirSync(data).sort();

      const r = await relayCommand("accounts", "--data", data);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `smsg: the relay of ${data} keeps its data in an external PostgreSQL: give its URL with --database-url ` +
          "(or DATABASE_URL); nothing was changed\n",
      );
      expect(readdirSync(data).sort()).toEqual(before); // no pg/, no db/
      // With the URL it works.
      expect((await relayCommand("accounts", "--data", data, "--database-url", db.url)).stdout).toBe("no accounts\n");
    },
    60_000,
  );

  test("a folder from before the marker with a relay key but no database is a relay on PostgreSQL too", async () => {
    const data = folder();
    writeFileSync(join(data, "relay.key"), new Uint8Array(32), { mode: 0o600 });
    const r = await relayCommand("invite", "--data", data);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("keeps its data in an external PostgreSQL: give its URL with --database-url");
    expect(existsSync(join(data, "pg"))).toBe(false);
  }, 60_000);

  test("a folder where no relay ran: operator commands refuse and create nothing", async () => {
    const data = folder();
    const r = await relayCommand("accounts", "--data", data);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `smsg: no relay has run in ${data} yet (no database there): start it with smsg relay serve --data ${data}\n`,
    );
    expect(readdirSync(data)).toEqual([]);
  }, 60_000);

  test("a folder with an embedded database is not pointed at another server", async () => {
    const data = folder();
    writeFileSync(join(data, "storage.json"), `${JSON.stringify({ v: 1, storage: "embedded" })}\n`);
    await expect(
      openDatabase(
        { dataDir: data, databaseUrl: "postgres://nobody@127.0.0.1:1/x", allowUnsafeDurability: false },
        log,
        "operate",
      ),
    ).rejects.toThrow(
      `the relay of ${data} keeps its data in its embedded database, not in the PostgreSQL of --database-url`,
    );
    expect(existsSync(join(data, "pg"))).toBe(false);
  });
});
