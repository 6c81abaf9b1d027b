/**
 * The RelayStore suite on a real PostgreSQL server, plus what only a multi-connection server
 * can show: concurrent migration runners, concurrent one-time prekey takers, and NOTIFY
 * between two relays. Runs when TEST_DATABASE_URL is set (.ci/run sets it); each run creates
 * its own database smsg_test_<random> on that server and drops it afterwards.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Db } from "../../../relay/store/db.js";
import { listMigrations, migrate } from "../../../relay/store/migrate.js";
import { createPgDriver } from "../../../relay/store/pg-driver.js";
import { RelayStore } from "../../../relay/store/relay-store.js";
import { T0, bytes, makeAccount, type Harness } from "./harness.js";
import { chatLockSuite } from "./chat-locks.js";
import { integritySuite } from "./integrity.js";
import { sendRuleSuite } from "./send-rule.js";
import { storeSuite } from "./suite.js";

const url = process.env["TEST_DATABASE_URL"];
if (url === undefined || url === "") {
  console.log(
    "RelayStore on PostgreSQL: skipped, TEST_DATABASE_URL is not set " +
      "(set it to a server where the user may create databases, e.g. postgres://postgres@127.0.0.1:5432/test)",
  );
}

/** Creates a uniquely named database on the server and returns its URL. */
async function createDatabase(admin: pg.Pool, serverUrl: string): Promise<{ name: string; url: string }> {
  const name = `smsg_test_${randomBytes(6).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

describe.skipIf(url === undefined || url === "")("RelayStore on PostgreSQL", () => {
  const serverUrl = url ?? "";
  let admin: pg.Pool;
  const databases: string[] = [];
  const drivers: Db[] = [];
  let harness: Harness | undefined;
  let testDbUrl = "";

  async function freshDatabase(): Promise<string> {
    const created = await createDatabase(admin, serverUrl);
    databases.push(created.name);
    return created.url;
  }

  function driver(dbUrl: string, max = 20): Db {
    const db = createPgDriver({ connectionString: dbUrl, max });
    drivers.push(db);
    return db;
  }

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: serverUrl, max: 2 });
    testDbUrl = await freshDatabase();
    const db = driver(testDbUrl);
    await migrate(db);
    harness = { db, store: new RelayStore(db) };
  }, 30_000);

  afterAll(async () => {
    for (const db of drivers) await db.close();
    for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.end();
  });

  const get = () => {
    if (harness === undefined) throw new Error("PostgreSQL database was not created");
    return harness;
  };
  storeSuite(get);
  sendRuleSuite(get);
  integritySuite(get);
  chatLockSuite(get);

  describe("several relays on one server", () => {
    test("two migration runners at once: each migration applied exactly once", async () => {
      const dbUrl = await freshDatabase();
      const [one, two] = [driver(dbUrl, 2), driver(dbUrl, 2)];
      const [appliedByOne, appliedByTwo] = await Promise.all([migrate(one), migrate(two)]);
      expect([...appliedByOne, ...appliedByTwo].sort((x, y) => x - y)).toEqual(listMigrations().map((m) => m.version));
      expect(await one.query("SELECT version FROM schema_migrations ORDER BY version")).toEqual(
        listMigrations().map((m) => ({ version: m.version })),
      );
      expect(await migrate(two)).toEqual([]);
    });

    test("concurrent takeBundle from two relays never hands a one-time prekey out twice", async () => {
      const { store } = harness!;
      const other = new RelayStore(driver(testDbUrl));
      const alice = await makeAccount(store, "alice", { opks: 40 });
      const bundles = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? store : other).takeBundle(alice.id)),
      );
      const ids = bundles.map((b) => b?.oneTimePrekey?.keyId).filter((id): id is number => id !== undefined);
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
    });

    test("the same send through two relays at once is stored once; another chat conflicts", async () => {
      const { store, db } = harness!;
      const other = new RelayStore(driver(testDbUrl));
      const a = await makeAccount(store, "alice");
      const b = await makeAccount(store, "bob");
      const { chat } = await store.openDirectChat(a.id, b.id);
      const group = await store.createGroupChat(a.id, [b.id]);
      for (let round = 0; round < 10; round++) {
        const idem = bytes(16);
        const send = { chatId: chat.id, senderId: a.id, recipientId: null, idem, envelope: bytes(32) };
        const [[x], [y]] = await Promise.all([store.insertMessages([send], T0), other.insertMessages([send], T0)]);
        expect(x?.ok && y?.ok && x.id === y.id && x.duplicate !== y.duplicate).toBe(true);

        const idem2 = bytes(16);
        const [[p], [q]] = await Promise.all([
          store.insertMessages([{ ...send, idem: idem2 }], T0),
          other.insertMessages([{ ...send, idem: idem2, chatId: group.id }], T0),
        ]);
        const outcomes = [p, q].map((r) => (r?.ok ? (r.duplicate ? "dup" : "new") : r?.reason)).sort();
        expect(outcomes).toEqual(["idem_conflict", "new"]);
      }
      expect(Number((await db.query<{ n: number }>("SELECT count(*) AS n FROM messages"))[0]?.n)).toBe(20);
    });

    test("a broken LISTEN connection is replaced and its channels listened to again", async () => {
      const events: string[] = [];
      const listenerDb = createPgDriver({
        connectionString: testDbUrl,
        max: 2,
        listenerRetryMs: 20,
        onListenerLost: () => events.push("lost"),
        onListenerRestored: () => events.push("restored"),
      });
      drivers.push(listenerDb);
      const got: string[] = [];
      await listenerDb.listen("smsg_reconnect", (p) => got.push(p));
      const killed = await harness!.db.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN%smsg_reconnect%'`,
      );
      expect(killed).toEqual([{ ok: true }]);
      await expect.poll(() => events, { timeout: 3000 }).toEqual(["lost", "restored"]);
      await harness!.db.notify("smsg_reconnect", "after");
      await expect.poll(() => got, { timeout: 2000 }).toEqual(["after"]);
    });

    test("NOTIFY from one relay reaches another relay's listener", async () => {
      const listenerDb = driver(testDbUrl, 2);
      const got: string[] = [];
      const stop = await listenerDb.listen("smsg_new_messages", (p) => got.push(p));
      await harness!.db.notify("smsg_new_messages", "chat:7");
      await expect.poll(() => got, { timeout: 2000 }).toEqual(["chat:7"]);
      await stop();
    });
  });
});
