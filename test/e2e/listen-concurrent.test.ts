/**
 * A running `smsg listen` and one-shot commands on the same profile work at the same time, end
 * to end with the built `smsg` and a relay process. Bob runs `smsg listen --json` (its own
 * connection and its own SQLite connection to bob's store); meanwhile alice sends to bob and
 * bob runs `send`, `history` and `chat list` on the same profile, all at once. Every one-shot
 * command succeeds (exit 0, nothing on stderr: no "database is locked"), the listener prints
 * each of alice's messages exactly once, both histories hold every message exactly once (bob's
 * own as sent), and the listener keeps running and stops cleanly (exit 0) on SIGINT / SIGTERM.
 * A second case: alice sends a burst of 20 messages (one piped `smsg open bob`) while bob runs
 * `history` five times next to the listener.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { type Database, openDatabase } from "../../client/store/sqlite.js";
import { waitFor } from "../helpers/wait-for.js";
import { type JsonListener, startJsonListener } from "./json-listener.js";
import { type Result, createWorld, expectOk, lines, messages } from "./world.js";

const world = createWorld("listen-concurrent");
afterAll(() => world.close());
/** The listener of the running test: killed after it, so a failed case leaves none running into the next. */
let running: JsonListener | undefined;
afterEach(async () => {
  if (running?.running()) {
    running.child.kill("SIGKILL");
    await running.exited;
  }
  running = undefined;
});

/** Starts bob's `smsg listen --json` (json-listener.ts) and waits for its listening line. */
async function startListener(): Promise<JsonListener> {
  running = await startJsonListener(world, "bob");
  return running;
}

/** The last message id bob's store has acked in `chat` (its sync cursor), read from the store read-only; 0 if none yet. */
function bobsCursor(chat: number): number {
  let db: Database | undefined;
  try {
    db = openDatabase(join(world.home("bob"), "store.sqlite"), { readonly: true, fileMustExist: true });
    const row = db.prepare("SELECT last_acked FROM cursors WHERE chat_id = ?").get(chat) as
      { last_acked: number } | undefined;
    return row?.last_acked ?? 0;
  } catch {
    return 0; // busy: read again
  } finally {
    db?.close();
  }
}

/**
 * Barrier before checking what the listener printed: it printed every one of `ids`, a sync on
 * bob's profile has acked them (bob's store's cursor is past them, so no later sync brings them
 * again), and then the listener is stopped with `signal` and exits 0: it drains what it
 * received before exiting, so its output is complete. A duplicate would be in it by then.
 */
async function stopAfterAcked(
  listener: JsonListener,
  chat: number,
  ids: readonly unknown[],
  signal: NodeJS.Signals,
): Promise<void> {
  await listener.until(
    () => ids.every((id) => listener.messageEvents().some((e) => e["relay_msg"] === id)),
    "the listener to print every message",
  );
  const last = Math.max(...ids.map(Number));
  await waitFor(() => bobsCursor(chat) >= last, {
    what: `bob's store to ack up to message ${last}`,
    state: () => `cursor ${bobsCursor(chat)}\n${listener.describeState()}`,
  });
  // Still running after all of it; the signal stops it cleanly.
  expect(listener.running(), listener.describeState()).toBe(true);
  listener.child.kill(signal);
  expect(await listener.exited, listener.describeState()).toEqual({ code: 0, signal: null });
}

/** How often each value occurs. */
function counts(values: readonly unknown[]): Map<unknown, number> {
  const m = new Map<unknown, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** Expects each of `expected` to occur exactly once in `values`. */
function expectEachOnce(values: readonly unknown[], expected: readonly unknown[], context: string): void {
  const c = counts(values);
  const wrong = expected.filter((v) => c.get(v) !== 1).map((v) => `${JSON.stringify(v)}: ${c.get(v) ?? 0} times`);
  expect(wrong, `${context}\n${JSON.stringify(values)}`).toEqual([]);
}

/** A one-shot command's result, checked: exit 0, nothing on stderr (no SQLITE_BUSY, no warning). */
function ok(what: string, r: Result): Result {
  expect(r.stderr, `${what}: stderr`).not.toMatch(/locked|SQLITE_BUSY/i);
  expect(r.code, `${what}: exit code; stderr: ${r.stderr}`).toBe(0);
  expect(r.stderr, `${what}: stderr`).toBe("");
  return r;
}

let chatOfAlice = 0; // the chat's id (the same on both sides: the relay's)

describe("smsg listen next to one-shot commands on the same profile", () => {
  beforeAll(async () => {
    await world.startRelay();
    await world.join("alice");
    await world.join("bob");
    const opened = lines(expectOk(await world.smsg("alice", ["chat", "open", "bob", "--json"])))[0]!;
    chatOfAlice = opened["chat"] as number;
    // Sessions both ways before the concurrent part (no X3DH races in what follows).
    expectOk(await world.smsg("alice", ["send", "bob", "hello bob"]));
    expectOk(await world.smsg("bob", ["history", "alice"]));
    expectOk(await world.smsg("bob", ["send", "alice", "hello alice"]));
    expectOk(await world.smsg("alice", ["history", "bob"]));
  });

  test("alice sends while bob's send, history and chat list run next to his listen; SIGINT stops it", async () => {
    const listener = await startListener();

    const fromAlice = ["a1: first", "a2: second", "a3: third", "a4: fourth"];
    const fromBob = ["b1: one", "b2: two", "b3: three"];

    // Alice sends one after the other; bob's one-shot commands all run at the same time as that.
    const aliceSends = (async () => {
      const out: Result[] = [];
      for (const body of fromAlice) out.push(await world.smsg("alice", ["send", "bob", body, "--json"]));
      return out;
    })();
    const bobRuns: [string, Promise<Result>][] = [
      ...fromBob.map((body): [string, Promise<Result>] => [
        `bob send ${body}`,
        world.smsg("bob", ["send", "alice", body, "--json"]),
      ]),
      ["bob history", world.smsg("bob", ["history", "alice", "--json"])],
      ["bob chat list", world.smsg("bob", ["chat", "list", "--json"])],
      ["bob history (2)", world.smsg("bob", ["history", "alice", "--json"])],
    ];
    const [aliceResults, bobResults] = await Promise.all([aliceSends, Promise.all(bobRuns.map(([, p]) => p))]);

    // Every one-shot command succeeded.
    aliceResults.forEach((r, i) => ok(`alice send ${fromAlice[i]}`, r));
    bobResults.forEach((r, i) => ok(bobRuns[i]![0], r));
    const aliceSent = aliceResults.map((r) => lines(r).find((l) => l["type"] === "sent")!);
    expect(aliceSent.map((s) => s["chat"])).toEqual(fromAlice.map(() => chatOfAlice));
    const aliceRelayIds = aliceSent.map((s) => s["relay_msg"]);
    const bobSent = bobResults.slice(0, fromBob.length).map((r) => lines(r).find((l) => l["type"] === "sent")!);
    expect(bobSent.map((s) => s["type"])).toEqual(fromBob.map(() => "sent"));
    const bobRelayIds = bobSent.map((s) => s["relay_msg"]);
    expect(new Set([...aliceRelayIds, ...bobRelayIds]).size).toBe(fromAlice.length + fromBob.length);
    // The chat list and the histories printed while everything ran are well-formed.
    const list = lines(bobResults[fromBob.length + 1]!);
    expect(list).toEqual([expect.objectContaining({ type: "chat", chat: chatOfAlice, peer: "alice", closed: false })]);
    for (const i of [fromBob.length, fromBob.length + 2]) {
      const h = lines(bobResults[i]!);
      expect(h.at(-1)).toMatchObject({ type: "history_end", chat: chatOfAlice });
      // Nothing twice, even in a history taken mid-way.
      const ids = messages(bobResults[i]!).map((m) => m["id"]);
      expect(new Set(ids).size, JSON.stringify(h)).toBe(ids.length);
    }

    // The listener printed alice's messages, a sync acked them, and SIGINT stopped it cleanly.
    await stopAfterAcked(listener, chatOfAlice, aliceRelayIds, "SIGINT");

    // Bob's history: alice's messages once each, his own once each and sent.
    const hb = messages(ok("bob history after", await world.smsg("bob", ["history", "alice", "--json"])));
    const hbIn = hb.filter((m) => m["direction"] === "in");
    const hbOut = hb.filter((m) => m["direction"] === "out");
    expectEachOnce(
      hbIn.map((m) => m["body"]),
      ["hello bob", ...fromAlice],
      "bob's history, incoming",
    );
    expectEachOnce(
      hbIn.map((m) => m["relay_msg"]),
      aliceRelayIds,
      "bob's history, incoming relay ids",
    );
    expect(hbIn.map((m) => m["status"])).toEqual(hbIn.map(() => "delivered"));
    expectEachOnce(
      hbOut.map((m) => m["body"]),
      ["hello alice", ...fromBob],
      "bob's history, outgoing",
    );
    expectEachOnce(
      hbOut.map((m) => m["relay_msg"]),
      bobRelayIds,
      "bob's history, outgoing relay ids",
    );
    expect(hbOut.map((m) => [m["body"], m["status"]])).toEqual(hbOut.map((m) => [m["body"], "sent"]));
    expect(hb).toHaveLength(2 + fromAlice.length + fromBob.length);
    // Alice's messages are in bob's history in the order she sent them.
    expect(hbIn.map((m) => m["body"])).toEqual(["hello bob", ...fromAlice]);

    // Alice's history: bob's messages once each, and her own once each, sent.
    const ha = messages(ok("alice history", await world.smsg("alice", ["history", "bob", "--json"])));
    const haIn = ha.filter((m) => m["direction"] === "in");
    expectEachOnce(
      haIn.map((m) => m["body"]),
      ["hello alice", ...fromBob],
      "alice's history, incoming",
    );
    expectEachOnce(
      haIn.map((m) => m["relay_msg"]),
      bobRelayIds,
      "alice's history, incoming relay ids",
    );
    expect(haIn.map((m) => m["status"])).toEqual(haIn.map(() => "delivered"));
    const haOut = ha.filter((m) => m["direction"] === "out");
    expect(haOut.map((m) => [m["body"], m["status"]])).toEqual(["hello bob", ...fromAlice].map((b) => [b, "sent"]));
    expect(ha).toHaveLength(2 + fromAlice.length + fromBob.length);

    // The listener printed each of alice's messages exactly once (by relay id and by body).
    const heard = listener.messageEvents();
    expectEachOnce(
      heard.map((e) => e["relay_msg"]),
      aliceRelayIds,
      `listen, by relay_msg\n${listener.describeState()}`,
    );
    expectEachOnce(
      heard.map((e) => e["body"]),
      fromAlice,
      `listen, by body\n${listener.describeState()}`,
    );
    for (const e of heard.filter((e) => aliceRelayIds.includes(e["relay_msg"]))) {
      expect(e).toMatchObject({ v: 1, type: "message", chat: chatOfAlice, from: "alice", key_changed: false });
    }
    // Nothing of bob's own came back to him, nothing undecryptable, no warning.
    expect(
      heard.filter((e) => e["from"] !== "alice"),
      listener.describeState(),
    ).toEqual([]);
    expect(
      listener.events.filter((e) => !["listening", "message"].includes(e["type"] as string)),
      listener.describeState(),
    ).toEqual([]);
    expect(listener.bad).toEqual([]);
    expect(listener.stderr).toBe("");
  });

  test("a burst of 20 while bob runs history five times next to his listen; SIGTERM stops it", async () => {
    const listener = await startListener();
    const before = messages(
      ok("bob history before", await world.smsg("bob", ["history", "alice", "--json", "--offline", "--limit", "500"])),
    );

    const burst = Array.from({ length: 20 }, (_, i) => `burst ${i + 1}`);
    // One piped `smsg open bob` sends the 20 lines back to back.
    const aliceBurst = world.smsg("alice", ["open", "bob", "--json"], { input: `${burst.join("\n")}\n` });
    const histories = (async () => {
      const out: Result[] = [];
      for (let i = 0; i < 5; i++) out.push(await world.smsg("bob", ["history", "alice", "--json", "--limit", "500"]));
      return out;
    })();
    const [sentBurst, bobHistories] = await Promise.all([aliceBurst, histories]);

    ok("alice open bob (burst)", sentBurst);
    const sent = lines(sentBurst).filter((l) => l["type"] === "sent");
    expect(sent).toHaveLength(burst.length);
    const burstIds = sent.map((s) => s["relay_msg"]);
    bobHistories.forEach((r, i) => {
      ok(`bob history ${i + 1}`, r);
      const ms = messages(r);
      // Each history taken mid-burst: no row twice, and what it shows of the burst is a prefix of it, in order.
      expect(new Set(ms.map((m) => m["id"])).size).toBe(ms.length);
      const shown = ms.map((m) => m["body"]).filter((b) => burst.includes(b as string));
      expect(shown).toEqual(burst.slice(0, shown.length));
    });

    // The listener printed the burst, a sync acked it, and SIGTERM stopped it cleanly.
    await stopAfterAcked(listener, chatOfAlice, burstIds, "SIGTERM");

    // Bob's store: everything before, plus the burst once each, in order.
    const after = messages(
      ok("bob history after", await world.smsg("bob", ["history", "alice", "--json", "--limit", "500"])),
    );
    expect(after.map((m) => m["body"])).toEqual([...before.map((m) => m["body"]), ...burst]);
    expectEachOnce(
      after.map((m) => m["relay_msg"]),
      burstIds,
      "bob's history, burst relay ids",
    );
    expect(after.filter((m) => burst.includes(m["body"] as string)).map((m) => m["status"])).toEqual(
      burst.map(() => "delivered"),
    );

    // The listener printed each message of the burst exactly once.
    const heard = listener.messageEvents();
    expectEachOnce(
      heard.map((e) => e["relay_msg"]),
      burstIds,
      `listen, by relay_msg\n${listener.describeState()}`,
    );
    expectEachOnce(
      heard.map((e) => e["body"]),
      burst,
      `listen, by body\n${listener.describeState()}`,
    );
    expect(heard).toHaveLength(burst.length);
    expect(
      listener.events.filter((e) => !["listening", "message"].includes(e["type"] as string)),
      listener.describeState(),
    ).toEqual([]);
    expect(listener.bad).toEqual([]);
    expect(listener.stderr).toBe("");
  });
});
