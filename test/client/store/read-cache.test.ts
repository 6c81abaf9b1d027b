/**
 * StoreContext.cached (docs/ARCHITECTURE.md §4.1, "Receiving a sync page"): contacts, chats and
 * device lists read inside a transaction are kept for it, and every read still returns what the
 * store holds: after a write of the same transaction, after a savepoint rolled back, after the
 * transaction, and whatever another connection wrote between two transactions.
 */
import { afterEach, describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { signDeviceList } from "../../../crypto/device-list.js";
import { type IdentityKeyPair, generateIdentity, identityKey } from "../../../crypto/identity.js";
import { seededRng } from "../../../crypto/rng.js";
import type { ClientStore } from "../../../client/store/index.js";
import { fakeIdentity, openTestStore, tempDir } from "./helpers.js";

const rng = seededRng(utf8("read-cache store test"));
const account = generateIdentity(rng);
const laptop = generateIdentity(rng);
const ALICE = { username: "alice", accountKey: identityKey(account.publicKey) };

function list(version: number, devices: [number, IdentityKeyPair][]): Uint8Array {
  return signDeviceList(account, {
    username: "alice",
    version,
    issuedMs: 1_700_000_000_000 + version,
    devices: devices.map(([id, d]) => certifyDevice(account, "alice", id, d.publicKey)),
  });
}

/** Thrown to roll a savepoint back. */
class Undo extends Error {}

const opened: ClientStore[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function open(dir = tempDir()): { store: ClientStore; dir: string } {
  const store = openTestStore(dir);
  opened.push(store);
  return { store, dir };
}

describe("the store's read cache inside a transaction", () => {
  test("a write of the transaction is seen by the reads after it", () => {
    const { store } = open();
    store.transaction(() => {
      expect(store.contacts.get("bob")).toBeUndefined();
      store.contacts.pin("bob", fakeIdentity(1));
      expect(store.contacts.get("bob")?.keyChanged).toBe(false);
      store.contacts.pin("bob", fakeIdentity(2));
      expect(store.contacts.get("bob")?.keyChanged).toBe(true);
      store.contacts.setDisplayName("bob", "Bob");
      expect(store.contacts.get("bob")?.displayName).toBe("Bob");

      expect(store.chats.get(7)).toBeUndefined();
      store.chats.upsert({ id: 7, kind: "direct", peer: "bob", myRole: "member" });
      expect(store.chats.get(7)?.closed).toBe(false);
      store.chats.setClosed(7, true);
      expect(store.chats.get(7)?.closed).toBe(true);
      store.chats.delete(7);
      expect(store.chats.get(7)).toBeUndefined();
    });
    expect(store.contacts.get("bob")?.displayName).toBe("Bob");
  });

  test("a rolled-back savepoint: the reads after it see the rows as before it, not what it read", () => {
    const { store } = open();
    store.contacts.pin("bob", fakeIdentity(1));
    store.chats.upsert({ id: 7, kind: "direct", peer: "bob", myRole: "member" });
    store.transaction(() => {
      expect(store.contacts.get("bob")?.displayName).toBeNull();
      expect(store.chats.get(7)?.closed).toBe(false);
      expect(() =>
        store.transaction(() => {
          store.contacts.setDisplayName("bob", "Bob");
          store.chats.setClosed(7, true);
          // Read (and so kept) inside the savepoint that is then undone.
          expect(store.contacts.get("bob")?.displayName).toBe("Bob");
          expect(store.chats.get(7)?.closed).toBe(true);
          throw new Undo();
        }),
      ).toThrow(Undo);
      expect(store.contacts.get("bob")?.displayName).toBeNull();
      expect(store.chats.get(7)?.closed).toBe(false);
    });
  });

  test("device lists: an accepted list, a device's name and a list dropped with a key change are seen at once", () => {
    const { store } = open();
    store.contacts.pin("alice", fakeIdentity(3));
    store.transaction(() => {
      expect(store.deviceLists.get("alice")).toBeUndefined();
      expect(store.deviceLists.devices("alice")).toEqual([]);
      expect(store.deviceLists.offer(ALICE, list(1, [[1, account]])).accepted).toBe(true);
      expect(store.deviceLists.get("alice")?.list.version).toBe(1);
      expect(
        store.deviceLists.offer(
          ALICE,
          list(2, [
            [1, account],
            [2, laptop],
          ]),
        ).accepted,
      ).toBe(true);
      expect(store.deviceLists.devices("alice").map((d) => d.entry.id)).toEqual([1, 2]);
      expect(store.deviceLists.device("alice", 2)?.name).toBeNull();
      store.deviceLists.setName("alice", 2, "Laptop");
      expect(store.deviceLists.device("alice", 2)?.name).toBe("Laptop");
      // A caller may sort or change the array it got: the next one is as the store holds it.
      store.deviceLists.devices("alice").reverse().pop();
      expect(store.deviceLists.devices("alice").map((d) => d.entry.id)).toEqual([1, 2]);
      // Accepting a changed key drops the stored list, from the contacts table (contacts.ts acceptChange).
      store.contacts.pin("alice", fakeIdentity(4));
      store.contacts.acceptChange("alice");
      expect(store.deviceLists.get("alice")).toBeUndefined();
      expect(store.deviceLists.devices("alice")).toEqual([]);
    });
  });

  test("between transactions another connection's writes are seen; outside one nothing is kept", () => {
    const { store, dir } = open();
    const other = open(dir).store;
    store.contacts.pin("bob", fakeIdentity(1));
    store.transaction(() => expect(store.contacts.get("bob")?.displayName).toBeNull());
    other.contacts.setDisplayName("bob", "From the other process");
    expect(store.contacts.get("bob")?.displayName).toBe("From the other process");
    store.transaction(() => expect(store.contacts.get("bob")?.displayName).toBe("From the other process"));
    other.chats.upsert({ id: 9, kind: "direct", peer: "bob", myRole: "member" });
    expect(store.chats.get(9)).toBeDefined();
  });

  test("a transaction that failed as a whole leaves nothing kept for the next one", () => {
    const { store } = open();
    store.contacts.pin("bob", fakeIdentity(1));
    expect(() =>
      store.transaction(() => {
        store.contacts.setDisplayName("bob", "Bob");
        expect(store.contacts.get("bob")?.displayName).toBe("Bob");
        throw new Undo();
      }),
    ).toThrow(Undo);
    store.transaction(() => expect(store.contacts.get("bob")?.displayName).toBeNull());
  });
});
