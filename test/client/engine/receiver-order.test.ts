/**
 * The order a Receiver processes frames in (client/engine/sync.ts): pushes wait until the first
 * sync is done and until a running round's own frames (marked `reply` by the relay) are
 * processed, so a newer message pushed while older ones wait in the sync never comes first (a
 * false gap); and a round acks only its own frames, never a push that arrived during it.
 */
import { EventEmitter } from "node:events";
import { describe, expect, test, vi } from "vitest";
import type { Account } from "../../../client/engine/open-account.js";
import type { RelayClient } from "../../../client/relay-client.js";
import type { RelayMessageOf } from "../../../src/wire/messages.js";

const processed: number[] = [];
vi.mock("../../../client/engine/inbox.js", () => ({
  receiveMessage: vi.fn(async (_acct: unknown, _relay: unknown, m: { msg: number }) => {
    processed.push(m.msg);
    return { stored: true, events: [] };
  }),
  // A sync page: each frame in order, as if each were stored.
  receivePage: vi.fn(
    async (_acct: unknown, _relay: unknown, frames: { msg: number }[], onOutcome: (m: unknown, o: unknown) => void) => {
      for (const m of frames) {
        processed.push(m.msg);
        onOutcome(m, { ok: true, received: { stored: true, events: [] } });
      }
    },
  ),
}));
const { Receiver } = await import("../../../client/engine/sync.js");

const frame = (msg: number, reply?: true): RelayMessageOf<"msg"> => ({
  t: "msg",
  chat: 1,
  msg,
  from: "bob",
  ts: 0,
  envelope: new Uint8Array([1]),
  ...(reply ? { reply } : {}),
});

/** A relay whose `sync` answers with `pages` (frames, pushes interleaved as given). */
function fakeRelay(pages: RelayMessageOf<"msg">[][], pending?: number) {
  const acks: { chat: number; upto: number }[] = [];
  const requests: { t: string; count?: boolean }[] = [];
  const relay = Object.assign(new EventEmitter(), {
    request: async (msg: { t: string; count?: boolean }) => {
      if (msg.t !== "sync") throw new Error(`unexpected ${msg.t}`);
      requests.push(msg);
      for (const f of pages.shift() ?? []) relay.emit("msg", f);
      const more = pages.length > 0;
      return { t: "synced", more, ...(more && msg.count ? { pending } : {}) };
    },
    notify: (m: { chat: number; upto: number }) => acks.push({ chat: m.chat, upto: m.upto }),
  });
  const cursors = new Map<number, number>();
  const acct = {
    store: {
      chats: { get: () => ({ id: 1 }) },
      cursors: { set: (chat: number, upto: number) => cursors.set(chat, upto) },
      transaction: (fn: () => unknown) => fn(),
    },
  };
  return { relay, acct, acks, requests };
}

describe("Receiver order", () => {
  test("pushes before the first sync and during a round come after the round's own frames; only those are acked", async () => {
    processed.length = 0;
    // The relay holds 10 and 11 for us; 12 is committed meanwhile and pushed twice: before the
    // sync and in the middle of its answer.
    const f = fakeRelay([[frame(10, true), frame(12), frame(11, true)]]);
    const r = new Receiver(f.acct as unknown as Account, f.relay as unknown as RelayClient);
    f.relay.emit("msg", frame(12));
    await new Promise((res) => setImmediate(res));
    expect(processed).toEqual([]); // held until the first sync
    await r.syncAll();
    await r.drain();
    expect(processed).toEqual([10, 11, 12, 12]); // storing de-duplicates by (chat, msg)
    expect(f.acks).toEqual([{ chat: 1, upto: 11 }]); // not 12: it was a push
    // After the round, pushes are processed as they come.
    f.relay.emit("msg", frame(13));
    await r.drain();
    expect(processed.at(-1)).toBe(13);
  });

  test("without a sync (goOnline sync: false) releasePushes lets them through", async () => {
    processed.length = 0;
    const f = fakeRelay([]);
    const r = new Receiver(f.acct as unknown as Account, f.relay as unknown as RelayClient);
    f.relay.emit("msg", frame(5));
    r.releasePushes();
    await r.drain();
    expect(processed).toEqual([5]);
  });
  test("the first round asks how many wait, and progress gets the total", async () => {
    processed.length = 0;
    const f = fakeRelay([[frame(1, true), frame(2, true)], [frame(3, true)], [frame(4, true)]], 2);
    const r = new Receiver(f.acct as unknown as Account, f.relay as unknown as RelayClient);
    const progress: [number, number | undefined][] = [];
    expect(await r.syncAll((n, total) => progress.push([n, total]))).toBe(4);
    expect(f.requests.map((q) => q.count === true)).toEqual([true, false, false]);
    expect(progress).toEqual([
      [2, 4],
      [3, 4],
    ]);
  });
});
