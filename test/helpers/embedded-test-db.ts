/**
 * A database of its own for a test file on the run's embedded PostgreSQL server
 * (test/embedded-pg-setup.ts), copied from the migrated template: the relay's real storage,
 * at the cost of a CREATE DATABASE. Dropped when the worker's file is done (`drop`).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type Db, createPgDriver } from "../../relay/store/index.js";

const TEMPLATE_DATABASE = "smsg_template";

function serverConfig(): pg.ClientConfig {
  const json = process.env["SMSG_TEST_EMBEDDED_PG"];
  if (json === undefined) {
    throw new Error("no embedded test server: run the tests through vitest (its global setup starts the server)");
  }
  return JSON.parse(json) as pg.ClientConfig;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(serverConfig());
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates `t_<random>` from the template; `db` is a driver over a pool of `max` connections. */
export async function createEmbeddedTestDatabase(
  options: {
    max?: number;
    listenerRetryMs?: number;
    onListenerLost?: () => void;
    onListenerRestored?: () => void;
  } = {},
): Promise<{ name: string; config: pg.ClientConfig; db: Db; drop(): Promise<void> }> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`));
  const config = { ...serverConfig(), database: name };
  const db = createPgDriver({ pool: new pg.Pool({ ...config, max: options.max ?? 10 }), ...options });
  return {
    name,
    config,
    db,
    async drop() {
      await db.close().catch(() => undefined);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Another driver on the same test database (a second relay sharing it). */
export function driverOn(config: pg.ClientConfig, max = 10): Db {
  return createPgDriver({ pool: new pg.Pool({ ...config, max }) });
}
