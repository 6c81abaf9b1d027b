/** Round trips through every table of the local store (client/store/). */
import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { seededRng } from "../../../crypto/rng.js";
import {
  ClientStore,
  MIGRATIONS,
  SCHEMA_VERSION,
  StoreKeyMismatchError,
  StoreTooNewError,
} from "../../../client/store/index.js";
import { JOURNAL_KEEP_MS } from "../../../client/store/event-journal.js";
import { migrate } from "../../../client/store/migrate.js";
import { openDatabase } from "../../../client/store/sqlite.js";
import { UsageError } from "../../../src/errors.js";
import { UNDO_V6, fakeIdentity, openTestStore, tempDir, testKey } from "./helpers.js";

/** Takes a store back from schema 5 to 4 (as an older client left it): the columns 5 added go. */
const UNDO_V5 = [
  UNDO_V6,
  "ALTER TABLE chats DROP COLUMN departure;",
  "ALTER TABLE chats DROP COLUMN departed_by;",
  "ALTER TABLE chats DROP COLUMN member_since;",
  "ALTER TABLE chats DROP COLUMN seq_from_one;",
  "ALTER TABLE group_states DROP COLUMN gone;",
  "PRAGMA user_version = 4;",
].join(" ");

const bytes = (label: string, n: number): Uint8Array => seededRng(utf8(`bytes for ${label}`.padEnd(16, ".")))(n);

function fresh(): { dir: string; store: ClientStore } {
  const dir = tempDir();
  return { dir, store: openTestStore(dir) };
}

describe("opening", () => {
  test("creates store.sqlite 0600, WAL, foreign keys, schema version, and reopens", () => {
    const { dir, store } = fresh();
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(statSync(join(dir, "store.sqlite")).mode & 0o777).toBe(0o600);
    store.chats.upsert({ id: 1, kind: "group", myRole: "admin" });
    for (const f of ["store.sqlite-wal", "store.sqlite-shm"])
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    store.close();
    store.close(); // idempotent
    const raw = openDatabase(join(dir, "store.sqlite"));
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();
    const again = openTestStore(dir);
    expect(again.isOpen).toBe(true);
    again.close();
    expect(again.isOpen).toBe(false);
  });

  test("another data key is refused with STORE_KEY_MISMATCH", () => {
    const { dir, store } = fresh();
    store.close();
    expect(() => openTestStore(dir, testKey(2))).toThrow(StoreKeyMismatchError);
  });

  test("a newer schema is refused with STORE_TOO_NEW", () => {
    const { dir, store } = fresh();
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openTestStore(dir)).toThrow(StoreTooNewError);
  });

  test("migrations apply in order with user_version, and a failing one changes nothing", () => {
    const raw = openDatabase(join(tempDir(), "m.sqlite"));
    expect(migrate(raw)).toBe(SCHEMA_VERSION);
    const v2 = { version: SCHEMA_VERSION + 1, name: "extra", sql: "CREATE TABLE extra (a INTEGER) STRICT;" };
    const broken = {
      version: SCHEMA_VERSION + 2,
      name: "broken",
      sql: "CREATE TABLE extra2 (a INTEGER) STRICT; SELECT no_such_function();",
    };
    expect(() => migrate(raw, () => {}, [...MIGRATIONS, v2, broken])).toThrow();
    expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'extra%'").all()).toEqual([]);
    expect(migrate(raw, () => {}, [...MIGRATIONS, v2])).toBe(SCHEMA_VERSION + 1);
    expect(migrate(raw, () => {}, [...MIGRATIONS, v2])).toBe(SCHEMA_VERSION + 1); // idempotent
    expect(() => migrate(raw)).toThrow(StoreTooNewError);
    raw.close();
  });

  test("a schema 1 store is upgraded in place: its messages stay, without a sender clock", () => {
    const { dir, store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "admin" });
    const { id } = store.messages.insert({
      chatId: 1,
      relayMsgId: 5,
      sender: "bob",
      sentAt: 1000,
      body: "old",
      direction: "in",
      status: "delivered",
      senderTs: 900,
    });
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    // As schema 1 wrote it.
    raw.exec(UNDO_V5);
    raw.exec(
      "DROP TABLE group_states; DROP TABLE pending_sender_keys; DROP TABLE event_journal; " +
        "ALTER TABLE messages DROP COLUMN sender_ts; PRAGMA user_version = 1;",
    );
    raw.close();
    const again = openTestStore(dir);
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(again.messages.get(id)).toMatchObject({ body: "old", sentAt: 1000, senderTs: null });
    again.close();
  });

  test("a closed store refuses to seal", () => {
    const { store } = fresh();
    store.close();
    expect(() => store.account.get()).toThrow();
  });
});

describe("account", () => {
  test("set / get / display name", () => {
    const { store } = fresh();
    expect(store.account.get()).toBeUndefined();
    expect(store.account.exists()).toBe(false);
    expect(() => store.account.setDisplayName("x")).toThrow(UsageError);
    const a = {
      relayHost: "relay.example",
      relayPort: 7443,
      relayKey: bytes("relay key", 32),
      username: "alice",
      displayName: "Alice A.",
      credential: bytes("credential", 32),
      signingSeed: bytes("seed", 32),
      dhPrivate: bytes("dh", 32),
      createdAt: 1234,
    };
    store.account.set(a);
    expect(store.account.get()).toEqual({
      ...a,
      deviceId: 1,
      accountIdentity: null,
      accountSigningSeed: a.signingSeed,
      backupKey: null,
    });
    store.account.setDisplayName(null);
    expect(store.account.get()!.displayName).toBeNull();
    store.account.set({ ...a, relayPort: 1, createdAt: undefined });
    expect(store.account.get()!.relayPort).toBe(1);
  });
});

describe("prekeys", () => {
  test("signed prekeys: one current, old ones kept, delete", () => {
    const { store } = fresh();
    const k = (id: number, current: boolean) => ({
      id,
      privateKey: bytes(`spk${id}`, 32),
      publicKey: bytes(`SPK${id}`, 32),
      signature: bytes(`sig${id}`, 64),
      current,
    });
    store.prekeys.putSigned(k(1, true));
    store.prekeys.putSigned(k(2, true));
    expect(store.prekeys.currentSigned()).toMatchObject({ ...k(2, true) });
    expect(store.prekeys.getSigned(1)).toMatchObject({ ...k(1, false) });
    expect(store.prekeys.listSigned().map((x) => x.id)).toEqual([1, 2]);
    expect(store.prekeys.deleteSigned(1)).toBe(true);
    expect(store.prekeys.deleteSigned(1)).toBe(false);
    expect(store.prekeys.getSigned(1)).toBeUndefined();
    expect(() => store.prekeys.putSigned(k(-1, false))).toThrow(UsageError);
  });

  test("one-time prekeys: put, publish, take once, never reuse an id", () => {
    const { store } = fresh();
    const first = store.prekeys.allocateOneTimeIds(3);
    expect(first).toBe(1);
    const keys = [0, 1, 2].map((i) => ({
      id: first + i,
      privateKey: bytes(`opk${i}`, 32),
      publicKey: bytes(`OPK${i}`, 32),
    }));
    store.prekeys.putOneTime(keys);
    expect(store.prekeys.countOneTime()).toBe(3);
    expect(store.prekeys.unpublishedOneTime().map((k) => k.id)).toEqual([1, 2, 3]);
    store.prekeys.markPublished([1, 2]);
    expect(store.prekeys.countOneTime(true)).toBe(2);
    expect(store.prekeys.countOneTime(false)).toBe(1);
    const taken = store.prekeys.takeOneTime(3);
    expect(taken).toMatchObject({
      id: 3,
      privateKey: keys[2]!.privateKey,
      publicKey: keys[2]!.publicKey,
      published: false,
    });
    expect(store.prekeys.takeOneTime(3)).toBeUndefined();
    expect(store.prekeys.getOneTime(1)).toMatchObject({ published: true, privateKey: keys[0]!.privateKey });
    // The id of the taken key (the highest) is not handed out again.
    expect(store.prekeys.allocateOneTimeIds(2)).toBe(4);
    expect(store.prekeys.allocateOneTimeIds(1)).toBe(6);
    expect(store.prekeys.deleteOneTime(1)).toBe(true);
    expect(store.prekeys.allocateSignedId()).toBe(1);
    expect(store.prekeys.allocateSignedId()).toBe(2);
    expect(() =>
      store.prekeys.putOneTime([{ id: 2, privateKey: bytes("x", 32), publicKey: bytes("y", 32) }]),
    ).toThrow();
  });
});

describe("contacts", () => {
  test("pin on first use, same, changed, accept", () => {
    const { store } = fresh();
    const [k1, k2, k3] = [fakeIdentity(1), fakeIdentity(2), fakeIdentity(3)];
    expect(store.contacts.pin("bob", k1)).toBe("pinned");
    expect(store.contacts.pin("bob", k1)).toBe("same");
    store.contacts.setDisplayName("bob", "Bobby");
    expect(store.contacts.get("bob")).toMatchObject({
      identity: k1,
      verified: false,
      keyChanged: false,
      pendingIdentity: null,
      displayName: "Bobby",
    });
    expect(store.contacts.pin("bob", k2)).toBe("changed");
    expect(store.contacts.get("bob")).toMatchObject({ identity: k1, keyChanged: true, pendingIdentity: k2 });
    expect(store.contacts.pin("bob", k1)).toBe("changed"); // still pending until the user acts
    expect(store.contacts.pin("bob", k3)).toBe("changed");
    expect(store.contacts.get("bob")!.pendingIdentity).toEqual(k3);
    store.contacts.acceptChange("bob");
    expect(store.contacts.get("bob")).toMatchObject({
      identity: k3,
      keyChanged: false,
      pendingIdentity: null,
      verified: false,
    });
    expect(() => store.contacts.acceptChange("bob")).toThrow(UsageError);
    expect(store.contacts.list().map((c) => c.username)).toEqual(["bob"]);
  });

  test("verify the pinned key, or the pending one, never another", () => {
    const { store } = fresh();
    const [k1, k2] = [fakeIdentity(1), fakeIdentity(2)];
    store.contacts.pin("carol", k1);
    store.contacts.verify("carol", k1);
    expect(store.contacts.get("carol")!.verified).toBe(true);
    store.contacts.markChanged("carol", k2);
    expect(store.contacts.get("carol")).toMatchObject({ verified: true, keyChanged: true });
    expect(() => store.contacts.verify("carol", fakeIdentity(9))).toThrow(UsageError);
    store.contacts.verify("carol", k2);
    expect(store.contacts.get("carol")).toMatchObject({ identity: k2, verified: true, keyChanged: false });
    expect(store.contacts.unverify("carol")).toBe(true);
    expect(store.contacts.get("carol")!.verified).toBe(false);
    expect(() => store.contacts.verify("nobody", k1)).toThrow(UsageError);
    expect(() => store.contacts.pin("dave", new Uint8Array(64))).toThrow(UsageError);
  });
});

describe("sessions", () => {
  test("put / get / current / list / delete, and the first-message replay guard", () => {
    const { store } = fresh();
    store.contacts.pin("bob", fakeIdentity(1));
    const b1 = bytes("base1", 32);
    const b2 = bytes("base2", 32);
    store.sessions.put("bob", b1, utf8("state 1"));
    expect(store.sessions.current("bob")).toMatchObject({
      peer: "bob",
      baseKey: b1,
      state: utf8("state 1"),
      current: true,
    });
    store.sessions.put("bob", b2, utf8("state 2"));
    expect(store.sessions.current("bob")!.baseKey).toEqual(b1); // not made current
    store.sessions.put("bob", b2, utf8("state 2b"), { makeCurrent: true });
    expect(store.sessions.current("bob")).toMatchObject({ baseKey: b2, state: utf8("state 2b") });
    expect(store.sessions.get("bob", b1)).toMatchObject({ current: false, state: utf8("state 1") });
    expect(store.sessions.list("bob")).toHaveLength(2);
    expect(store.sessions.setCurrent("bob", b1)).toBe(true);
    expect(store.sessions.current("bob")!.baseKey).toEqual(b1);
    expect(store.sessions.setCurrent("bob", bytes("nope", 32))).toBe(false);
    expect(store.sessions.delete("bob", b1)).toBe(true);
    expect(store.sessions.current("bob")).toBeUndefined();
    expect(store.sessions.deleteAll("bob")).toBe(1);
    expect(() => store.sessions.put("stranger", b1, utf8("x"))).toThrow(); // not a contact: foreign key

    expect(store.sessions.hasSeenPrekeyMessage(b1, 7)).toBe(false);
    expect(store.sessions.markPrekeyMessageSeen(b1, 7)).toBe(true);
    expect(store.sessions.markPrekeyMessageSeen(b1, 7)).toBe(false);
    expect(store.sessions.hasSeenPrekeyMessage(b1, 7)).toBe(true);
    expect(store.sessions.hasSeenPrekeyMessage(b1, 8)).toBe(false);
    expect(store.sessions.forgetPrekeyMessages(7)).toBe(1);
    expect(store.sessions.hasSeenPrekeyMessage(b1, 7)).toBe(false);
  });

  test("put of a current session (one statement) and of any other keep each device's flag and device", () => {
    const { store } = fresh();
    store.contacts.pin("bob", fakeIdentity(1));
    const b1 = bytes("base1", 32);
    const b2 = bytes("base2", 32);
    const b3 = bytes("base3", 32);
    store.sessions.put("bob", b1, utf8("state 1"), { device: 2 });
    store.sessions.put("bob", b2, utf8("state 2"), { device: 2 });
    store.sessions.put("bob", b3, utf8("state 3"));
    // Advancing the current session: state and time change, nothing else (not even device 1's session).
    store.sessions.put("bob", b1, utf8("state 1b"), { device: 5 });
    expect(store.sessions.get("bob", b1)).toMatchObject({ state: utf8("state 1b"), current: true, device: 2 });
    expect(store.sessions.current("bob", 1)).toMatchObject({ baseKey: b3 });
    // Advancing another session of the device leaves it not current, and the current one current.
    store.sessions.put("bob", b2, utf8("state 2b"));
    expect(store.sessions.get("bob", b2)).toMatchObject({ state: utf8("state 2b"), current: false, device: 2 });
    expect(store.sessions.current("bob", 2)!.baseKey).toEqual(b1);
    expect(store.sessions.list("bob", 2).map((r) => r.baseKey)).toEqual([b2, b1]); // most recently updated first
    // The current one deleted: the next put of another session of that device makes it current.
    store.sessions.delete("bob", b1);
    store.sessions.put("bob", b2, utf8("state 2c"));
    expect(store.sessions.current("bob", 2)).toMatchObject({ baseKey: b2, state: utf8("state 2c") });
    // makeCurrent on a session that is current already, and on one that is not.
    store.sessions.put("bob", b2, utf8("state 2d"), { makeCurrent: true });
    expect(store.sessions.current("bob", 2)).toMatchObject({ baseKey: b2, state: utf8("state 2d") });
    store.sessions.put("bob", b1, utf8("state 1c"), { makeCurrent: true, device: 2 });
    expect(store.sessions.current("bob", 2)).toMatchObject({ baseKey: b1, state: utf8("state 1c") });
    expect(store.sessions.get("bob", b2)!.current).toBe(false);
  });
});

describe("chats, members, cursors", () => {
  test("upsert keeps the name and the closed flag unless given", () => {
    const { store } = fresh();
    const c = store.chats.upsert({ id: 5, kind: "group", name: "Ops", myRole: "admin", createdAt: 10 });
    expect(c).toEqual({
      id: 5,
      kind: "group",
      peer: null,
      name: "Ops",
      closed: false,
      myRole: "admin",
      createdAt: 10,
      lastReadMsg: 0,
      departure: null,
      departedBy: null,
      memberSince: 0,
      seqFromOne: false,
    });
    store.chats.setClosed(5, true);
    expect(store.chats.upsert({ id: 5, kind: "group", myRole: "member" })).toMatchObject({
      name: "Ops",
      closed: true,
      myRole: "member",
      createdAt: 10,
    });
    expect(store.chats.upsert({ id: 5, kind: "group", myRole: "member", name: null, closed: false })).toMatchObject({
      name: null,
      closed: false,
    });
    store.chats.setName(5, "Ops 2");
    expect(store.chats.get(5)!.name).toBe("Ops 2");
    expect(store.chats.setMyRole(5, "admin")).toBe(true);
    expect(() => store.chats.upsert({ id: 6, kind: "direct", myRole: "member" })).toThrow(UsageError);
    expect(() => store.chats.upsert({ id: 6, kind: "group", peer: "bob", myRole: "member" })).toThrow(UsageError);
    expect(() => store.chats.setName(99, "x")).toThrow(UsageError);
    expect(() => store.chats.setName(5, "  ")).toThrow(UsageError);
  });

  test("members: set replaces the list and keeps announced flags", () => {
    const { store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "admin" });
    store.members.set(1, [
      { username: "alice", role: "admin", announced: true },
      { username: "bob", role: "member" },
    ]);
    expect(store.members.list(1)).toEqual([
      { username: "alice", role: "admin", announced: true },
      { username: "bob", role: "member", announced: false },
    ]);
    store.members.setAnnounced(1, "bob", true);
    store.members.set(1, [
      { username: "bob", role: "admin" },
      { username: "carol", role: "member" },
    ]);
    expect(store.members.list(1)).toEqual([
      { username: "bob", role: "admin", announced: true },
      { username: "carol", role: "member", announced: false },
    ]);
    expect(store.members.get(1, "alice")).toBeUndefined();
    expect(store.members.remove(1, "carol")).toBe(true);
    expect(store.members.setAnnounced(1, "carol", true)).toBe(false);
  });

  test("cursors only move forward; deleting a chat removes what belongs to it", () => {
    const { store } = fresh();
    store.chats.upsert({ id: 3, kind: "direct", peer: "bob", myRole: "member" });
    expect(store.cursors.get(3)).toBe(0);
    store.cursors.set(3, 10);
    store.cursors.set(3, 4);
    expect(store.cursors.get(3)).toBe(10);
    expect(store.cursors.list()).toEqual([{ chatId: 3, lastAcked: 10 }]);
    store.members.set(3, [{ username: "bob", role: "member" }]);
    store.messages.insert({
      chatId: 3,
      relayMsgId: 1,
      sender: "bob",
      sentAt: 1,
      body: "hi",
      direction: "in",
      status: "delivered",
    });
    store.senderKeys.put({ chatId: 3, sender: "bob", keyId: 1, state: utf8("s"), own: false });
    store.outbox.add({ idem: bytes("idem", 16), chatId: 3, envelope: utf8("e") });
    expect(store.chats.delete(3)).toBe(true);
    expect(store.cursors.list()).toEqual([]);
    expect(store.members.list(3)).toEqual([]);
    expect(store.messages.count(3)).toBe(0);
    expect(store.senderKeys.list(3)).toEqual([]);
    expect(store.outbox.count()).toBe(0);
    expect(() => store.cursors.set(99, 1)).toThrow(); // unknown chat: foreign key
  });
});

describe("messages", () => {
  test("insert is idempotent on (chat, relay id); markSent; status; sender seq", () => {
    const { store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    const m = {
      chatId: 1,
      relayMsgId: 100,
      sender: "bob",
      sentAt: 5,
      body: "hello",
      direction: "in" as const,
      status: "delivered" as const,
      senderSeq: 3,
    };
    const a = store.messages.insert(m);
    expect(a.inserted).toBe(true);
    expect(store.messages.insert({ ...m, body: "replayed" })).toEqual({ id: a.id, inserted: false });
    expect(store.messages.get(a.id)).toMatchObject({ ...m, id: a.id, body: "hello" });
    expect(store.messages.getByRelayId(1, 100)!.id).toBe(a.id);

    const out = store.messages.insert({
      chatId: 1,
      sender: "me",
      sentAt: 6,
      body: "sending",
      direction: "out",
      status: "pending",
    });
    const out2 = store.messages.insert({
      chatId: 1,
      sender: "me",
      sentAt: 7,
      body: null,
      direction: "out",
      status: "pending",
    });
    expect(out2.inserted).toBe(true); // several pending messages without relay id
    expect(store.messages.get(out.id)).toMatchObject({ relayMsgId: null, status: "pending", body: "sending" });
    store.messages.markSent(out.id, 101, 60);
    expect(store.messages.get(out.id)).toMatchObject({ relayMsgId: 101, status: "sent", sentAt: 60 });
    expect(() => store.messages.markSent(out2.id, 101, 61)).toThrow(); // relay id taken
    expect(() => store.messages.markSent(999, 102, 61)).toThrow(UsageError);
    expect(store.messages.setStatus(out2.id, "failed")).toBe(true);
    expect(store.messages.get(out2.id)).toMatchObject({ status: "failed", body: null });
    store.messages.insert({ ...m, relayMsgId: 102, senderSeq: 9 });
    expect(store.messages.lastSenderSeq(1, "bob")).toBe(9);
    expect(store.messages.lastSenderSeq(1, "nobody")).toBeNull();
    expect(() => store.messages.insert({ ...m, chatId: 42 })).toThrow(); // unknown chat
  });
});

describe("outbox and sender keys", () => {
  test("outbox: add in order, bump, remove", () => {
    const { store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    const msg = store.messages.insert({
      chatId: 1,
      sender: "me",
      sentAt: 1,
      body: "x",
      direction: "out",
      status: "pending",
    });
    const i1 = bytes("i1", 16);
    const i2 = bytes("i2", 16);
    store.outbox.add({ idem: i2, chatId: 1, messageId: msg.id, envelope: utf8("env 2") });
    store.outbox.add({ idem: i1, chatId: 1, envelope: utf8("env 1"), to: "bob" });
    expect(store.outbox.list().map((o) => o.idem)).toEqual([i2, i1]);
    expect(store.outbox.bumpAttempts(i1)).toBe(true);
    expect(store.outbox.get(i1)).toMatchObject({
      chatId: 1,
      messageId: null,
      envelope: utf8("env 1"),
      to: "bob",
      attempts: 1,
    });
    expect(store.outbox.get(i2)).toMatchObject({ messageId: msg.id, to: null, attempts: 0 });
    expect(() => store.outbox.add({ idem: i1, chatId: 1, envelope: utf8("dup") })).toThrow();
    expect(() => store.outbox.add({ idem: bytes("short", 15), chatId: 1, envelope: utf8("x") })).toThrow(UsageError);
    expect(store.outbox.remove(i2)).toBe(true);
    expect(store.outbox.remove(i2)).toBe(false);
    expect(store.outbox.count()).toBe(1);
  });

  test("sender keys: put, update, latest, own, delete", () => {
    const { store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    store.senderKeys.put({ chatId: 1, sender: "bob", keyId: 10, state: utf8("b10"), own: false });
    store.senderKeys.put({ chatId: 1, sender: "bob", keyId: 5, state: utf8("b5"), own: false });
    store.senderKeys.put({ chatId: 1, sender: "me", keyId: 1, state: utf8("m1"), own: true });
    store.senderKeys.put({ chatId: 1, sender: "bob", keyId: 10, state: utf8("b10 advanced"), own: false });
    expect(store.senderKeys.get(1, "bob", 10)).toMatchObject({ state: utf8("b10 advanced"), own: false });
    expect(store.senderKeys.latest(1, "bob")!.keyId).toBe(5);
    expect(store.senderKeys.own(1)).toMatchObject({ sender: "me", keyId: 1, state: utf8("m1"), own: true });
    expect(store.senderKeys.list(1).map((k) => k.keyId)).toEqual([10, 5, 1]);
    expect(store.senderKeys.list(1, "bob")).toHaveLength(2);
    expect(store.senderKeys.delete(1, "bob", 10)).toBe(1);
    expect(store.senderKeys.delete(1, "bob")).toBe(1);
    expect(store.senderKeys.get(1, "bob", 5)).toBeUndefined();
  });
});

describe("group states and pending sender keys", () => {
  test("state, holders and pending keys round trip, sealed to their rows, and go with the chat", () => {
    const { store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    store.chats.upsert({ id: 2, kind: "group", myRole: "member" });
    expect(store.groupStates.getState(1)).toBeUndefined();
    expect(store.groupStates.getHolders(1)).toBeUndefined();
    expect(() => store.groupStates.setHolders(1, "{}")).toThrow(UsageError); // no state yet
    store.groupStates.putState(1, utf8("state 1"));
    expect(store.groupStates.getState(1)).toEqual(utf8("state 1"));
    expect(store.groupStates.getHolders(1)).toBeUndefined();
    store.groupStates.setHolders(1, '{"keyId":7,"users":["bob"]}');
    store.groupStates.putState(1, utf8("state 2")); // keeps the holders
    expect(store.groupStates.getState(1)).toEqual(utf8("state 2"));
    expect(store.groupStates.getHolders(1)).toBe('{"keyId":7,"users":["bob"]}');
    store.groupStates.putState(2, utf8("other chat"));
    expect(() => store.groupStates.putState(99, utf8("x"))).toThrow(); // unknown chat: foreign key

    store.groupStates.putPending(1, "carol", 3, utf8("carol at 3"));
    store.groupStates.putPending(1, "bob", 4, utf8("bob at 4"));
    store.groupStates.putPending(1, "carol", 5, utf8("carol at 5")); // replaces carol's
    store.groupStates.putPending(2, "bob", 2, utf8("bob in 2"));
    expect(store.groupStates.listPending(1)).toEqual([
      { chatId: 1, sender: "bob", epoch: 4, message: utf8("bob at 4") },
      { chatId: 1, sender: "carol", epoch: 5, message: utf8("carol at 5") },
    ]);
    expect(() => store.groupStates.putPending(1, "bob", -1, utf8("x"))).toThrow(UsageError);
    expect(store.groupStates.deletePending(1, "bob")).toBe(1);
    expect(store.groupStates.deletePending(1, "bob")).toBe(0);
    expect(store.groupStates.deletePending(1)).toBe(1);
    expect(store.groupStates.listPending(1)).toEqual([]);
    expect(store.groupStates.listPending(2)).toHaveLength(1);

    // A sealed value moved to another row does not open.
    const raw = openDatabase(store.path);
    raw
      .prepare("UPDATE group_states SET state = (SELECT state FROM group_states WHERE chat_id = 1) WHERE chat_id = 2")
      .run();
    raw.close();
    expect(() => store.groupStates.getState(2)).toThrow();
    expect(store.chats.delete(2)).toBe(true);
    expect(store.groupStates.getState(2)).toBeUndefined();
    expect(store.groupStates.listPending(2)).toEqual([]);
    store.close();
  });

  test("records a schema 3 store kept in sender_keys under reserved names are moved on open, once", () => {
    const { dir, store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    store.chats.upsert({ id: 2, kind: "group", myRole: "member" });
    const holders = JSON.stringify({ keyId: 9, users: ["bob"], profiled: ["bob"] });
    // As the old client/engine/groups.ts wrote them: (chat, "", 0) state, (chat, "", 1) holders, (chat, "?user", epoch) pending.
    const old = [
      { chatId: 1, sender: "", keyId: 0, state: utf8("accepted state 1") },
      { chatId: 1, sender: "", keyId: 1, state: utf8(holders) },
      { chatId: 1, sender: "?carol", keyId: 4, state: utf8("carol's key at epoch 4") },
      { chatId: 1, sender: "?dave", keyId: 5, state: utf8("dave's key at epoch 5") },
      { chatId: 2, sender: "", keyId: 0, state: utf8("accepted state 2") },
      { chatId: 2, sender: "", keyId: 1, state: utf8("{}") },
      { chatId: 2, sender: "bob", keyId: 3, state: utf8("a real sender key") },
      { chatId: 1, sender: "me", keyId: 1, state: utf8("our key"), own: true },
    ];
    for (const k of old) store.senderKeys.put({ own: false, ...k });
    store.close();
    // Back to schema 3, as an older client left the file.
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.exec(UNDO_V5);
    raw.exec("DROP TABLE group_states; DROP TABLE pending_sender_keys; PRAGMA user_version = 3;");
    raw.close();

    const again = openTestStore(dir);
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(again.groupStates.getState(1)).toEqual(utf8("accepted state 1"));
    expect(again.groupStates.getHolders(1)).toBe(holders);
    expect(again.groupStates.getState(2)).toEqual(utf8("accepted state 2"));
    expect(again.groupStates.getHolders(2)).toBe("{}");
    expect(again.groupStates.listPending(1)).toEqual([
      { chatId: 1, sender: "carol", epoch: 4, message: utf8("carol's key at epoch 4") },
      { chatId: 1, sender: "dave", epoch: 5, message: utf8("dave's key at epoch 5") },
    ]);
    expect(again.groupStates.listPending(2)).toEqual([]);
    // The reserved rows are gone; real sender keys stay.
    expect(again.senderKeys.list(1).map((k) => [k.sender, k.keyId])).toEqual([["me", 1]]);
    expect(again.senderKeys.list(2).map((k) => [k.sender, k.keyId, k.state])).toEqual([
      ["bob", 3, utf8("a real sender key")],
    ]);
    again.groupStates.setHolders(1, '{"keyId":10,"users":[]}');
    again.close();

    // Opening again moves nothing and changes nothing.
    const third = openTestStore(dir);
    expect(third.groupStates.getState(1)).toEqual(utf8("accepted state 1"));
    expect(third.groupStates.getHolders(1)).toBe('{"keyId":10,"users":[]}');
    expect(third.groupStates.listPending(1)).toHaveLength(2);
    expect(third.senderKeys.list(1)).toHaveLength(1);
    third.close();
  });

  test("the move keeps a sender's newest pending key and drops a holders record without a state", () => {
    const { dir, store } = fresh();
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    store.senderKeys.put({ chatId: 1, sender: "?carol", keyId: 2, state: utf8("older"), own: false });
    store.senderKeys.put({ chatId: 1, sender: "?carol", keyId: 3, state: utf8("newer"), own: false });
    store.senderKeys.put({ chatId: 1, sender: "", keyId: 1, state: utf8("{}"), own: false });
    store.close();
    const again = openTestStore(dir);
    expect(again.groupStates.listPending(1)).toEqual([
      { chatId: 1, sender: "carol", epoch: 3, message: utf8("newer") },
    ]);
    expect(again.groupStates.getState(1)).toBeUndefined();
    expect(again.groupStates.getHolders(1)).toBeUndefined();
    expect(again.senderKeys.list(1)).toEqual([]);
    again.close();
  });
});

describe("event journal", () => {
  test("appends in order, reads past a mark, seals each entry to its row, prunes what is a day old", () => {
    let now = 1_000_000;
    const store = openTestStore(tempDir(), testKey(), { now: () => now });
    expect(store.journal.lastId()).toBe(0);
    const ids = ["a", "b", "c"].map((x) => store.journal.append(JSON.stringify({ x })));
    expect(store.journal.lastId()).toBe(ids[2]);
    expect(store.journal.after(ids[0]!).map((e) => JSON.parse(e.json!))).toEqual([{ x: "b" }, { x: "c" }]);
    expect(store.journal.after(0, 1)).toHaveLength(1);
    // A sealed entry moved to another row does not open; the others still do.
    const raw = openDatabase(store.path);
    raw
      .prepare("UPDATE event_journal SET event = (SELECT event FROM event_journal WHERE id = ?) WHERE id = ?")
      .run(ids[0]!, ids[1]!);
    raw.close();
    expect(store.journal.after(ids[0]!)).toEqual([
      { id: ids[1], json: undefined },
      { id: ids[2], json: '{"x":"c"}' },
    ]);
    // Pruning runs every 256 appends and drops entries older than a day; ids are never reused.
    now += JOURNAL_KEEP_MS + 1;
    let last = 0;
    for (let i = 0; i < 256; i++) last = store.journal.append("{}");
    expect(store.journal.after(0, 1)[0]!.id).toBeGreaterThan(ids[2]!);
    expect(store.journal.lastId()).toBe(last);
    store.close();
  });
});
