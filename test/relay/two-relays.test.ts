/**
 * Two relays sharing one PostgreSQL database (docs/ARCHITECTURE.md §3.9: many relays, LISTEN/NOTIFY
 * between them), each with its own pg driver, and clients on each: messages and chat events
 * cross from one relay to the other live, and sync on one sees what was sent on the other.
 * Runs only when TEST_DATABASE_URL is set.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { type Db, createPgDriver, migrate } from "../../relay/store/index.js";
import { type TestRelay, startRelay } from "./harness.js";
import { roundTrip } from "./inbox.js";
import { type Person, group, openDirect, person, reconnect, send, syncPage, text } from "./people.js";
import { TEST_DATABASE_URL, createThrowawayDatabase } from "./storages.js";

if (TEST_DATABASE_URL === "") {
  console.log(
    "Two relays on one PostgreSQL: skipped, TEST_DATABASE_URL is not set " +
      "(set it to a server where the user may create databases, e.g. postgres://postgres@127.0.0.1:5432/test)",
  );
}

describe.skipIf(TEST_DATABASE_URL === "")("two relays on one PostgreSQL database", () => {
  let drop: () => Promise<void>;
  let dbA: Db;
  let dbB: Db;
  let a: TestRelay;
  let b: TestRelay;
  const people: Person[] = [];

  async function on(relay: TestRelay, name: string): Promise<Person> {
    const p = await person(relay, name);
    people.push(p);
    return p;
  }

  beforeAll(async () => {
    const created = await createThrowawayDatabase();
    drop = created.drop;
    dbA = createPgDriver({ connectionString: created.url, max: 10 });
    dbB = createPgDriver({ connectionString: created.url, max: 10 });
    await migrate(dbA);
    // Small commit batches on A: many NOTIFYs, so their order between the relays is exercised.
    a = await startRelay({ db: dbA, limits: { maxCommitBatch: 3 } });
    b = await startRelay({ db: dbB });
  });

  afterEach(() => {
    for (const p of people.splice(0)) p.client.close();
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await dbA?.close();
    await dbB?.close();
    await drop?.();
  });

  test("a direct chat across relays: its creation and messages both ways arrive live", async () => {
    const alice = await on(a, "alice");
    const bob = await on(b, "bob");
    const chat = await openDirect(alice, bob);
    await bob.inbox.event({ chat, event: "added", user: "bob", by: "alice" });

    const s1 = await send(alice, chat, "A to B");
    expect(await bob.inbox.message(s1.msg)).toMatchObject({ chat, from: "alice", ts: s1.ts });
    const s2 = await send(bob, chat, "B to A");
    expect(text(await alice.inbox.message(s2.msg))).toBe("B to A");
    // Neither relay echoes a message back to its sender.
    await roundTrip(alice.client);
    await roundTrip(bob.client);
    expect(alice.inbox.ids).toEqual([s2.msg]);
    expect(bob.inbox.ids).toEqual([s1.msg]);
  });

  test("group events cross relays: added, removed (the removed member too), closed, reopened, left", async () => {
    const carol = await on(a, "carol");
    const dave = await on(b, "dave");
    const erin = await on(b, "erin");
    const frank = await on(a, "frank");
    const gus = await on(b, "gus"); // stays in the group on B: what he receives, B has processed
    const chat = await group(carol, [dave, gus]);
    await dave.inbox.event({ chat, event: "added", user: "dave", by: "carol" });

    await carol.client.request<"add_member">({ t: "add_member", chat, username: "erin" });
    for (const p of [dave, erin]) await p.inbox.event({ chat, event: "added", user: "erin", by: "carol" });
    await carol.client.request<"add_member">({ t: "add_member", chat, username: "frank" });
    await dave.inbox.event({ chat, event: "added", user: "frank", by: "carol" });

    const m1 = await send(carol, chat, "to all five");
    for (const p of [dave, erin, frank, gus]) await p.inbox.message(m1.msg);

    await carol.client.request<"remove_member">({ t: "remove_member", chat, username: "erin" });
    for (const p of [dave, erin, frank]) await p.inbox.event({ chat, event: "removed", user: "erin", by: "carol" });
    // Relay B forgot its cached member list: erin (on B) gets nothing more; dave (on B) does.
    const m2 = await send(carol, chat, "without erin");
    await dave.inbox.message(m2.msg);
    await roundTrip(erin.client);
    expect(erin.inbox.ids).toEqual([m1.msg]);

    await carol.client.request<"close_chat">({ t: "close_chat", chat });
    await dave.inbox.event({ chat, event: "closed", by: "carol" });
    await expect(send(dave, chat, "closed?")).rejects.toMatchObject({ code: "CHAT_CLOSED" });
    await carol.client.request<"reopen_chat">({ t: "reopen_chat", chat });
    await dave.inbox.event({ chat, event: "reopened", by: "carol" });

    await dave.client.request<"leave_chat">({ t: "leave_chat", chat });
    for (const p of [carol, frank]) await p.inbox.event({ chat, event: "left", user: "dave", by: "dave" });
    const m3 = await send(frank, chat, "after dave left");
    await carol.inbox.message(m3.msg);
    await gus.inbox.message(m3.msg);
    await roundTrip(dave.client);
    expect(dave.inbox.ids).toEqual([m1.msg, m2.msg]);
  });

  test("sync on relay B returns what was sent on relay A, in order", async () => {
    const gina = await on(a, "gina");
    const hank = await on(b, "hank");
    const ivan = await on(b, "ivan"); // online on B: once he has the last message, B is done with it
    const chat = await group(gina, [hank, ivan]);
    hank.client.close();
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await send(gina, chat, `offline ${i}`)).msg);
    await ivan.inbox.message(ids[4]!);
    const client = await reconnect(b, hank);
    const page = await syncPage(client);
    expect(page.ids).toEqual(ids);
    expect(page.more).toBe(false);
    expect(page.msgs.map(text)).toEqual(ids.map((_, i) => `offline ${i}`));
  });

  test("pipelined sends on both relays into one group: every member gets every message once, in id order", async () => {
    // Three rounds: reordering between relays showed up in about one round in three before the fix.
    for (let round = 0; round < 3; round++) {
      const ivy = await on(a, `ivy${round}`);
      const jack = await on(b, `jack${round}`);
      const kim = await on(b, `kim${round}`);
      const chat = await group(ivy, [jack, kim]);
      await kim.inbox.event({ chat, event: "added", user: kim.username, by: ivy.username });
      const [fromA, fromB] = await Promise.all([
        Promise.all(Array.from({ length: 300 }, (_, i) => send(ivy, chat, `a${i}`))),
        Promise.all(Array.from({ length: 100 }, (_, i) => send(jack, chat, `b${i}`))),
      ]);
      const idsA = fromA.map((s) => s.msg);
      const idsB = fromB.map((s) => s.msg);
      await kim.inbox.count(400);
      await ivy.inbox.count(100);
      await jack.inbox.count(300);
      // Kim (on B) gets A's messages through NOTIFY and B's from memory: each relay's in id order.
      expect(kim.inbox.ids.filter((id) => idsA.includes(id))).toEqual(idsA);
      expect(kim.inbox.ids.filter((id) => idsB.includes(id))).toEqual(idsB);
      expect(new Set(kim.inbox.ids).size).toBe(400);
      expect(jack.inbox.ids).toEqual(idsA);
      expect(ivy.inbox.ids).toEqual(idsB);
    }
  });
});
