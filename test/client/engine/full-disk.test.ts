/**
 * A full disk under the profile (simulated with SQLite's max_page_count, which fails writes
 * with SQLITE_FULL exactly as a full disk does): a message that does not fit is neither stored
 * nor acked, its session does not move, and it arrives once when there is room again;
 * sending fails before anything leaves. The command says so in one sentence with exit code 20.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { errorSentence, exitCodeOf } from "../../../client/commands/exit.js";
import { openDirectChat } from "../../../client/engine/chats.js";
import { goOnline } from "../../../client/engine/online.js";
import { sendText } from "../../../client/engine/send.js";
import type { ClientStore } from "../../../client/store/index.js";
import type { Database } from "../../../client/store/sqlite.js";
import { EXIT } from "../../../src/exit-codes.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { engineUser } from "./helpers.js";

let tr: TestRelay;
beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});

/** Caps the store's file at its current size (no room to grow), or lifts the cap. */
function diskFull(store: ClientStore, full: boolean): void {
  const db = (store as unknown as { db: Database }).db;
  db.pragma("wal_checkpoint(TRUNCATE)");
  const pages = db.pragma("page_count", { simple: true }) as number;
  db.pragma(`max_page_count = ${full ? pages : 1_000_000}`);
}

const bodies = (store: ClientStore, chat: number) =>
  store.messages
    .history(chat, { limit: 100 })
    .messages.filter((m) => m.body !== null)
    .map((m) => m.body);

describe("a full disk", () => {
  test("receiving and sending fail cleanly, lose nothing, and work again once there is room", async () => {
    const alice = await engineUser(tr, "alice");
    const bob = await engineUser(tr, "bob");
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    await sendText(alice.acct, a.relay, chat, "one");
    (await bob.online()).close();
    expect(bodies(bob.acct.store, chat.id)).toEqual(["one"]);

    // Many messages, so that storing them needs new pages.
    const big = "x".repeat(3000);
    for (let i = 0; i < 5; i++) await sendText(alice.acct, a.relay, chat, `${i} ${big}`);
    diskFull(bob.acct.store, true);
    const warnings: unknown[] = [];
    const o = await goOnline(bob.acct, { onWarning: (w) => warnings.push(w) });
    o.close();
    expect(warnings.length).toBeGreaterThan(0);
    const err = warnings[0];
    expect(errorSentence(err)).toMatch(/^the disk holding the profile is full: what was being written was not stored/);
    expect(exitCodeOf(err)).toBe(EXIT.storage);
    // What fitted was stored; the rest was not, nor acked past: the cursor stays at the last stored one.
    const all = ["one", ...[0, 1, 2, 3, 4].map((i) => `${i} ${big}`)];
    const stored = bodies(bob.acct.store, chat.id);
    expect(stored.length).toBeLessThan(all.length);
    expect(stored).toEqual(all.slice(0, stored.length));
    const lastStored = bob.acct.store.messages.history(chat.id, { limit: 100 }).messages.at(-1)!.relayMsgId!;
    expect(bob.acct.store.cursors.get(chat.id)).toBeLessThanOrEqual(lastStored);

    // Sending while full: refused before anything is queued or sent. (A text of whole overflow
    // pages: however the receive above left room inside the file's pages, it needs new ones.)
    const b = await bob.online();
    await expect(
      sendText(bob.acct, b.relay, bob.acct.store.chats.get(chat.id)!, `reply ${"x".repeat(20_000)}`),
    ).rejects.toMatchObject({ code: "SQLITE_FULL" });
    expect(bob.acct.store.outbox.count()).toBe(0);
    b.close();

    // Room again: everything arrives once, in order, and the session works both ways.
    diskFull(bob.acct.store, false);
    const b2 = await bob.online();
    expect(bodies(bob.acct.store, chat.id)).toEqual(all);
    await sendText(bob.acct, b2.relay, bob.acct.store.chats.get(chat.id)!, "back");
    b2.close();
    a.close();
    (await alice.online()).close();
    expect(bodies(alice.acct.store, chat.id).at(-1)).toBe("back");
    alice.close();
    bob.close();
  });
});
