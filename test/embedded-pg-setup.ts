/**
 * Vitest global setup: one embedded PostgreSQL server for the whole run (the relay's own
 * startEmbeddedPostgres, in the run's temporary folder), with a template database that has
 * every migration applied. Each test file then creates its own database from the template
 * (test/helpers/embedded-test-db.ts), which takes milliseconds, instead of starting a server.
 *
 * The server is a test server: fsync and synchronous_commit are off (the relay refuses to run
 * on such a server; the in-process test relays accept it explicitly). Suites that test
 * durability run the real `smsg relay serve`, whose embedded server has both on.
 * Workers find it through SMSG_TEST_EMBEDDED_PG (a JSON connection config), set before they start.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../relay/embedded/embedded-postgres.js";
import { createLogger } from "../relay/logger.js";
import { createPgDriver, migrate } from "../relay/store/index.js";
import pg from "pg";

export const TEMPLATE_DATABASE = "smsg_template";

/** As root without a postgres user (a bare container), the servers run as nobody: for tests only. */
function testDbUser(): string | undefined {
  if (process.getuid?.() !== 0 || process.env["SMSG_RELAY_DB_USER"]) return process.env["SMSG_RELAY_DB_USER"];
  return spawnSync("id", ["-u", "postgres"]).status === 0 ? undefined : "nobody";
}

export default async function setup(): Promise<() => Promise<void>> {
  const dbUser = testDbUser();
  // The relays the suites start as processes inherit it.
  if (dbUser !== undefined) process.env["SMSG_RELAY_DB_USER"] = dbUser;
  const dir = join(tmpdir(), "embedded-pg");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const server = await startEmbeddedPostgres({
    dataDir: dir,
    log: createLogger(process.env["SMSG_TEST_LOG"] ?? "warn"),
    durable: false,
    dbUser,
    maxConnections: 300,
  });
  const admin = new pg.Client(server.connectionConfig("postgres"));
  await admin.connect();
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const template = createPgDriver({ pool: new pg.Pool({ ...server.connectionConfig(TEMPLATE_DATABASE), max: 1 }) });
  await migrate(template);
  await template.close();
  process.env["SMSG_TEST_EMBEDDED_PG"] = JSON.stringify(server.connectionConfig("postgres"));
  return async () => {
    delete process.env["SMSG_TEST_EMBEDDED_PG"];
    await server.stop();
  };
}
