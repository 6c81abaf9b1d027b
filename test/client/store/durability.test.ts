/**
 * Crash safety and concurrency of the local store (docs/ARCHITECTURE.md §4.1: a crash never loses a
 * message nor desynchronizes a ratchet; `smsg listen` and one-shot commands share a profile).
 * Real processes: child-writer.ts runs the store's TypeScript in a child node process.
 */
import { describe, expect, test } from "vitest";
import { toHex, u32be, utf8 } from "../../../crypto/bytes.js";
import type { ClientStore } from "../../../client/store/index.js";
import { fakeIdentity, openTestStore, spawnChild, tempDir, testKey } from "./helpers.js";
import { waitFor } from "../../helpers/wait-for.js";

const BASE = new Uint8Array(32).fill(7);

/** A profile with chat 1 (direct, bob) and chat 2 (group), bob pinned. */
function setUp(): string {
  const dir = tempDir();
  const store = openTestStore(dir);
  store.contacts.pin("bob", fakeIdentity(1));
  store.chats.upsert({ id: 1, kind: "direct", peer: "bob", myRole: "member" });
  store.chats.upsert({ id: 2, kind: "group", myRole: "member" });
  store.close();
  return dir;
}

/** Asserts the crash-loop invariant: k transactions, all of them whole. Returns k. */
function checkConsistent(store: ClientStore): number {
  const page = store.messages.history(1, { limit: 1000 });
  const k = page.messages.length;
  expect(page.messages.map((m) => m.relayMsgId)).toEqual(Array.from({ length: k }, (_, i) => i + 1));
  expect(page.messages.map((m) => m.body)).toEqual(Array.from({ length: k }, (_, i) => `crash-${i}`));
  expect(store.cursors.get(1)).toBe(k);
  const session = store.sessions.get("bob", BASE);
  if (k === 0) expect(session).toBeUndefined();
  else expect(session!.state).toEqual(u32be(k - 1));
  return k;
}

describe("transactions", () => {
  test("a transaction that throws midway leaves nothing", () => {
    const dir = setUp();
    const store = openTestStore(dir);
    store.sessions.put("bob", BASE, utf8("before"));
    expect(() =>
      store.transaction(() => {
        store.sessions.put("bob", BASE, utf8("after"));
        store.messages.insert({
          chatId: 1,
          relayMsgId: 1,
          sender: "bob",
          sentAt: 1,
          body: "lost",
          direction: "in",
          status: "delivered",
        });
        store.cursors.set(1, 1);
        store.prekeys.putOneTime([{ id: 1, privateKey: new Uint8Array(32), publicKey: new Uint8Array(32) }]);
        throw new Error("decrypt failed halfway");
      }),
    ).toThrow("decrypt failed halfway");
    expect(store.sessions.get("bob", BASE)!.state).toEqual(utf8("before"));
    expect(store.messages.count(1)).toBe(0);
    expect(store.cursors.get(1)).toBe(0);
    expect(store.prekeys.countOneTime()).toBe(0);
    store.close();
  });

  test("a failing method inside a transaction rolls the whole transaction back", () => {
    const dir = setUp();
    const store = openTestStore(dir);
    expect(() =>
      store.transaction(() => {
        store.messages.insert({
          chatId: 1,
          relayMsgId: 1,
          sender: "bob",
          sentAt: 1,
          body: "x",
          direction: "in",
          status: "delivered",
        });
        store.cursors.set(999, 1); // foreign key violation
      }),
    ).toThrow();
    expect(store.messages.count(1)).toBe(0);
    store.close();
  });

  test("nested transactions: an inner failure caught by the caller keeps the outer work", () => {
    const dir = setUp();
    const store = openTestStore(dir);
    store.transaction(() => {
      store.messages.insert({
        chatId: 1,
        relayMsgId: 1,
        sender: "bob",
        sentAt: 1,
        body: "kept",
        direction: "in",
        status: "delivered",
      });
      try {
        store.transaction(() => {
          store.messages.insert({
            chatId: 1,
            relayMsgId: 2,
            sender: "bob",
            sentAt: 2,
            body: "dropped",
            direction: "in",
            status: "delivered",
          });
          throw new Error("inner");
        });
      } catch {
        // the savepoint rolled back
      }
    });
    expect(store.messages.history(1).messages.map((m) => m.body)).toEqual(["kept"]);
    store.close();
  });

  test("a transaction function returning a promise is refused", () => {
    const dir = setUp();
    const store = openTestStore(dir);
    expect(() => store.transaction(() => Promise.resolve(1))).toThrow();
    store.close();
  });
});

describe("two connections on one file", () => {
  test("two stores (as two processes would) interleave writes and see each other's commits", () => {
    const dir = setUp();
    const a = openTestStore(dir);
    const b = openTestStore(dir);
    for (let i = 0; i < 50; i++) {
      a.transaction(() => {
        a.messages.insert({
          chatId: 1,
          relayMsgId: i + 1,
          sender: "bob",
          sentAt: i,
          body: `a${i}`,
          direction: "in",
          status: "delivered",
        });
        a.cursors.set(1, i + 1);
      });
      b.messages.insert({
        chatId: 2,
        relayMsgId: i + 1,
        sender: "carol",
        sentAt: i,
        body: `b${i}`,
        direction: "in",
        status: "delivered",
      });
      expect(b.cursors.get(1)).toBe(i + 1);
    }
    expect(a.messages.count(2)).toBe(50);
    expect(b.messages.history(1, { limit: 1 }).messages[0]!.body).toBe("a49");
    a.close();
    b.close();
  });

  test("a child process and this one write at the same time without SQLITE_BUSY", async () => {
    const dir = setUp();
    const N = 100;
    const store = openTestStore(dir);
    let child: ReturnType<typeof spawnChild> | undefined;
    for (let i = 0; i < N; i++) {
      store.transaction(() => {
        store.messages.insert({
          chatId: 1,
          relayMsgId: i + 1,
          sender: "bob",
          sentAt: i,
          body: `parent-${i}`,
          direction: "in",
          status: "delivered",
        });
        store.cursors.set(1, i + 1);
      });
      await new Promise((r) => setTimeout(r, 0)); // let the lock go now and then, as a real client does between events
      // The writers really interleave, however the two processes are scheduled: the child
      // starts after the parent's first transaction, and the parent goes on once the child's
      // first one is in.
      if (i === 0) {
        child = spawnChild(["loop", dir, toHex(testKey()), "2", String(N)]);
        await child.waitFor((l) => l === "ready");
        await waitFor(() => store.messages.count(2) > 0, { what: "the child's first transaction" });
      }
    }
    await child!.waitFor((l) => l === "done");
    expect(await child!.exited).toBe(0);
    // The writes interleaved: local ids of the two writers overlap.
    const parentIds = store.messages.history(1, { limit: N }).messages.map((m) => m.id);
    const childIds = store.messages.history(2, { limit: N }).messages.map((m) => m.id);
    expect(Math.min(...childIds)).toBeLessThan(Math.max(...parentIds));
    expect(Math.min(...parentIds)).toBeLessThan(Math.max(...childIds));
    expect(store.messages.count(1)).toBe(N);
    expect(store.messages.count(2)).toBe(N);
    expect(store.cursors.get(2)).toBe(N);
    expect(store.messages.history(2, { limit: 1 }).messages[0]!.body).toBe(`loop-${N - 1}`);
    store.close();
  });
});

describe("SIGKILL", () => {
  test("killed inside a transaction: every committed one is there, the interrupted one is absent", async () => {
    const dir = setUp();
    const STOP = 40;
    const child = spawnChild(["crash", dir, toHex(testKey()), "1", String(STOP)]);
    await child.waitFor((l) => l === `inside ${STOP}`);
    child.proc.kill("SIGKILL");
    expect(await child.exited).toBe("SIGKILL");
    expect(child.lines).toContain(`committed ${STOP - 1}`);
    const store = openTestStore(dir);
    expect(checkConsistent(store)).toBe(STOP);
    store.close();
  });

  test("killed at an arbitrary moment of a busy loop: consistent, nothing committed is lost", async () => {
    const dir = setUp();
    const child = spawnChild(["crash", dir, toHex(testKey()), "1", "-1"]);
    await child.waitFor((l) => l === "committed 30");
    await new Promise((r) => setTimeout(r, 7)); // land somewhere in a later transaction
    child.proc.kill("SIGKILL");
    await child.exited;
    const reported = child.lines.filter((l) => l.startsWith("committed ")).length;
    const store = openTestStore(dir);
    const k = checkConsistent(store);
    expect(k).toBeGreaterThanOrEqual(reported);
    expect(k).toBeLessThanOrEqual(reported + 1); // at most the one committed as the kill arrived
    store.close();
  });
});
