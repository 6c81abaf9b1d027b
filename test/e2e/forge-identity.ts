/**
 * A key change forged in a stopped relay's database (its embedded PostgreSQL, opened the way an
 * operator command opens it), for the e2e tests that check a forged key blocks sending.
 */
import { createLogger } from "../../relay/logger.js";
import { openDatabase } from "../../relay/open-database.js";
import { forgeIdentityIn } from "../client/engine/helpers.js";

/** Gives `username` a new identity key in the relay of `dataDir`, which must not be running. */
export async function forgeIdentityInRelay(dataDir: string, username: string): Promise<void> {
  const relayDb = await openDatabase(
    { dataDir, databaseUrl: undefined, dbUser: process.env["SMSG_RELAY_DB_USER"], allowUnsafeDurability: false },
    createLogger("silent"),
    "operate",
  );
  try {
    await forgeIdentityIn(relayDb.db, username);
  } finally {
    await relayDb.close();
  }
}
