/**
 * A client killed mid-send loses nothing and duplicates nothing, end to end with the built
 * `smsg` and a relay process. Alice starts `smsg send bob "msg N"` and SIGKILLs it after a
 * random delay between 30% and 110% of what a whole send takes on this machine (measured
 * first: Node's start alone takes a few hundred ms, so a fixed 0–300 ms would kill every run
 * before it encrypts, and the message is stored and sent only near the end): some runs finish,
 * some die before encrypting, some after the message was stored (and queued in the outbox) but
 * before the relay acknowledged it, some while flushing what an earlier run left (each `send`
 * first sends the outbox). The delays come from a seeded source (test/helpers/test-seed.ts): a
 * failure prints the seed that replays them. Three more runs are killed the moment the outbox
 * holds their message (the test polls alice's SQLite store read-only), so that case is always
 * covered.
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

/** Rounds killed after a random delay. */
const RANDOM_ROUNDS = 8;
/** Rounds killed as soon as the message is in alice's outbox (stored, not yet acknowledged). */
const QUEUED_ROUNDS = 3;

const storePath = () => join(world.home("alice"), "store.sqlite");

/** Alice's own texts (not key or name hand-overs: those have no sequence number), oldest first, and her outbox size. */
function aliceStore(): { texts: { id: number; status: string }[]; outbox: number } {
  // Read-write, so that SQLite can recover the WAL index a killed writer may have left; this
  // only reads, and no smsg process of alice's runs meanwhile.
  const db = openDatabase(storePath(), { fileMustExist: true, timeout: 5000 });
  try {
    const texts = db
      .prepare("SELECT id, status FROM messages WHERE direction = 'out' AND sender_seq IS NOT NULL ORDER BY id")
      .all() as { id: number; status: string }[];
    const { n } = db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number };
    return { texts, outbox: n };
  } finally {
    db.close();
  }
}

/**
 * Polls the profile's SQLite store (read-only) and calls `kill` as soon as the outbox holds a
 * row: the message is stored and encrypted, and the relay has (almost surely) not acked it
 * yet. Returns a function that stops polling. The outbox must be empty when it starts.
 */
function killWhenQueued(kill: () => void): () => void {
  let db: Database | undefined;
  const timer = setInterval(() => {
    try {
      db ??= openDatabase(storePath(), { readonly: true, fileMustExist: true });
      const row = db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number };
      if (row.n > 0) {
        kill();
        stop();
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
  /** How long the first whole send took here (ms). */
  let wholeSend = 0;
  /** One line per round: how it was killed and where it stopped; in every failure message. */
  const runs: string[] = [];
  const log = () => `seed ${random.seed}\n${runs.join("\n")}`;

  step("alice and bob join; alice's first send (it makes the session) times a whole send", async () => {
    await world.join("alice");
    await world.join("bob");
    expectOk(await world.smsg("alice", ["chat", "open", "bob"]));
    const t0 = Date.now();
    expectOk(await world.smsg("alice", ["send", "bob", "msg 0"]));
    wholeSend = Date.now() - t0;
    runs.push(`a whole send: ${wholeSend} ms`);
  });

  for (let n = 1; n <= RANDOM_ROUNDS + QUEUED_ROUNDS; n++) {
    const queued = n > RANDOM_ROUNDS;
    step(`msg ${n}: killed ${queued ? "as soon as it is queued" : "at a random moment"}`, async () => {
      if (queued && aliceStore().outbox > 0) {
        // What an earlier kill left would trigger the kill at once: alice's next command sends it first.
        expectOk(await world.smsg("alice", ["history", "bob", "--json"]));
      }
      const before = aliceStore().texts.length;
      const child = world.spawn("alice", ["send", "bob", `msg ${n}`]);
      const done = completion(child);
      let how: string;
      let stop: () => void;
      if (!queued) {
        const delay = Math.round(wholeSend * (0.3 + 0.8 * random.next()));
        const timer = setTimeout(() => child.kill("SIGKILL"), delay);
        stop = () => clearTimeout(timer);
        how = `after ${delay} ms`;
      } else {
        stop = killWhenQueued(() => child.kill("SIGKILL"));
        how = "once queued";
      }
      const r = await done;
      stop();
      // Where the killed run stopped, as alice's store shows it before anything else runs.
      const after = aliceStore().texts;
      expect(after.length - before, log()).toBeLessThanOrEqual(1);
      const mine = after.length > before ? after.at(-1)!.status : "not stored";
      runs.push(`msg ${n}: kill ${how}: ${r.signal ?? `exit ${r.code}`}, ${mine}`);
      // A run that was not killed succeeded, and its message is sent.
      if (r.signal === null) {
        expect(r.code, `${log()}\n${r.stderr}`).toBe(0);
        expect(mine, log()).toBe("sent");
      }
    });
  }

  step("the runs killed once queued died with the message stored and queued, not acknowledged", () => {
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
