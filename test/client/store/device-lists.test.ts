/**
 * The store's device-list state (SECURITY.md §17.4): what gets in goes through the acceptance
 * rule, and a refused list (forged, replayed, rolled back, unsigned, another account's) leaves
 * every byte of the stored state as it was. Also: a profile made before §17 (schema 5) opens
 * as device 1 with its sessions, sender keys and messages.
 */
import fc from "fast-check";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { signDeviceList } from "../../../crypto/device-list.js";
import { type IdentityKeyPair, generateIdentity, identityKey } from "../../../crypto/identity.js";
import { seededRng } from "../../../crypto/rng.js";
import type { ClientStore } from "../../../client/store/index.js";
import { openDatabase } from "../../../client/store/sqlite.js";
import { SCHEMA_VERSION } from "../../../client/store/schema.js";
import { UsageError } from "../../../src/errors.js";
import { UNDO_V6, fakeIdentity, openTestStore, tempDir } from "./helpers.js";

const rng = seededRng(utf8("device-lists store test"));
const account = generateIdentity(rng);
const other = generateIdentity(rng);
const laptop = generateIdentity(rng);
const phone = generateIdentity(rng);
const ALICE = { username: "alice", accountKey: identityKey(account.publicKey) };

/** A list of alice's signed by `signer` (the account by default) holding these devices. */
function list(version: number, devices: [number, IdentityKeyPair][], signer: IdentityKeyPair = account): Uint8Array {
  return signDeviceList(signer, {
    username: "alice",
    version,
    issuedMs: 1_700_000_000_000 + version,
    devices: devices.map(([id, d]) => certifyDevice(signer, "alice", id, d.publicKey)),
  });
}

const V1 = list(1, [[1, account]]);
const V2 = list(2, [
  [1, account],
  [2, laptop],
]);
const V3 = list(3, [
  [1, account],
  [3, phone],
]);

/** Every row of the two device tables, to compare before and after. */
function snapshot(store: ClientStore): unknown {
  const raw = (store as unknown as { db: { prepare(sql: string): { all(): unknown[] } } }).db;
  return [
    raw.prepare("SELECT * FROM device_lists ORDER BY username").all(),
    raw.prepare("SELECT * FROM device_info ORDER BY username, device_id").all(),
  ];
}

describe("device lists in the store", () => {
  test("accepted lists replace the state; devices that leave lose their row and name", () => {
    const store = openTestStore(tempDir());
    expect(store.deviceLists.get("alice")).toBeUndefined();
    expect(store.deviceLists.offer(ALICE, V1).accepted).toBe(true);
    const d2 = store.deviceLists.offer(ALICE, V2);
    expect(d2.accepted && d2.added.map((d) => d.id)).toEqual([2]);
    store.deviceLists.setName("alice", 2, "Laptop");
    expect(store.deviceLists.devices("alice").map((d) => [d.entry.id, d.name])).toEqual([
      [1, null],
      [2, "Laptop"],
    ]);
    const d3 = store.deviceLists.offer(ALICE, V3);
    expect(d3.accepted && [d3.added.map((d) => d.id), d3.removed.map((d) => d.id)]).toEqual([[3], [2]]);
    expect(store.deviceLists.device("alice", 2)).toBeUndefined();
    expect(() => store.deviceLists.setName("alice", 2, "Laptop")).toThrow(UsageError);
    expect(store.deviceLists.get("alice")!.highestDeviceId).toBe(3);
    store.close();
  });

  test("a refused list changes nothing: forged, replayed, rolled back, conflicting, removed device returned, another account", () => {
    const store = openTestStore(tempDir());
    store.deviceLists.offer(ALICE, V1);
    store.deviceLists.offer(ALICE, V2);
    store.deviceLists.setName("alice", 2, "Laptop");
    store.deviceLists.offer(ALICE, V3);
    const before = snapshot(store);
    const refusals: [Uint8Array, string][] = [
      [
        list(
          4,
          [
            [1, account],
            [3, phone],
            [4, laptop],
          ],
          other,
        ),
        "bad_signature",
      ], // signed by another key
      [V3, "replayed"],
      [V2, "rolled_back"],
      [list(3, [[1, account]]), "conflict"],
      [
        list(4, [
          [1, account],
          [2, laptop],
          [3, phone],
        ]),
        "removed_device_returned",
      ],
      [V3.slice(0, V3.length - 1), "malformed"], // the signature cut short
    ];
    for (const [bytes, reason] of refusals) {
      const d = store.deviceLists.offer(ALICE, bytes);
      expect(d.accepted ? "accepted" : d.refusal.reason).toBe(reason);
      expect(snapshot(store)).toEqual(before);
    }
    const bob = store.deviceLists.offer({ username: "bob", accountKey: ALICE.accountKey }, V1);
    expect(bob.accepted ? "accepted" : bob.refusal.reason).toBe("wrong_account");
    expect(snapshot(store)).toEqual(before);
    store.close();
  });

  test("property: any changed byte of a genuine next list is refused without changing the state", () => {
    const store = openTestStore(tempDir());
    store.deviceLists.offer(ALICE, V1);
    const before = snapshot(store);
    fc.assert(
      fc.property(fc.nat({ max: V2.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const bad = V2.slice();
        bad[at] = bad[at]! ^ mask;
        expect(store.deviceLists.offer(ALICE, bad).accepted).toBe(false);
        expect(snapshot(store)).toEqual(before);
      }),
      { numRuns: 200 },
    );
    store.close();
  });

  test("a new account key discards the state verified under the old one (§17.4)", () => {
    const store = openTestStore(tempDir());
    store.contacts.pin("alice", new Uint8Array(128).fill(1));
    store.deviceLists.offer(ALICE, V1);
    store.contacts.pin("alice", new Uint8Array(128).fill(2)); // a changed key: pending
    store.contacts.acceptChange("alice");
    expect(store.deviceLists.get("alice")).toBeUndefined();
    store.close();
  });
});

describe("a profile made before §17 (schema 5)", () => {
  test("opens as device 1: its sessions, sender keys and messages are device 1's", () => {
    const dir = tempDir();
    const store = openTestStore(dir);
    store.contacts.pin("bob", fakeIdentity(1));
    store.sessions.put("bob", new Uint8Array(32).fill(7), utf8("session state"));
    store.chats.upsert({ id: 1, kind: "group", myRole: "admin" });
    store.senderKeys.put({ chatId: 1, sender: "bob", keyId: 9, state: utf8("sender key"), own: false });
    const { id } = store.messages.insert({
      chatId: 1,
      relayMsgId: 5,
      sender: "bob",
      sentAt: 1000,
      body: "before devices",
      direction: "in",
      status: "delivered",
      senderSeq: 4,
    });
    store.close();
    const raw = openDatabase(join(dir, "store.sqlite"));
    raw.exec(UNDO_V6);
    raw.close();

    const again = openTestStore(dir);
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    const s = again.sessions.current("bob");
    expect(s && [s.device, Buffer.from(s.state).toString()]).toEqual([1, "session state"]);
    expect(again.sessions.current("bob", 2)).toBeUndefined();
    const k = again.senderKeys.get(1, "bob", 9);
    expect(k && [k.senderDevice, Buffer.from(k.state).toString()]).toEqual([1, "sender key"]);
    expect(again.messages.get(id)).toMatchObject({ body: "before devices", senderDevice: 1, senderSeq: 4 });
    expect(again.messages.lastSenderSeq(1, "bob")).toBe(4);
    expect(again.messages.lastSenderSeq(1, "bob", 0, 2)).toBeNull();
    again.close();
  });

  test("sessions and sender keys of another device stay apart from device 1's", () => {
    const store = openTestStore(tempDir());
    store.contacts.pin("bob", fakeIdentity(1));
    store.sessions.put("bob", new Uint8Array(32).fill(1), utf8("one"));
    store.sessions.put("bob", new Uint8Array(32).fill(2), utf8("two"), { device: 2 });
    expect(Buffer.from(store.sessions.current("bob")!.state).toString()).toBe("one");
    expect(Buffer.from(store.sessions.current("bob", 2)!.state).toString()).toBe("two");
    expect(store.sessions.devices("bob")).toEqual([1, 2]);
    expect(store.sessions.deleteDevice("bob", 2)).toBe(1);
    expect(store.sessions.devices("bob")).toEqual([1]);
    store.chats.upsert({ id: 1, kind: "group", myRole: "member" });
    store.senderKeys.put({ chatId: 1, sender: "bob", keyId: 9, state: utf8("d1"), own: false });
    store.senderKeys.put({ chatId: 1, sender: "bob", keyId: 9, state: utf8("d2"), own: false, senderDevice: 2 });
    expect(Buffer.from(store.senderKeys.get(1, "bob", 9)!.state).toString()).toBe("d1");
    expect(Buffer.from(store.senderKeys.get(1, "bob", 9, 2)!.state).toString()).toBe("d2");
    expect(store.senderKeys.deleteDevice("bob", 2)).toBe(1);
    expect(store.senderKeys.get(1, "bob", 9, 2)).toBeUndefined();
    store.close();
  });
});
