/**
 * The RelayStore suite on embedded PGlite, in memory. One instance for the whole file (initdb
 * takes ~3 s); tables are emptied between tests.
 */
import { afterAll, beforeAll, describe } from "vitest";
import type { Db } from "../../../relay/store/db.js";
import { migrate } from "../../../relay/store/migrate.js";
import { openPgliteDriver } from "../../../relay/store/pglite-driver.js";
import { RelayStore } from "../../../relay/store/store.js";
import type { Harness } from "./harness.js";
import { storeSuite } from "./suite.js";

describe("RelayStore on PGlite (in memory)", () => {
  let harness: Harness | undefined;

  beforeAll(async () => {
    const db: Db = await openPgliteDriver();
    await migrate(db);
    harness = { db, store: new RelayStore(db) };
  }, 30_000);

  afterAll(async () => {
    await harness?.db.close();
  });

  storeSuite(() => {
    if (harness === undefined) throw new Error("PGlite did not open");
    return harness;
  });
});
