/**
 * The RelayStore suite on the relay's embedded PostgreSQL: a database of this file's own on
 * the run's embedded test server (test/embedded-pg-setup.ts), which runs with fsync and
 * synchronous_commit off for speed (the relay's own embedded server has both on:
 * test/relay/embedded/lifecycle.test.ts).
 */
import { afterAll, beforeAll, describe } from "vitest";
import { RelayStore } from "../../../relay/store/relay-store.js";
import { createEmbeddedTestDatabase } from "../../helpers/embedded-test-db.js";
import type { Harness } from "./harness.js";
import { chatLockSuite } from "./chat-locks.js";
import { integritySuite } from "./integrity.js";
import { sendRuleSuite } from "./send-rule.js";
import { storeSuite } from "./suite.js";

describe("RelayStore on the embedded PostgreSQL", () => {
  let harness: Harness | undefined;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const t = await createEmbeddedTestDatabase({ max: 20 });
    drop = t.drop;
    harness = { db: t.db, store: new RelayStore(t.db), durabilityOff: ["fsync", "synchronous_commit"] };
  }, 30_000);

  afterAll(async () => {
    await drop?.();
  });

  const get = () => {
    if (harness === undefined) throw new Error("the embedded test database was not created");
    return harness;
  };
  storeSuite(get);
  sendRuleSuite(get);
  integritySuite(get);
  chatLockSuite(get);
});
