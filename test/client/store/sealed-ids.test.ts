/**
 * Rows inserted with a value sealed under their own id in one statement (client/store/next-id.ts):
 * messages and event journal entries get the id AUTOINCREMENT would give (never one given before,
 * even after the newest rows were deleted), their sealed value opens under it and not under
 * another row's, and inside a caller's transaction a failed insert leaves nothing.
 */
import { afterEach, describe, expect, test } from "vitest";
import { openDatabase } from "../../../client/store/sqlite.js";
import type { ClientStore, MessageInput } from "../../../client/store/index.js";
import { openTestStore, tempDir } from "./helpers.js";

const opened: ClientStore[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function open(): ClientStore {
  const store = openTestStore(tempDir());
  opened.push(store);
  return store;
}

function text(chatId: number, relayMsgId: number, body: string | null): MessageInput {
  return { chatId, relayMsgId, sender: "bob", sentAt: 1000, body, direction: "in", status: "delivered" };
}

/** Thrown to roll a transaction back. */
class Undo extends Error {}

describe("rows sealed under their own id", () => {
  test("messages: ids never given twice, even after the newest were deleted; each body opens under its row", () => {
    const store = open();
    store.chats.upsert({ id: 1, kind: "group", myRole: "admin" });
    store.chats.upsert({ id: 2, kind: "group", myRole: "admin" });
    const a = store.messages.insert(text(1, 1, "one")).id;
    const b = store.transaction(() => store.messages.insert(text(1, 2, "two")).id);
    expect(b).toBe(a + 1);
    expect(store.messages.insert(text(1, 2, "again"))).toEqual({ id: b, inserted: false });
    // The chat and its messages go (foreign key cascade): the next message still gets a new id.
    expect(store.chats.delete(1)).toBe(true);
    const c = store.messages.insert(text(2, 3, "three")).id;
    const d = store.messages.insert(text(2, 4, null)).id;
    expect([c, d]).toEqual([b + 1, b + 2]);
    expect(store.messages.get(c)?.body).toBe("three");
    expect(store.messages.get(d)?.body).toBeNull();
    // A body moved to another row does not open there.
    const raw = openDatabase(store.path);
    raw.prepare("UPDATE messages SET body = (SELECT body FROM messages WHERE id = ?) WHERE id = ?").run(c, d);
    raw.close();
    expect(() => store.messages.get(d)).toThrow();
  });

  test("messages: inside a transaction that rolls back, nothing is left and the id is given again", () => {
    const store = open();
    store.chats.upsert({ id: 1, kind: "group", myRole: "admin" });
    let lost = 0;
    expect(() =>
      store.transaction(() => {
        lost = store.messages.insert(text(1, 1, "lost")).id;
        throw new Undo();
      }),
    ).toThrow(Undo);
    expect(store.messages.getByRelayId(1, 1)).toBeUndefined();
    // Nothing of it was committed, so AUTOINCREMENT never gave it out: the id is free.
    expect(store.messages.insert(text(1, 1, "kept")).id).toBe(lost);
    // A failing insert (no such chat: foreign key) leaves nothing either.
    expect(() => store.transaction(() => store.messages.insert(text(9, 1, "x")))).toThrow();
    expect(store.messages.getByRelayId(9, 1)).toBeUndefined();
  });

  test("event journal: ids never given twice, even after every entry was deleted", () => {
    const store = open();
    const ids = ["a", "b", "c"].map((x) => store.journal.append(JSON.stringify({ x })));
    expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2]);
    const raw = openDatabase(store.path);
    raw.prepare("DELETE FROM event_journal").run();
    raw.close();
    const next = store.transaction(() => store.journal.append('{"x":"d"}'));
    expect(next).toBe(ids[2]! + 1);
    expect(store.journal.after(0)).toEqual([{ id: next, json: '{"x":"d"}' }]);
  });
});
