/**
 * Held messages in a Receiver (client/engine/sync.ts, SECURITY.md §14.7 "Held messages"): a
 * stored push is named in the next sync's `have`, a `held` stub for it is acked over like a
 * message and then forgotten; a stub for a message the store does not hold is never acked over
 * and is asked for again at once, in full; a relay that keeps doing it is reported; a relay that
 * refuses `have` (older than it) gets the same sync without it, and no `have` again.
 */
import { EventEmitter } from "node:events";
import { describe, expect, test, vi } from "vitest";
import { HeldMissingError } from "../../../client/engine/errors.js";
import { HeldMessages } from "../../../client/engine/held-messages.js";
import { MAX_SYNC_HAVE } from "../../../src/wire/limits.js";
import type { Account } from "../../../client/engine/open-account.js";
import type { RelayClient } from "../../../client/relay-client.js";
import { RemoteError } from "../../../src/errors.js";
import type { RelayMessageOf } from "../../../src/wire/messages.js";

/** What the fake store holds, by "chat:msg". */
const held = new Set<string>();
const key = (chat: number, msg: number) => `${chat}:${msg}`;
vi.mock("../../../client/engine/inbox.js", () => ({
  receiveMessage: vi.fn(async (_acct: unknown, _relay: unknown, m: { chat: number; msg: number }) => {
    held.add(key(m.chat, m.msg));
    return { stored: true, events: [] };
  }),
  // A sync page as inbox.ts stores it: a message is stored, a stub is checked against the store,
  // and after a failure the later frames of its chat fail too.
  receivePage: vi.fn(
    async (
      _acct: unknown,
      _relay: unknown,
      frames: { t: string; chat: number; msg: number }[],
      onOutcome: (m: unknown, o: unknown) => void,
    ) => {
      const failed = new Map<number, unknown>();
      for (const m of frames) {
        const before = failed.get(m.chat);
        if (before !== undefined) onOutcome(m, { ok: false, error: before });
        else if (m.t === "msg" || held.has(key(m.chat, m.msg))) {
          held.add(key(m.chat, m.msg));
          onOutcome(m, { ok: true, received: { stored: m.t === "msg", events: [] } });
        } else {
          const error = new HeldMissingError(m.chat, m.msg);
          failed.set(m.chat, error);
          onOutcome(m, { ok: false, error });
        }
      }
    },
  ),
}));
const { Receiver } = await import("../../../client/engine/sync.js");

type Frame = RelayMessageOf<"msg"> | RelayMessageOf<"held">;
const msg = (chat: number, id: number, reply?: true): RelayMessageOf<"msg"> => ({
  t: "msg",
  chat,
  msg: id,
  from: "bob",
  ts: 0,
  envelope: new Uint8Array([1]),
  ...(reply ? { reply } : {}),
});
const stub = (chat: number, id: number): RelayMessageOf<"held"> => ({ t: "held", chat, msg: id });

/**
 * A relay whose n-th `sync` is answered by `answers[n]`: the reply's frames (computed from the
 * request), or an error to throw. Records each sync request and each ack.
 */
function fakeRelay(answers: ((req: { have?: [number, number][] }) => Frame[] | RemoteError)[]) {
  const acks: [number, number][] = [];
  const syncs: { have?: [number, number][] }[] = [];
  const relay = Object.assign(new EventEmitter(), {
    request: async (req: { t: string; have?: [number, number][] }) => {
      if (req.t !== "sync") throw new Error(`unexpected ${req.t}`);
      syncs.push(req.have ? { have: req.have } : {});
      const answer = answers.shift()?.(req) ?? [];
      if (answer instanceof RemoteError) throw answer;
      for (const f of answer) relay.emit(f.t, f);
      return { t: "synced", more: false };
    },
    notify: (m: { chat: number; upto: number }) => acks.push([m.chat, m.upto]),
  });
  const cursors = new Map<number, number>();
  const acct = {
    store: {
      chats: { get: () => ({ id: 1 }) },
      cursors: { set: (chat: number, upto: number) => cursors.set(chat, upto) },
      messages: { getByRelayId: (chat: number, id: number) => (held.has(key(chat, id)) ? { id } : undefined) },
      transaction: (fn: () => unknown) => fn(),
    },
  };
  return { relay, acct, acks, syncs };
}

/** A receiver past its first (empty) sync, as a listener is, with the pushes `pushes` stored. */
async function listening(f: ReturnType<typeof fakeRelay>, pushes: RelayMessageOf<"msg">[], errors: unknown[] = []) {
  const r = new Receiver(f.acct as unknown as Account, f.relay as unknown as RelayClient, {
    onError: (e) => errors.push(e),
  });
  await r.syncAll();
  for (const p of pushes) f.relay.emit("msg", p);
  await r.drain();
  return r;
}

describe("held messages in a Receiver", () => {
  test("a stored push is named in have, its stub is acked over, and it is not named again", async () => {
    held.clear();
    const f = fakeRelay([
      () => [],
      ({ have }) => {
        expect(have).toEqual([
          [1, 7],
          [2, 8],
        ]);
        return [msg(1, 6, true), stub(1, 7), stub(2, 8)];
      },
      () => [],
    ]);
    const r = await listening(f, [msg(1, 7), msg(2, 8)]);
    await r.syncAll();
    expect(f.acks).toEqual([
      [1, 7],
      [2, 8],
    ]);
    await r.syncAll();
    expect(f.syncs).toEqual([{}, { have: expect.any(Array) }, {}]);
  });

  test("a stub for a message the store does not hold is not acked over; the next round asks for it in full", async () => {
    held.clear();
    const f = fakeRelay([
      () => [],
      // 9 was pushed and stored, then lost (its chat deleted); 10 is a later message of that chat.
      () => [msg(1, 8, true), stub(1, 9), msg(1, 10, true)],
      ({ have }) => {
        expect(have).toBeUndefined(); // 9 is forgotten, 10 was acked
        return [msg(1, 9, true), msg(1, 10, true)];
      },
    ]);
    const errors: unknown[] = [];
    const r = await listening(f, [msg(1, 9)], errors);
    held.delete(key(1, 9));
    await r.syncAll();
    // Acked up to before the stub, then over 9 and 10 once 9 came in full; no warning for it.
    expect(f.acks).toEqual([
      [1, 8],
      [1, 10],
    ]);
    expect(f.syncs).toEqual([{}, { have: [[1, 9]] }, {}]);
    expect(errors).toEqual([]);
  });

  test("a relay that keeps sending stubs for what we lack is reported and never acked over", async () => {
    held.clear();
    const always = () => [stub(1, 9)];
    const f = fakeRelay([() => [], always, always, always, always]);
    const errors: unknown[] = [];
    const r = await listening(f, [msg(1, 9)], errors);
    held.delete(key(1, 9));
    await r.syncAll();
    expect(f.acks).toEqual([]);
    expect(f.syncs).toHaveLength(1 + 2); // the first round and one more: the same stub again is a broken relay
    expect(errors).toEqual([expect.any(HeldMissingError)]);
    expect((errors[0] as HeldMissingError).code).toBe("HELD_MISSING");
  });

  test("stubs for other messages we lack, page after page (a deleted chat's pushes), are no fault", async () => {
    held.clear();
    const f = fakeRelay([() => [], () => [stub(1, 9)], () => [stub(1, 11)], () => [stub(1, 13)], () => []]);
    const errors: unknown[] = [];
    const r = await listening(f, [msg(1, 9), msg(1, 11), msg(1, 13)], errors);
    for (const m of [9, 11, 13]) held.delete(key(1, m));
    await r.syncAll();
    expect(f.syncs).toHaveLength(1 + 4);
    expect(f.acks).toEqual([]);
    expect(errors).toEqual([]);
  });

  test("a relay that refuses have gets the same sync without it, and never have again on that connection", async () => {
    held.clear();
    const refused = new RemoteError("BAD_MESSAGE", 'sync: unknown field "have"', 2);
    const f = fakeRelay([() => [], () => refused, () => [msg(1, 7, true)], () => []]);
    const r = await listening(f, [msg(1, 7)]);
    await r.syncAll();
    expect(f.acks).toEqual([[1, 7]]);
    f.relay.emit("msg", msg(1, 8));
    await r.drain();
    await r.syncAll();
    expect(f.syncs).toEqual([{}, { have: [[1, 7]] }, {}, {}]);
  });

  test("other refusals of the sync are not taken for an old relay", async () => {
    held.clear();
    const f = fakeRelay([() => [], () => new RemoteError("UNAVAILABLE", "the database is down", 2)]);
    const r = await listening(f, [msg(1, 7)]);
    await expect(r.syncAll()).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(f.syncs).toEqual([{}, { have: [[1, 7]] }]);
  });
});

describe("HeldMessages", () => {
  test("bounded at MAX_SYNC_HAVE, oldest id first, forgotten as the cursor passes", () => {
    const h = new HeldMessages();
    for (let i = MAX_SYNC_HAVE; i >= 1; i--) expect(h.add(i % 2, i)).toBe(true);
    expect(h.add(0, 5000)).toBe(false); // beyond the bound: not remembered, it comes again in full
    expect(h.add(1, 1)).toBe(true); // already held
    expect(h.size).toBe(MAX_SYNC_HAVE);
    expect(h.entries().slice(0, 3)).toEqual([
      [1, 1],
      [0, 2],
      [1, 3],
    ]);
    h.acked(1, 500);
    expect(h.size).toBe(MAX_SYNC_HAVE - 250);
    h.delete(0, 2);
    h.delete(0, 2);
    expect(h.size).toBe(MAX_SYNC_HAVE - 251);
    expect(h.entries()[0]).toEqual([0, 4]);
    expect(h.add(0, 5000)).toBe(true);
  });
});
