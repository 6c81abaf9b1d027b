/**
 * Two relays on one database (the run's embedded PostgreSQL): when relay B's LISTEN connection
 * is killed, messages committed on relay A meanwhile are announced to nobody. Once B listens
 * again it catches up from the table: its client gets them live, in order, before what comes
 * after, and nothing twice.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Db } from "../../relay/store/index.js";
import { createEmbeddedTestDatabase, driverOn } from "../helpers/embedded-test-db.js";
import { type TestRelay, type TestUser, idem, joinUser, nextMessages, startRelay } from "./harness.js";

describe("cross-relay delivery after a lost LISTEN connection", () => {
  let dbA: Db;
  let dbB: Db;
  let drop: () => Promise<void>;
  let a: TestRelay;
  let b: TestRelay;
  const events: string[] = [];

  beforeAll(async () => {
    const t = await createEmbeddedTestDatabase({
      listenerRetryMs: 1500,
      onListenerLost: () => events.push("lost"),
      onListenerRestored: () => events.push("restored"),
    });
    dbB = t.db;
    drop = t.drop;
    dbA = driverOn(t.config);
    a = await startRelay({ db: dbA });
    b = await startRelay({ db: dbB, keyPair: a.keyPair });
  }, 30_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await dbA?.close();
    await drop?.();
  });

  test("messages sent while B's LISTEN was down reach B's client once LISTEN is back: live, in order, once", async () => {
    const alice: TestUser = await joinUser(a, "alice");
    const bob: TestUser = await joinUser(b, "bob");
    const chat = (await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" })).chat.id;
    const send = async (text: string) =>
      (
        await alice.client.request<"send">({
          t: "send",
          chat,
          idem: idem(),
          envelope: new TextEncoder().encode(text),
        })
      ).msg;

    const all: number[] = [];
    bob.client.on("msg", (m) => all.push(m.msg));
    const before = nextMessages(bob.client, 1);
    const m0 = await send("before");
    expect((await before).map((m) => m.msg)).toEqual([m0]);

    const arriving = nextMessages(bob.client, 3, 15_000);
    const killed = await dbA.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
    );
    expect(killed.length).toBe(2); // A's and B's listeners: both come back
    await expect.poll(() => events.includes("lost"), { timeout: 5000 }).toBe(true);
    expect(events).not.toContain("restored");
    const m1 = await send("during 1");
    const m2 = await send("during 2");
    await expect.poll(() => events.includes("restored"), { timeout: 10_000 }).toBe(true);
    const m3 = await send("after");
    const got = await arriving;
    expect(got.map((m) => m.msg)).toEqual([m1, m2, m3]);
    // And nothing more comes (no duplicate push): a round trip after the last one, then check.
    await bob.client.request<"lookup_user">({ t: "lookup_user", username: "alice" });
    expect(all).toEqual([m0, m1, m2, m3]);
    alice.client.close();
    bob.client.close();
  }, 60_000);
});
