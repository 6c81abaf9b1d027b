/**
 * Group commit with pipelining (relay/group-commit.ts, docs/ARCHITECTURE.md §3.8): batches of
 * different chats may be in flight together, never two of one chat, and one chat's items are
 * flushed in the order they were submitted. Flushes are controlled by the test (each returns a
 * promise the test settles), so nothing here depends on timing.
 */
import { describe, expect, it } from "vitest";
import { GroupCommit, ShardedGroupCommit } from "../../relay/group-commit.js";
import { testRandom } from "../helpers/test-seed.js";
import { waitFor } from "../helpers/wait-for.js";

interface Item {
  chat: number;
  n: number;
}

/** A flush the test completes by hand; records every batch it was given. */
function manualFlush() {
  const batches: { items: Item[]; done: (fail?: Error) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const flush = (items: Item[]): Promise<string[]> =>
    new Promise((resolve, reject) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      batches.push({
        items,
        done: (fail) => {
          inFlight--;
          if (fail) reject(fail);
          else resolve(items.map((i) => `${i.chat}:${i.n}`));
        },
      });
    });
  return { flush, batches, stats: () => ({ inFlight, maxInFlight }) };
}

const random = testRandom("test/relay/group-commit.test.ts");

describe("GroupCommit", () => {
  it("commits a second chat's batch while the first chat's is in flight, and holds the first chat's next sends", async () => {
    const f = manualFlush();
    const gc = new GroupCommit<Item, string>((i) => i.chat, f.flush, 1000, 2);
    const a1 = gc.submit({ chat: 1, n: 1 });
    await waitFor(() => f.batches.length === 1, { what: "the first batch" });
    const a2 = gc.submit({ chat: 1, n: 2 });
    const b1 = gc.submit({ chat: 2, n: 1 });
    await waitFor(() => f.batches.length === 2, { what: "chat 2's batch" });
    expect(f.batches[1]!.items).toEqual([{ chat: 2, n: 1 }]); // chat 1's second send waits
    expect(gc.waiting).toBe(1);
    f.batches[1]!.done();
    expect(await b1).toBe("2:1");
    f.batches[0]!.done();
    expect(await a1).toBe("1:1");
    await waitFor(() => f.batches.length === 3, { what: "chat 1's second batch" });
    expect(f.batches[2]!.items).toEqual([{ chat: 1, n: 2 }]);
    f.batches[2]!.done();
    expect(await a2).toBe("1:2");
    await gc.drained();
  });

  it("with depth 1 is plain group commit: one batch at a time", async () => {
    const f = manualFlush();
    const gc = new GroupCommit<Item, string>((i) => i.chat, f.flush, 1000, 1);
    const p = [gc.submit({ chat: 1, n: 1 })];
    await waitFor(() => f.batches.length === 1, { what: "the first batch" });
    p.push(gc.submit({ chat: 2, n: 1 }), gc.submit({ chat: 3, n: 1 }));
    await new Promise((r) => setImmediate(r));
    expect(f.batches.length).toBe(1);
    f.batches[0]!.done();
    await waitFor(() => f.batches.length === 2, { what: "the second batch" });
    expect(f.batches[1]!.items.map((i) => i.chat)).toEqual([2, 3]);
    f.batches[1]!.done();
    expect(await Promise.all(p)).toEqual(["1:1", "2:1", "3:1"]);
  });

  it("rejects every item of a failed batch and goes on with the next", async () => {
    const f = manualFlush();
    const gc = new GroupCommit<Item, string>((i) => i.chat, f.flush, 1000, 2);
    const a = gc.submit({ chat: 1, n: 1 });
    await waitFor(() => f.batches.length === 1, { what: "the batch" });
    const b = gc.submit({ chat: 1, n: 2 });
    f.batches[0]!.done(new Error("commit failed"));
    await expect(a).rejects.toThrow("commit failed");
    await waitFor(() => f.batches.length === 2, { what: "the next batch" });
    f.batches[1]!.done();
    expect(await b).toBe("1:2");
  });

  it("keeps each chat's order, never has a chat in two batches and respects depth and maxBatch (seeded random load)", async () => {
    const rand = (): number => random.next();
    const f = manualFlush();
    const sharded = new ShardedGroupCommit<Item, string>(2, (i) => i.chat, f.flush, 5, 3);
    const next = new Map<number, number>();
    const results: Promise<string>[] = [];
    const flushedOrder = new Map<number, number[]>();
    let completed = 0;
    for (let step = 0; step < 400; step++) {
      if (rand() < 0.6) {
        const chat = Math.floor(rand() * 6);
        const n = (next.get(chat) ?? 0) + 1;
        next.set(chat, n);
        results.push(sharded.submit({ chat, n }));
      } else {
        const open = f.batches.filter((b) => !("closed" in b));
        if (open.length > 0) {
          const b = open[Math.floor(rand() * open.length)]!;
          Object.assign(b, { closed: true });
          b.done();
          completed++;
        }
      }
      await new Promise((r) => setImmediate(r));
      // No chat in two open batches.
      const open = f.batches.filter((b) => !("closed" in b));
      const chats = open.flatMap((b) => [...new Set(b.items.map((i) => i.chat))]);
      expect(new Set(chats).size).toBe(chats.length);
    }
    // Finish everything still open or queued.
    for (;;) {
      const open = f.batches.filter((b) => !("closed" in b));
      if (open.length === 0 && sharded.waiting === 0) break;
      for (const b of open) {
        Object.assign(b, { closed: true });
        b.done();
        completed++;
      }
      await new Promise((r) => setImmediate(r));
    }
    await sharded.drained();
    for (const b of f.batches) {
      expect(b.items.length).toBeLessThanOrEqual(5);
      for (const i of b.items) flushedOrder.set(i.chat, [...(flushedOrder.get(i.chat) ?? []), i.n]);
    }
    for (const [chat, ns] of flushedOrder) expect(ns, `chat ${chat}`).toEqual(ns.map((_, k) => k + 1));
    expect(f.stats().maxInFlight).toBeLessThanOrEqual(6); // 2 shards × depth 3
    expect((await Promise.all(results)).length).toBe(results.length);
    expect(completed).toBe(f.batches.length);
  });
});
