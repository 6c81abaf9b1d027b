/**
 * A receiver killed in the middle of its first sync loses nothing and stores nothing twice, end
 * to end with the built `smsg` and a relay process (docs/ARCHITECTURE.md §4.1 "Receiving a sync
 * page", §3.7: a page is one transaction, acked after its commit). 1,200 texts from alice wait
 * for bob (three `sync` pages of up to 500); bob's `smsg history` is SIGKILLed three times: the
 * moment his store holds the first committed page (so the kill falls inside a later page's
 * transaction), a seeded random moment (up to 200 ms) after the run's first page is committed,
 * and a seeded random moment (up to 1.5 s) of a run. Then a whole `smsg history` shows every text exactly once, in order, his store holds
 * each once, and both ratchets still work (replies both ways).
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { prepareTargets } from "../../client/engine/fanout-targets.js";
import { goOnline } from "../../client/engine/online.js";
import { closeAccount, openLocalAccount } from "../../client/engine/open-account.js";
import { flushOutbox, queueText } from "../../client/engine/outbox.js";
import { type Database, openDatabase } from "../../client/store/sqlite.js";
import { freePort, startRelayProcess } from "../../bench/relay-process.js";
import { scenario } from "../helpers/steps.js";
import { testRandom } from "../helpers/test-seed.js";
import { bodies, completion, createWorld, expectOk } from "./world.js";

const world = createWorld("killed-receiver");
const random = testRandom("test/e2e/killed-receiver.test.ts");
/** Texts waiting: more than two pages of 500. */
const N = 1200;
const texts = Array.from({ length: N }, (_, i) => `wait ${i}`);

beforeAll(async () => {
  // Without the per-account send rate limit: alice puts 1,200 texts on the relay at once.
  world.port = await freePort();
  world.relay = await startRelayProcess(world.relayData, world.port, [
    "--message-rate",
    "1000000",
    "--message-burst",
    "1000000",
  ]);
}, 90_000);
afterAll(() => world.close());

const bobStore = () => join(world.home("bob"), "store.sqlite");

/** Bob's stored texts from alice (bodies are sealed: counted by relay id), read-only. */
function bobRows(db: Database): { relay: number; n: number }[] {
  return db
    .prepare(
      "SELECT relay_msg_id AS relay, count(*) AS n FROM messages WHERE sender = 'alice' AND sender_seq IS NOT NULL " +
        "GROUP BY relay_msg_id ORDER BY relay_msg_id",
    )
    .all() as { relay: number; n: number }[];
}

function withBobStore<T>(f: (db: Database) => T): T {
  // Read-write, so that SQLite can recover the WAL index a killed writer may have left; this only reads.
  const db = openDatabase(bobStore(), { fileMustExist: true, timeout: 5000 });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

/** Calls `then` once, as soon as bob's store holds more than `count` texts from alice. Returns a stop function. */
function onceStored(count: number, then: () => void): () => void {
  let db: Database | undefined;
  const timer = setInterval(() => {
    try {
      db ??= openDatabase(bobStore(), { readonly: true, fileMustExist: true });
      const row = db
        .prepare("SELECT count(*) AS n FROM messages WHERE sender = 'alice' AND sender_seq IS NOT NULL")
        .get() as { n: number };
      if (row.n > count) {
        stop();
        then();
      }
    } catch {
      // busy, or being recovered: try again
    }
  }, 2);
  const stop = () => {
    clearInterval(timer);
    db?.close();
    db = undefined;
  };
  return stop;
}

scenario("smsg, a receiver killed mid-sync", (step) => {
  let killedMidSync = 0;
  const runs: string[] = [];
  const log = () => `seed ${random.seed}\n${runs.join("\n")}`;

  step(
    "alice and bob talk once; then 1,200 texts from alice wait for bob",
    async () => {
      await world.join("alice");
      await world.join("bob");
      expectOk(await world.smsg("alice", ["chat", "open", "bob"]));
      expectOk(await world.smsg("alice", ["send", "bob", "first"]));
      expect(bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json"])))).toEqual(["first"]);
      // As `smsg send` does, N times, without N processes (bench/first-sync.ts seeds the same way).
      const acct = openLocalAccount({ dir: world.home("alice") });
      try {
        const online = await goOnline(acct, { sync: false });
        try {
          const chat = acct.store.chats.directWith("bob")!;
          const { targets } = await prepareTargets(acct, online.relay, "bob");
          for (let done = 0; done < N; done += 400) {
            acct.store.transaction(() => {
              for (const t of texts.slice(done, done + 400)) queueText(acct, chat, t, targets);
            });
            await flushOutbox(acct, online.relay);
          }
        } finally {
          online.close();
        }
      } finally {
        closeAccount(acct);
      }
    },
    240_000,
  );

  const kills = ["after the first page", "a random moment after the first page", "a random moment"] as const;
  kills.forEach((how) => {
    step(
      `bob's history killed at ${how}`,
      async () => {
        const stored = withBobStore((db) => bobRows(db).length);
        const t0 = Date.now();
        const child = world.spawn("bob", ["history", "alice", "--json", "--limit", "1"]);
        const done = completion(child);
        const kill = () => child.kill("SIGKILL");
        let timer: NodeJS.Timeout | undefined;
        let stop = () => {};
        // (Node's start alone takes a few hundred ms; a page of 500 a few hundred more.)
        if (how === "a random moment") timer = setTimeout(kill, random.int(1500));
        else
          stop = onceStored(stored, () => {
            if (how === "after the first page") kill();
            else timer = setTimeout(kill, random.int(200));
          });
        const r = await done;
        stop();
        clearTimeout(timer);
        const rows = withBobStore(bobRows);
        runs.push(`${how}: ${r.signal ?? `exit ${r.code}`} after ${Date.now() - t0} ms, ${rows.length} stored`);
        if (r.signal === "SIGKILL" && rows.length < N + 1) killedMidSync++;
        // Killed, or (a late random moment) done: never failed.
        if (r.signal === null) expectOk(r);
        else expect(r.signal, log()).toBe("SIGKILL");
        // Whatever the moment: every stored text once, and what was stored before is still there.
        expect(
          rows.every((x) => x.n === 1),
          log(),
        ).toBe(true);
        expect(rows.length, log()).toBeGreaterThanOrEqual(stored);
      },
      180_000,
    );
  });

  step(
    "a whole history then shows every text once, in order; the store holds each once",
    async () => {
      // (A history page shows at most 1,000: the last ones; the store for all of them.)
      const got = bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json", "--limit", "1000"])));
      expect(got, log()).toEqual(texts.slice(-1000));
      // At least one kill fell inside the sync (else the steps above proved nothing about a kill mid-page).
      expect(killedMidSync, log()).toBeGreaterThan(0);
      const rows = withBobStore(bobRows);
      expect(rows.length, log()).toBe(N + 1);
      expect(
        rows.every((x) => x.n === 1),
        log(),
      ).toBe(true);
      // Stored in the order alice sent them: her sequence numbers 1..N+1 by relay id.
      const seqs = withBobStore((db) =>
        db
          .prepare(
            "SELECT sender_seq AS s FROM messages WHERE sender = 'alice' AND sender_seq IS NOT NULL ORDER BY relay_msg_id",
          )
          .all(),
      ) as { s: number }[];
      expect(
        seqs.map((x) => x.s),
        log(),
      ).toEqual(Array.from({ length: N + 1 }, (_, i) => i + 1));
      // Nothing comes again.
      const again = bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json", "--limit", "1000"])));
      expect(again).toEqual(got);
      if (process.env["SMSG_TEST_VERBOSE"]) process.stdout.write(`${log()}\n`);
    },
    240_000,
  );

  step(
    "the ratchets are in sync: replies both ways decrypt",
    async () => {
      expectOk(await world.smsg("bob", ["send", "alice", "got them all"]));
      expect(bodies(expectOk(await world.smsg("alice", ["history", "bob", "--json", "--limit", "5"]))).at(-1)).toBe(
        "got them all",
      );
      expectOk(await world.smsg("alice", ["send", "bob", "good"]));
      expect(bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json", "--limit", "5"]))).at(-1)).toBe(
        "good",
      );
    },
    120_000,
  );
});
