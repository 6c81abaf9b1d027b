/**
 * A client killed mid-send loses nothing and duplicates nothing, end to end with the built
 * `smsg` and a relay process. Alice runs `smsg send bob "msg N"` and SIGKILLs it: twice at a
 * random moment of a whole run (most die before the message is even stored: Node's start alone
 * takes a few hundred ms), three times the moment the outbox holds the message (stored and
 * encrypted, not yet acknowledged: the test polls alice's SQLite store read-only), and six
 * times a random delay after that moment, up to what the rest of the first send took here
 * (weighted towards short delays): those die while the send is on the wire, after the relay
 * stored it but before alice marked it sent, or not at all. Each `send` first sends what an
 * earlier run left in the outbox, so some runs are also killed in the middle of that. The
 * delays come from a seeded source (test/helpers/test-seed.ts): a failure prints the seed that
 * replays them.
 *
 * Where each run stopped (not stored / pending / sent) is read from alice's store directly
 * (the statuses are plain columns), not with another `smsg` process per round, and is in every
 * failure message. At the end alice's next command sends what the kills left: her history
 * shows every message as sent, bob's shows exactly those, each once, in order, and later sends
 * in both directions still decrypt (the ratchets stayed in sync). Each round is a step of its
 * own (test/helpers/steps.ts).
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { type Database, openDatabase } from "../../client/store/sqlite.js";
import { scenario } from "../helpers/steps.js";
import { testRandom } from "../helpers/test-seed.js";
import { bodies, completion, createWorld, expectOk, messages } from "./world.js";

const world = createWorld("killed");
const random = testRandom("test/e2e/killed-client.test.ts");
beforeAll(() => world.startRelay());
afterAll(() => world.close());

/** The ways a round is killed, as its step's title says them. */
const KILLED = {
  anytime: "at a random moment",
  queued: "as soon as it is queued",
  "after queued": "a random delay after it is queued",
} as const;

/** How each round is killed, in order (see the file comment). */
const ROUNDS: readonly (keyof typeof KILLED)[] = [
  "anytime",
  "anytime",
  "queued",
  "after queued",
  "after queued",
  "queued",
  "after queued",
  "after queued",
  "queued",
  "after queued",
  "after queued",
];

const storePath = () => join(world.home("alice"), "store.sqlite");

/** Alice's own texts (not key or name hand-overs: those have no sequence number), oldest first. */
function aliceStore(): { texts: { id: number; status: string }[] } {
  // Read-write, so that SQLite can recover the WAL index a killed writer may have left; this
  // only reads, and no smsg process of alice's runs meanwhile.
  const db = openDatabase(storePath(), { fileMustExist: true, timeout: 5000 });
  try {
    const texts = db
      .prepare("SELECT id, status FROM messages WHERE direction = 'out' AND sender_seq IS NOT NULL ORDER BY id")
      .all() as { id: number; status: string }[];
    return { texts };
  } finally {
    db.close();
  }
}

/**
 * Polls the profile's SQLite store (read-only) and calls `then` once, as soon as the outbox
 * holds the row of a message newer than `afterId` (the run's own: an earlier run's leftover,
 * which the run sends first, does not count). Returns a function that stops polling.
 */
function onceQueued(afterId: number, then: () => void): () => void {
  let db: Database | undefined;
  const timer = setInterval(() => {
    try {
      db ??= openDatabase(storePath(), { readonly: true, fileMustExist: true });
      const row = db.prepare("SELECT count(*) AS n FROM outbox WHERE message_id > ?").get(afterId) as { n: number };
      if (row.n > 0) {
        stop();
        then();
      }
    } catch {
      // busy or not there yet: try again
    }
  }, 1);
  const stop = () => {
    clearInterval(timer);
    db?.close();
    db = undefined;
  };
  return stop;
}

scenario("smsg, a client killed mid-send", (step) => {
  /** How long the first whole send took here, and how long from its being queued to the end (ms). */
  let wholeSend = 0;
  let afterQueued = 0;
  /** One line per round: how it was killed and where it stopped; in every failure message. */
  const runs: string[] = [];
  const log = () => `seed ${random.seed}\n${runs.join("\n")}`;
  const lastId = () => aliceStore().texts.at(-1)?.id ?? 0;

  step("alice and bob join; alice's first send (it makes the session) is timed", async () => {
    await world.join("alice");
    await world.join("bob");
    expectOk(await world.smsg("alice", ["chat", "open", "bob"]));
    const t0 = Date.now();
    let queuedAt = 0;
    const stop = onceQueued(lastId(), () => (queuedAt = Date.now()));
    const r = await world.smsg("alice", ["send", "bob", "msg 0"]);
    stop();
    expectOk(r);
    const t1 = Date.now();
    wholeSend = t1 - t0;
    afterQueued = queuedAt > 0 ? t1 - queuedAt : wholeSend;
    runs.push(`a whole send: ${wholeSend} ms, ${afterQueued} ms of it after being queued`);
  });

  ROUNDS.forEach((kind, i) => {
    const n = i + 1;
    step(`msg ${n}: killed ${KILLED[kind]}`, async () => {
      const before = aliceStore().texts;
      const child = world.spawn("alice", ["send", "bob", `msg ${n}`]);
      const done = completion(child);
      const kill = () => child.kill("SIGKILL");
      let how: string;
      let timer: NodeJS.Timeout | undefined;
      let stopPolling = () => {};
      if (kind === "anytime") {
        const delay = random.int(Math.round(wholeSend * 1.1));
        timer = setTimeout(kill, delay);
        how = `after ${delay} ms`;
      } else if (kind === "queued") {
        stopPolling = onceQueued(before.at(-1)?.id ?? 0, kill);
        how = "once queued";
      } else {
        // Squared: most of the rest of a later send is over in a few tens of ms.
        const delay = Math.round(afterQueued * random.next() ** 2);
        stopPolling = onceQueued(before.at(-1)?.id ?? 0, () => (timer = setTimeout(kill, delay)));
        how = `${delay} ms after being queued`;
      }
      const r = await done;
      stopPolling();
      clearTimeout(timer);
      // Where the killed run stopped, as alice's store shows it before anything else runs.
      const after = aliceStore().texts;
      expect(after.length - before.length, log()).toBeLessThanOrEqual(1);
      const mine = after.length > before.length ? after.at(-1)!.status : "not stored";
      runs.push(`msg ${n}: kill ${how}: ${r.signal ?? `exit ${r.code}`}, ${mine}`);
      // A run that was not killed succeeded, and its message is sent.
      if (r.signal === null) {
        expect(r.code, `${log()}\n${r.stderr}`).toBe(0);
        expect(mine, log()).toBe("sent");
      }
    });
  });

  step("the runs killed as soon as queued died with the message stored and queued, not acknowledged", () => {
    expect(runs.filter((l) => l.includes("once queued: SIGKILL, pending")).length, log()).toBeGreaterThan(0);
  });

  let written: unknown[] = [];
  step("alice's next command sends what the kills left: her history shows every message as sent", async () => {
    const mine = messages(expectOk(await world.smsg("alice", ["history", "bob", "--json", "--limit", "200"])));
    expect(
      mine.map((m) => [m["body"], m["status"]]),
      log(),
    ).toEqual(mine.map((m) => [m["body"], "sent"]));
    written = mine.filter((m) => m["direction"] === "out").map((m) => m["body"]);
    expect(written).toContain("msg 0");
  });

  step("bob has exactly what alice stored, each once, in order; nothing she never stored", async () => {
    const got = bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json", "--limit", "200"])));
    expect(got, log()).toEqual(written);
    expect(new Set(got).size).toBe(got.length);
  });

  step("the ratchets are in sync: later sends in both directions work", async () => {
    expectOk(await world.smsg("alice", ["send", "bob", "after the kills"]));
    expect(bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json", "--limit", "200"]))).at(-1)).toBe(
      "after the kills",
    );
    expectOk(await world.smsg("bob", ["send", "alice", "all received"]));
    expect(bodies(expectOk(await world.smsg("alice", ["history", "bob", "--json", "--limit", "200"]))).at(-1)).toBe(
      "all received",
    );
  });
});
