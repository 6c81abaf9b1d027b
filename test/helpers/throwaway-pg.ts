/**
 * A throwaway PostgreSQL database on the server TEST_DATABASE_URL points at, for tests that
 * need a real server; `pgUrl` is undefined when the variable is unset (those tests skip).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const pgUrl: string | undefined = process.env["TEST_DATABASE_URL"] || undefined;

/** Creates `smsg_test_<random>`; `drop()` removes it even if connections are still open. */
export async function createThrowawayDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const name = `smsg_test_${randomBytes(6).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
