/** CHAT arguments (resolveChat), chat listings with unread counts, and history paging. */
import { describe, expect, test } from "vitest";
import { AmbiguousChatError, ChatNotFoundError, type ClientStore } from "../../../client/store/index.js";
import { caught, openTestStore, tempDir } from "./helpers.js";

function withChats(): ClientStore {
  const store = openTestStore(tempDir());
  store.chats.upsert({ id: 1, kind: "direct", peer: "bob", myRole: "member" });
  store.chats.upsert({ id: 2, kind: "group", name: "Ops Team", myRole: "admin" });
  store.chats.upsert({ id: 3, kind: "group", name: "carol", myRole: "member" });
  store.chats.upsert({ id: 4, kind: "direct", peer: "carol", myRole: "member" });
  store.chats.upsert({ id: 5, kind: "group", name: "twins", myRole: "member" });
  store.chats.upsert({ id: 6, kind: "group", name: "Twins", myRole: "member" });
  store.chats.upsert({ id: 7, kind: "group", name: "1", myRole: "member" });
  return store;
}

describe("resolveChat", () => {
  test("by id, by name (case-insensitive, trimmed), by the other member of a direct chat", () => {
    const store = withChats();
    expect(store.resolveChat("2").id).toBe(2);
    expect(store.resolveChat("ops team").id).toBe(2);
    expect(store.resolveChat("  OPS TEAM ").id).toBe(2);
    expect(store.resolveChat("bob").id).toBe(1);
    expect(store.resolveChat("BOB").id).toBe(1);
    expect(store.chats.directWith("bob")!.id).toBe(1);
    expect(store.chats.findByName("OPS team").map((c) => c.id)).toEqual([2]);
  });

  test("an existing id wins over a name made of digits", () => {
    const store = withChats();
    expect(store.resolveChat("1").id).toBe(1);
    expect(store.chats.findByName("1").map((c) => c.id)).toEqual([7]);
  });

  test("ambiguous: two chats with one name, or a name and a peer; the error lists the ids", () => {
    const store = withChats();
    expect(() => store.resolveChat("twins")).toThrow(AmbiguousChatError);
    const e = caught(() => store.resolveChat("carol"));
    expect(e).toBeInstanceOf(AmbiguousChatError);
    expect((e as AmbiguousChatError).ids).toEqual([3, 4]);
    expect((e as AmbiguousChatError).code).toBe("CHAT_AMBIGUOUS");
  });

  test("unknown: CHAT_NOT_FOUND", () => {
    const store = withChats();
    for (const arg of ["99", "nobody", "", "no such name"]) {
      expect(() => store.resolveChat(arg), arg).toThrow(ChatNotFoundError);
    }
    expect((caught(() => store.resolveChat("nobody")) as ChatNotFoundError).code).toBe("CHAT_NOT_FOUND");
  });

  test("a closed direct chat is still found; the open one wins if there are two", () => {
    const store = withChats();
    store.chats.setClosed(1, true);
    expect(store.resolveChat("bob").id).toBe(1);
    store.chats.upsert({ id: 8, kind: "direct", peer: "bob", myRole: "member" });
    expect(store.resolveChat("bob").id).toBe(8);
  });
});

describe("list with unread counts", () => {
  test("unread = incoming above last read; newest chat first; closed ones optional", () => {
    const store = openTestStore(tempDir());
    store.chats.upsert({ id: 1, kind: "direct", peer: "bob", myRole: "member" });
    store.chats.upsert({ id: 2, kind: "group", name: "g", myRole: "member" });
    store.chats.upsert({ id: 3, kind: "group", myRole: "member", closed: true });
    const msg = (chatId: number, relayMsgId: number, direction: "in" | "out") =>
      store.messages.insert({
        chatId,
        relayMsgId,
        sender: direction === "in" ? "bob" : "me",
        sentAt: relayMsgId,
        body: "x",
        direction,
        status: "delivered",
      });
    msg(1, 10, "in");
    msg(1, 11, "out");
    msg(1, 12, "in");
    msg(2, 13, "in");
    let list = store.chats.list();
    expect(list.map((c) => [c.id, c.unread])).toEqual([
      [2, 1],
      [1, 2],
      [3, 0],
    ]);
    store.chats.markRead(1, 10);
    store.chats.markRead(1, 5); // never backwards
    list = store.chats.list({ includeClosed: false });
    expect(list.map((c) => [c.id, c.unread, c.lastReadMsg])).toEqual([
      [2, 1, 0],
      [1, 1, 10],
    ]);
    expect(list[0]!.name).toBe("g");
  });
});

describe("history paging", () => {
  test("pages of `limit`, newest first page, each page oldest first, until `more` is false", () => {
    const store = openTestStore(tempDir());
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    store.chats.upsert({ id: 2, kind: "group", myRole: "member" });
    for (let i = 0; i < 23; i++) {
      store.messages.insert({
        chatId: 1,
        relayMsgId: i + 1,
        sender: "bob",
        sentAt: i,
        body: `m${i}`,
        direction: "in",
        status: "delivered",
      });
      store.messages.insert({
        chatId: 2,
        relayMsgId: i + 1,
        sender: "bob",
        sentAt: i,
        body: `other${i}`,
        direction: "in",
        status: "delivered",
      });
    }
    const seen: string[] = [];
    let beforeId: number | undefined;
    let pages = 0;
    for (;;) {
      const page = store.messages.history(1, { limit: 10, beforeId });
      pages++;
      expect(page.messages.map((m) => m.id)).toEqual([...page.messages.map((m) => m.id)].sort((a, b) => a - b));
      seen.unshift(...page.messages.map((m) => m.body!));
      if (!page.more) break;
      beforeId = page.messages[0]!.id;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `m${i}`));
    expect(store.messages.history(1).messages).toHaveLength(23);
    expect(store.messages.history(1, { limit: 23 }).more).toBe(false);
    expect(store.messages.history(3).messages).toEqual([]);
    expect(() => store.messages.history(1, { limit: 0 })).toThrow();
  });
});

describe("chats.all", () => {
  test("every chat by id, closed ones included, the records list() gives without its counts", () => {
    const store = withChats();
    store.chats.setClosed(3, true);
    store.messages.insert({
      chatId: 4,
      relayMsgId: 1,
      sender: "carol",
      sentAt: 1,
      body: "hi",
      direction: "in",
      status: "delivered",
    });
    const all = store.chats.all();
    expect(all.map((c) => c.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const listed = store.chats.list().sort((a, b) => a.id - b.id);
    expect(all).toEqual(listed.map(({ unread: _u, lastMessageId: _l, ...record }) => record));
  });
});
