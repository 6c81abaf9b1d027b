/**
 * A client killed mid-send loses nothing and duplicates nothing, end to end with the built
 * `smsg` and a relay process. Alice starts `smsg send bob "msg N"` and SIGKILLs it after a
 * random delay between 0 and a little more than a whole send takes on this machine (measured
 * first: Node's start alone takes a few hundred ms, so a fixed 0–300 ms would kill every run
 * before it encrypts): some runs finish, some die before encrypting, some after the message
 * was stored (and queued in the outbox) but before the relay acknowledged it. Three more runs
 * are killed the moment the outbox holds the message (the test polls alice's SQLite store
 * read-only), so that case is always covered. Where each run
 * stopped (not stored / pending / sent, read with `history --offline`) is in the failure
 * message. After each kill,
 * alice's `history bob` flushes her outbox. At the end every message alice's store shows as
 * sent or pending reached bob exactly once, nothing else did, alice's store shows every one as
 * sent, and later sends in both directions still decrypt (the ratchets stayed in sync).
 */
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { type Database, openDatabase } from "../../client/store/sqlite.js";
import { bodies, completion, createWorld, expectOk, messages } from "./world.js";

const world = createWorld("killed");
afterAll(() => world.close());

/** Rounds killed after a random delay. */
const ROUNDS = 8;
/** Rounds killed as soon as the message is in alice's outbox (stored, not yet acknowledged). */
const QUEUED_ROUNDS = 3;

/**
 * Polls the profile's SQLite store (read-only) and calls `kill` as soon as the outbox holds a
 * row: the message is stored and encrypted, and the relay has (almost surely) not acked it
 * yet. Returns a function that stops polling.
 */
function killWhenQueued(storePath: string, kill: () => void): () => void {
  let db: Database | undefined;
  const timer = setInterval(() => {
    try {
      db ??= openDatabase(storePath, { readonly: true, fileMustExist: true });
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

describe("smsg, a client killed mid-send", () => {
  test("loses nothing and duplicates nothing; later sends still work", async () => {
    await world.startRelay();
    await world.join("alice");
    await world.join("bob");
    expectOk(await world.smsg("alice", ["chat", "open", "bob"]));
    // How long a whole send takes here (this first one also makes the X3DH session).
    const t0 = Date.now();
    expectOk(await world.smsg("alice", ["send", "bob", "msg 0"]));
    const maxDelay = Math.round((Date.now() - t0) * 1.1);

    const runs: string[] = [`a whole send: ${maxDelay} ms (+10%)`];
    for (let n = 1; n <= ROUNDS + QUEUED_ROUNDS; n++) {
      const child = world.spawn("alice", ["send", "bob", `msg ${n}`]);
      const done = completion(child);
      let how: string;
      let stop: () => void;
      if (n <= ROUNDS) {
        const delay = Math.floor(Math.random() * (maxDelay + 1));
        const timer = setTimeout(() => child.kill("SIGKILL"), delay);
        stop = () => clearTimeout(timer);
        how = `after ${delay} ms`;
      } else {
        stop = killWhenQueued(join(world.home("alice"), "store.sqlite"), () => child.kill("SIGKILL"));
        how = "once queued";
      }
      const r = await done;
      stop();
      // Where the killed run stopped, as alice's store shows it before anything else runs.
      const left = messages(
        expectOk(await world.smsg("alice", ["history", "bob", "--json", "--offline", "--limit", "200"])),
      ).find((m) => m["body"] === `msg ${n}`);
      runs.push(
        `msg ${n}: kill ${how}: ${r.signal ?? `exit ${r.code}`}, ${left === undefined ? "not stored" : String(left["status"])}`,
      );
      // A run that was not killed succeeded.
      if (r.signal === null) expect(r.code, `${runs.join("\n")}\n${r.stderr}`).toBe(0);
      if (r.signal === null) expect(left?.["status"]).toBe("sent");
      // Alice's next command flushes what the killed one left in the outbox.
      expectOk(await world.smsg("alice", ["history", "bob", "--json"]));
    }
    // The "once queued" rounds died with the message stored and queued but not acknowledged.
    expect(runs.filter((l) => l.includes("once queued: SIGKILL, pending")).length, runs.join("\n")).toBeGreaterThan(0);

    const mine = messages(
      expectOk(await world.smsg("alice", ["history", "bob", "--json", "--offline", "--limit", "200"])),
    );
    const written = mine.filter(
      (m) => m["direction"] === "out" && (m["status"] === "sent" || m["status"] === "pending"),
    );
    // Every message alice's store has is sent by now (the flush reached the relay).
    expect(
      mine.map((m) => m["status"]),
      runs.join("\n"),
    ).toEqual(mine.map(() => "sent"));
    const got = bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json", "--limit", "200"])));
    // Exactly what alice stored, each once, in order; none twice, none that alice never stored.
    expect(got, runs.join("\n")).toEqual(written.map((m) => m["body"]));
    expect(new Set(got).size).toBe(got.length);
    expect(got).toContain("msg 0");

    // The ratchets are in sync: later sends in both directions work.
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
