/**
 * Groups with several devices per member (SECURITY.md §17.5 "Groups", §17.7) through the engine
 * against an in-process relay: alice on two devices, bob and carol on one. Every device has its
 * own sender key, handed over to every device of every member and to its own account's other
 * devices; a group message reaches each device once; alice's text from her second device is hers
 * on the first; after alice removes device 2, the others rotate and nothing from it is read. The
 * lists are kept current with one question per send (§17.8 "Versions"), and per name from a
 * relay without it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { signDeviceList } from "../../../crypto/device-list.js";
import { generateIdentity } from "../../../crypto/identity.js";
import { decodeSenderState, senderDecrypt } from "../../../crypto/sender-keys.js";
import { devicesRemoved } from "../../../client/engine/group/device-removal.js";
import { groupContext, sealGroupText } from "../../../client/engine/group/keys.js";
import { createGroup, removeMember } from "../../../client/engine/group/membership.js";
import { refreshList } from "../../../client/engine/group/pairwise.js";
import { sendGroupText } from "../../../client/engine/group/send.js";
import { openDirectChat } from "../../../client/engine/chats.js";
import { storeIncoming } from "../../../client/engine/inbox.js";
import { removeOwnDevice } from "../../../client/engine/own-devices.js";
import { sendText } from "../../../client/engine/send.js";
import { createDeviceProfile } from "../../../client/engine/new-device.js";
import { connectAccount } from "../../../client/engine/open-account.js";
import {
  accountIdentityOf,
  accountSignerOf,
  listAddingDevice,
  offerOwnList,
} from "../../../client/engine/own-device-list.js";
import { RelayClient } from "../../../client/relay-client.js";
import { publishDeviceList } from "../../../client/relay-devices.js";
import { RemoteError } from "../../../src/errors.js";
import { TimeoutError } from "../../../src/transport/errors.js";
import { systemRng } from "../../../src/system-rng.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type EngineUser, accountId, deviceUser, engineUser, emptyRelay, profileDir } from "./helpers.js";

let tr: TestRelay;
let alice: EngineUser;
let alice2: EngineUser;
let bob: EngineUser;
let carol: EngineUser;

/** Runs `fn` with `u` online. */
async function withOnline<T>(u: EngineUser, fn: (relay: RelayClient) => Promise<T>): Promise<T> {
  const o = await u.online();
  try {
    return await fn(o.relay);
  } finally {
    o.close();
  }
}

/** Goes online (sync) and off again. */
async function sync(u: EngineUser): Promise<void> {
  await withOnline(u, async () => undefined);
}

/** A device-1 profile signs its first list and publishes it: what going online does (own-list-online.ts). */
async function publishFirstList(u: EngineUser): Promise<void> {
  await sync(u);
  expect(u.acct.store.deviceLists.get(u.name)?.list.version).toBe(1);
}

/** `u` (device 1) adds a second device: signs and publishes the list, writes and registers the new profile. */
async function addDevice(u: EngineUser): Promise<EngineUser> {
  const rec = u.acct.store.account.get()!;
  const device = generateIdentity(systemRng);
  const next = listAddingDevice(accountSignerOf(rec), u.name, u.acct.store.deviceLists.get(u.name)!, device.publicKey);
  await withOnline(u, (r) => publishDeviceList(r, next.encoded));
  expect(offerOwnList(u.acct.store, rec, next.encoded).accepted).toBe(true);
  const dir = profileDir(`${u.name}2`);
  const pending = createDeviceProfile({
    dir,
    relayHost: "127.0.0.1",
    relayPort: tr.port,
    relayKey: tr.keyPair.publicKey,
    username: u.name,
    accountIdentity: accountIdentityOf(rec),
    accountSigningSeed: rec.accountSigningSeed,
    device,
    deviceId: next.deviceId,
    deviceList: next.encoded,
    rng: systemRng,
  });
  const relay = await RelayClient.connect({
    host: "127.0.0.1",
    port: tr.port,
    relayKey: tr.keyPair.publicKey,
    rng: systemRng,
  });
  try {
    const { id: _id, ...request } = pending.request(0, relay.handshakeHash);
    await relay.request<"register_device">(request);
    pending.registered();
  } finally {
    relay.close();
    pending.store.close();
  }
  return deviceUser(u.name, dir);
}

/** The list of `u`'s account without `device`, version + 1, signed by the account key (what `device remove` publishes). */
function listWithout(u: EngineUser, device: number): Uint8Array {
  const rec = u.acct.store.account.get()!;
  const signer = accountSignerOf(rec);
  const state = u.acct.store.deviceLists.get(u.name)!;
  return signDeviceList(signer, {
    username: u.name,
    version: state.list.version + 1,
    issuedMs: Date.now(),
    devices: state.list.devices
      .filter((d) => d.id !== device)
      .map((d) => certifyDevice(signer, u.name, d.id, d.identity)),
  });
}

/** Texts of a chat as [sender, sender device, direction, body]. */
function texts(u: EngineUser, chat: number): [string, number, string, string][] {
  return u.acct.store.messages
    .history(chat, { limit: 1000 })
    .messages.filter((m) => m.body !== null)
    .map((m) => [m.sender, m.senderDevice, m.direction, m.body!]);
}

/** The newest group message (one envelope, not copies) `sender`'s device `device` sent in `chat`, as a msg frame. */
async function lastGroupMessage(chat: number, sender: string, device: number) {
  const rows = await tr.db.query<{ id: number; envelope: Uint8Array }>(
    "SELECT id, envelope FROM messages WHERE chat_id = $1 AND sender_id = $2 AND sender_device = $3" +
      " AND recipient_id IS NULL AND envelope IS NOT NULL ORDER BY id DESC LIMIT 1",
    [chat, await accountId(tr, sender), device],
  );
  const r = rows[0]!;
  return {
    t: "msg" as const,
    chat,
    msg: Number(r.id),
    from: sender,
    ts: Date.now(),
    envelope: new Uint8Array(r.envelope),
    ...(device !== 1 ? { from_device: device } : {}),
  };
}

beforeAll(async () => {
  // The tests of this file share bob's account and make devices and sessions all along: at the
  // default burst (30 bundles per account, one more a second) a fast machine ran bob out of
  // bundle tokens in the last tests (the limit has its own tests, test/relay/limits.test.ts).
  tr = await startRelay({ limits: { bundleBurst: 1000 } });
}, 60_000);
afterAll(async () => {
  for (const u of [alice, alice2, bob, carol]) u?.close();
  await tr.stop();
}, 60_000);
beforeEach(async () => {
  for (const u of [alice, alice2, bob, carol]) u?.close();
  await emptyRelay(tr);
  // Tables of migration 0007 hold no foreign key to accounts, so emptyRelay's cascade leaves them.
  await tr.db.exec("TRUNCATE device_mailboxes, message_copies, device_cursors");
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
  carol = await engineUser(tr, "carol");
  for (const u of [alice, bob, carol]) await publishFirstList(u);
  alice2 = await addDevice(alice);
}, 120_000);

describe("a group with a two-device member", () => {
  test("every device reads each message once; alice's second device writes as alice", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    for (const u of [alice, alice2, carol]) expect(u.acct.store.chats.get(chat.id)?.kind).toBe("group");

    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "hi from bob"));
    for (const u of [alice, alice2, carol]) await sync(u);
    for (const u of [alice, alice2, carol]) expect(texts(u, chat.id)).toEqual([["bob", 1, "in", "hi from bob"]]);

    // alice's second device: its own sender key, handed to bob, carol and alice's device 1.
    const sent = await withOnline(alice2, (r) =>
      sendGroupText(alice2.acct, r, alice2.acct.store.chats.get(chat.id)!, "hi from alice's laptop"),
    );
    expect(sent.warnings).toEqual([]);
    for (const u of [alice, bob, carol]) await sync(u);
    for (const u of [bob, carol])
      expect(texts(u, chat.id)).toEqual([
        ["bob", 1, u === bob ? "out" : "in", "hi from bob"],
        ["alice", 2, "in", "hi from alice's laptop"],
      ]);
    // On device 1 it is alice's own text, sent from device 2, once.
    expect(texts(alice, chat.id)).toEqual([
      ["bob", 1, "in", "hi from bob"],
      ["alice", 2, "out", "hi from alice's laptop"],
    ]);
    await sync(alice);
    expect(texts(alice, chat.id).length).toBe(2);

    // And device 1's text is alice's own on device 2; each device numbers its own texts.
    await withOnline(alice, (r) => sendGroupText(alice.acct, r, alice.acct.store.chats.get(chat.id)!, "from the desk"));
    for (const u of [alice2, bob]) await sync(u);
    expect(texts(alice2, chat.id)).toEqual([
      ["bob", 1, "in", "hi from bob"],
      ["alice", 2, "out", "hi from alice's laptop"],
      ["alice", 1, "out", "from the desk"],
    ]);
    const seqs = bob.acct.store.messages
      .history(chat.id, { limit: 100 })
      .messages.filter((m) => m.sender === "alice" && m.body !== null)
      .map((m) => [m.senderDevice, m.senderSeq]);
    expect(seqs).toEqual([
      [2, 1],
      [1, 1],
    ]);
    expect(bob.events.filter((e) => e.type === "gap")).toEqual([]);
    // bob holds one receiver state per alice device.
    expect(
      bob.acct.store.senderKeys
        .list(chat.id, "alice")
        .map((k) => k.senderDevice)
        .sort(),
    ).toEqual([1, 2]);
  });

  test("after alice removes device 2, the others rotate and nothing from device 2 is read", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(alice2, (r) => sendGroupText(alice2.acct, r, alice2.acct.store.chats.get(chat.id)!, "laptop"));
    await withOnline(carol, (r) => sendGroupText(carol.acct, r, carol.acct.store.chats.get(chat.id)!, "carol"));
    for (const u of [alice, alice2, bob]) await sync(u);
    expect(texts(alice2, chat.id).map((t) => t[3])).toEqual(["laptop", "carol"]);
    const heldByLaptop = (u: string) => alice2.acct.store.senderKeys.list(chat.id, u).map((k) => k.keyId);
    const bobKeyBefore = bob.acct.store.senderKeys.own(chat.id)!.keyId;
    expect(heldByLaptop("bob")).toContain(bobKeyBefore);

    // alice removes device 2 from device 1; bob and carol accept the list (what their
    // device_list_changed handling does: refreshList, which calls devicesRemoved).
    const without = listWithout(alice, 2);
    await withOnline(alice, (r) => publishDeviceList(r, without));
    const d = offerOwnList(alice.acct.store, alice.acct.store.account.get()!, without);
    expect(d.accepted && d.removed.map((x) => x.id)).toEqual([2]);
    devicesRemoved(alice.acct, "alice", [2]);
    for (const u of [bob, carol]) await withOnline(u, (r) => refreshList(u.acct, r, "alice"));
    for (const u of [alice, bob, carol])
      expect(u.acct.store.senderKeys.list(chat.id, "alice").map((k) => k.senderDevice)).not.toContain(2);

    // Their next messages: under new sender keys the laptop never received.
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "after"));
    await withOnline(carol, (r) => sendGroupText(carol.acct, r, carol.acct.store.chats.get(chat.id)!, "carol after"));
    await sync(alice);
    expect(texts(alice, chat.id).map((t) => t[3])).toEqual(["laptop", "carol", "after", "carol after"]);
    for (const u of ["bob", "carol"] as const) {
      const who = u === "bob" ? bob : carol;
      const now = who.acct.store.senderKeys.own(chat.id)!.keyId;
      expect(heldByLaptop(u)).not.toContain(now);
      // Given the ciphertext anyway, none of the laptop's states decrypts it.
      const frame = await lastGroupMessage(chat.id, u, 1);
      for (const k of alice2.acct.store.senderKeys.list(chat.id, u)) {
        const st = decodeSenderState(k.state);
        if (st.kind === "receiver") expect(() => senderDecrypt(st, groupContext(chat.id, u), frame.envelope)).toThrow();
      }
    }
    expect(bob.acct.store.senderKeys.own(chat.id)!.keyId).not.toBe(bobKeyBefore);

    // The removed device is refused by the relay, and what it wrote with its old key is not read.
    await expect(alice2.online()).rejects.toMatchObject({ code: "DEVICE_REMOVED" });
    const forged = alice2.acct.store.transaction(() =>
      sealGroupText(alice2.acct, chat.id, { seq: 2, ts: Date.now(), body: "still here" }),
    );
    const frame = {
      t: "msg" as const,
      chat: chat.id,
      msg: 999_999,
      from: "alice",
      from_device: 2,
      ts: Date.now(),
      envelope: forged,
    };
    for (const u of [bob, carol]) {
      const r = storeIncoming(u.acct, frame);
      expect(r.events).toContainEqual(expect.objectContaining({ type: "undecryptable" }));
      expect(r.events).toContainEqual(
        expect.objectContaining({ type: "device_list", outcome: "unlisted_device", devices: [2] }),
      );
      expect(texts(u, chat.id).map((t) => t[3])).not.toContain("still here");
    }
  });

  test("a device added later gets the signed state and the current keys before the next message", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "before"));
    const carol2 = await addDevice(carol);
    try {
      // bob accepts carol's new list (what his device_list_changed handling does), then writes.
      await withOnline(bob, (r) => refreshList(bob.acct, r, "carol"));
      const bobKey = bob.acct.store.senderKeys.own(chat.id)!.keyId;
      await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "after"));
      // Adding a device never rotates (§15.4.4): the new device got the current key.
      expect(bob.acct.store.senderKeys.own(chat.id)!.keyId).toBe(bobKey);
      await sync(carol2);
      // Its mailbox opened with the list that holds it: it reads from there on (§17.8).
      expect(texts(carol2, chat.id)).toEqual([["bob", 1, "in", "after"]]);
      await sync(carol);
      expect(texts(carol, chat.id).map((t) => t[3])).toEqual(["before", "after"]);
    } finally {
      carol2.close();
    }
  });

  test("a hand-over naming a device removed meanwhile is refused: the list is read again, the rest get it", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    // alice removes device 2; bob is not told (a push he missed).
    const without = listWithout(alice, 2);
    await withOnline(alice, (r) => publishDeviceList(r, without));
    offerOwnList(alice.acct.store, alice.acct.store.account.get()!, without);
    devicesRemoved(alice.acct, "alice", [2]);
    expect(bob.acct.store.deviceLists.device("alice", 2)).toBeDefined();
    // Removing carol rotates bob's key; its hand-over names alice's device 2 first.
    await withOnline(bob, (r) => removeMember(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "carol"));
    expect(bob.acct.store.deviceLists.device("alice", 2)).toBeUndefined();
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "after"));
    await sync(alice);
    expect(texts(alice, chat.id).map((t) => t[3])).toEqual(["after"]);
    expect(alice2.acct.store.senderKeys.list(chat.id, "bob").map((k) => k.keyId)).not.toContain(
      bob.acct.store.senderKeys.own(chat.id)!.keyId,
    );
  });
});

/**
 * Found in review: a list accepted on a path other than the device_list_changed push (a send
 * refused as DEVICE_LIST_STALE, our own `device remove`) kept the removed device's sender keys,
 * and a group message it wrote afterwards was still read (on the account's own devices, as ours).
 * Every acceptance now forgets them in its own transaction (device-list-removals.ts), and a
 * sender-key message from an unlisted device is refused whatever keys are left.
 */
describe("a removal learned on any path cuts the removed device off in groups", () => {
  /** A group text alice/2 seals after its removal (in flight, or replayed by the relay), as a frame. */
  function writtenAfterRemoval(chat: number, body: string, msg: number) {
    const envelope = alice2.acct.store.transaction(() =>
      sealGroupText(alice2.acct, chat, { seq: 2, ts: Date.now(), body }),
    );
    return { t: "msg" as const, chat, msg, from: "alice", from_device: 2, ts: Date.now(), envelope };
  }

  test("bob learns it from a 1:1 send refused as DEVICE_LIST_STALE", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(alice2, (r) => sendGroupText(alice2.acct, r, alice2.acct.store.chats.get(chat.id)!, "laptop"));
    await sync(bob);
    expect(bob.acct.store.senderKeys.list(chat.id, "alice").map((k) => k.senderDevice)).toContain(2);
    await withOnline(bob, async (r) =>
      sendText(bob.acct, r, (await openDirectChat(bob.acct, r, "alice")).chat, "before"),
    );
    // alice removes device 2 while bob is offline: he misses device_list_changed.
    const without = listWithout(alice, 2);
    await withOnline(alice, (r) => publishDeviceList(r, without));
    await withOnline(bob, async (r) => {
      const d = bob.acct.store.chats.list({}).find((c) => c.kind === "direct" && c.peer === "alice")!;
      await sendText(bob.acct, r, d, "after removal");
    });
    expect(bob.acct.store.deviceLists.device("alice", 2)).toBeUndefined();
    expect(bob.acct.store.senderKeys.list(chat.id, "alice").map((k) => k.senderDevice)).toEqual([]);
    storeIncoming(bob.acct, writtenAfterRemoval(chat.id, "still here", 999_999));
    expect(texts(bob, chat.id).map((t) => t[3])).toEqual(["laptop"]);
  });

  test("alice/1 removes alice/2 itself (smsg device remove)", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(alice2, (r) => sendGroupText(alice2.acct, r, alice2.acct.store.chats.get(chat.id)!, "laptop"));
    await sync(alice);
    const received = () => alice.acct.store.senderKeys.list(chat.id, "alice").filter((k) => !k.own);
    expect(received().map((k) => k.senderDevice)).toEqual([2]);
    await withOnline(alice, (r) => removeOwnDevice(alice.acct, r, 2));
    expect(alice.acct.store.deviceLists.device("alice", 2)).toBeUndefined();
    expect(received()).toEqual([]);
    storeIncoming(alice.acct, writtenAfterRemoval(chat.id, "written after removal", 999_998));
    expect(texts(alice, chat.id).map((t) => t[3])).toEqual(["laptop"]);
  });
});

/**
 * Found in a new-user run: a member's device added while we were offline (its device_list_changed
 * missed) never got our sender key, so our group messages could never be read there.
 */
test("a member's device added while we were offline gets our key with our next group message", async () => {
  const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
  for (const u of [alice, carol]) await sync(u);
  await withOnline(carol, (r) => sendGroupText(carol.acct, r, carol.acct.store.chats.get(chat.id)!, "hello"));
  // bob adds a second device while carol is offline.
  const bob2 = await addDevice(bob);
  try {
    // bob/1, the admin, hands the signed state and his key to his new device with his next message.
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "from bob/1"));
    await sync(bob2);
    await withOnline(carol, (r) => sendGroupText(carol.acct, r, carol.acct.store.chats.get(chat.id)!, "to every bob"));
    await sync(bob2);
    expect(texts(bob2, chat.id).map((t) => t[3])).toEqual(["from bob/1", "to every bob"]);
  } finally {
    bob2.close();
  }
});

/**
 * Runs `fn` and returns what it returned with the type of every request any RelayClient made
 * meanwhile and the names whose list was fetched; the types in `lacking` are answered
 * UNKNOWN_TYPE, as a relay that predates them does.
 */
async function requestsDuring<T>(
  fn: () => Promise<T>,
  lacking: readonly string[] = [],
  answer?: (msg: { t: string }) => Promise<unknown> | undefined,
): Promise<{ result: T; types: string[]; fetched: string[] }> {
  const original = RelayClient.prototype.request;
  const types: string[] = [];
  const fetched: string[] = [];
  const spy = vi.spyOn(RelayClient.prototype, "request").mockImplementation(function (
    this: RelayClient,
    msg: { t: string; username?: string },
  ) {
    types.push(msg.t);
    if (msg.t === "fetch_device_list") fetched.push(msg.username!);
    if (lacking.includes(msg.t))
      return Promise.reject(new RemoteError("UNKNOWN_TYPE", `unknown message type "${msg.t}"`));
    return answer?.(msg) ?? original.call(this, msg as never);
  } as never);
  try {
    return { result: await fn(), types, fetched };
  } finally {
    spy.mockRestore();
  }
}

/** How many of `types` are `t`. */
const count = (types: readonly string[], t: string) => types.filter((x) => x === t).length;

describe("keeping the lists current: one question, then only the lists that changed (§17.8 'Versions')", () => {
  test("unchanged lists cost one request in all, for a group send and for going online", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "first"));

    const online = await requestsDuring(() => sync(bob));
    expect(count(online.types, "fetch_device_list_versions")).toBe(1);
    expect(online.fetched).toEqual([]);
    const send = await withOnline(bob, (r) =>
      requestsDuring(() => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "second")),
    );
    expect(send.result.warnings).toEqual([]);
    expect(count(send.types, "fetch_device_list_versions")).toBe(1);
    expect(send.fetched).toEqual([]);
    for (const u of [alice, alice2, carol]) await sync(u);
    for (const u of [alice, alice2, carol]) expect(texts(u, chat.id).map((t) => t[3])).toEqual(["first", "second"]);
  });

  test("a member's new device, and one of our own, are picked up by the next group send", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "before"));
    // carol adds a device while bob is offline: he misses device_list_changed.
    const carol2 = await addDevice(carol);
    try {
      const send = await withOnline(bob, (r) =>
        requestsDuring(() => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "after")),
      );
      expect(count(send.types, "fetch_device_list_versions")).toBe(1);
      // Only carol's list changed: only hers is fetched (and checked by §17.4).
      expect(send.fetched).toEqual(["carol"]);
      expect(bob.acct.store.deviceLists.device("carol", carol2.acct.deviceId)).toBeDefined();
      await sync(carol2);
      expect(texts(carol2, chat.id)).toEqual([["bob", 1, "in", "after"]]);
    } finally {
      carol2.close();
    }

    // alice/1 adds a third device; alice/2, not told, writes on a bare connection (no going
    // online, which would read our own list first): the group send reads it, the new device gets its key.
    await sync(alice2);
    const alice3 = await addDevice(alice);
    const { relay } = await connectAccount(alice2.acct);
    try {
      const laptop = await requestsDuring(() =>
        sendGroupText(alice2.acct, relay, alice2.acct.store.chats.get(chat.id)!, "from the laptop"),
      );
      expect(count(laptop.types, "fetch_device_list_versions")).toBe(1);
      // Ours changed; bob's the laptop never read (bob/1 is device 1: no fetch needed to read
      // him); carol's changed while the laptop was offline.
      expect(laptop.fetched.sort()).toEqual(["alice", "bob", "carol"]);
      expect(alice2.acct.store.deviceLists.device("alice", alice3.acct.deviceId)).toBeDefined();
      // The laptop handed its key to alice/3 (holders are per device, keys.ts).
      const holders = JSON.parse(alice2.acct.store.groupStates.getHolders(chat.id)!) as { devices: string[] };
      expect(holders.devices).toContain(`alice/${alice3.acct.deviceId}`);
      // bob, the admin, not told either, hands alice/3 the signed state with his next message;
      // from then on alice/3 reads the laptop under the key it was handed (the text that came
      // before the state, in a group alice/3 did not know yet, is not readable there).
      await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "from bob"));
      await sendGroupText(alice2.acct, relay, alice2.acct.store.chats.get(chat.id)!, "laptop again");
      await sync(alice3);
      expect(texts(alice3, chat.id).map((t) => t[3])).toEqual(["from bob", "laptop again"]);
      expect(alice3.acct.store.senderKeys.list(chat.id, "alice").map((k) => k.senderDevice)).toContain(2);
    } finally {
      relay.close();
      alice3.close();
    }
  });

  test("a refused question, an answer of the wrong length, or none in time: one fetch per list that once, asked again after", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "first"));
    const answers = [
      () => Promise.reject(new RemoteError("UNAVAILABLE", "the relay cannot reach its database; retry later")),
      () => Promise.resolve({ t: "device_list_versions", id: 1, versions: [1] }),
      () => Promise.reject(new TimeoutError("the relay did not answer within 30 s")),
    ];
    const fetchedPerSend: string[][] = [];
    await withOnline(bob, async (r) => {
      for (const body of ["second", "third", "fourth", "fifth"]) {
        const { fetched, result } = await requestsDuring(
          () => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, body),
          [],
          (msg) => (msg.t === "fetch_device_list_versions" ? answers.shift()?.() : undefined),
        );
        expect(result.warnings).toEqual([]);
        fetchedPerSend.push(fetched);
      }
    });
    const everyList = ["alice", "carol", "bob"];
    expect(fetchedPerSend).toEqual([everyList, everyList, everyList, []]);
    await sync(carol);
    expect(texts(carol, chat.id).map((t) => t[3])).toEqual(["first", "second", "third", "fourth", "fifth"]);
  });

  test("our own list that cannot be read is a warning: the send goes on with the stored one", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    const sent = await withOnline(bob, (r) =>
      requestsDuring(
        () => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "still sent"),
        ["fetch_device_list_versions"],
        (msg) =>
          msg.t === "fetch_device_list" && (msg as { username?: string }).username === "bob"
            ? Promise.reject(new RemoteError("UNAVAILABLE", "the relay cannot reach its database; retry later"))
            : undefined,
      ),
    );
    expect(sent.result.warnings).toEqual([
      "your own device list could not be read now (the relay cannot reach its database; retry later); a later send tries again",
    ]);
    expect(bob.acct.store.deviceLists.get("bob")?.list.version).toBe(1);
    for (const u of [alice, alice2, carol]) await sync(u);
    for (const u of [alice, alice2, carol]) expect(texts(u, chat.id).map((t) => t[3])).toEqual(["still sent"]);
  });

  test("a relay without the question: one fetch per list, as before, and it is not asked again on that connection", async () => {
    const { chat } = await withOnline(bob, (r) => createGroup(bob.acct, r, "team", ["alice", "carol"]));
    for (const u of [alice, alice2, carol]) await sync(u);
    await withOnline(bob, (r) => sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "before"));
    const carol2 = await addDevice(carol);
    try {
      const { types, fetched } = await requestsDuring(
        () =>
          withOnline(bob, async (r) => {
            const first = await sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "after");
            const second = await sendGroupText(bob.acct, r, bob.acct.store.chats.get(chat.id)!, "again");
            return [first.warnings, second.warnings];
          }),
        ["fetch_device_list_versions"],
      );
      // Asked once (going online), refused; then per name: our own going online, and on each
      // send alice's, carol's and our own.
      expect(count(types, "fetch_device_list_versions")).toBe(1);
      expect(fetched).toEqual(["bob", "alice", "carol", "bob", "alice", "carol", "bob"]);
      await sync(carol2);
      expect(texts(carol2, chat.id).map((t) => t[3])).toEqual(["after", "again"]);
      for (const u of [alice, alice2, carol]) await sync(u);
      for (const u of [alice, alice2, carol])
        expect(texts(u, chat.id).map((t) => t[3])).toEqual(["before", "after", "again"]);
    } finally {
      carol2.close();
    }
  });
});
