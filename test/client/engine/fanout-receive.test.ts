/**
 * The receiving side of 1:1 fan-out (SECURITY.md §17.4, §17.5, §17.7) against an in-process
 * relay: alice on two (or three) devices and bob. Every copy is shown once on every device it
 * is for; a copy of alice's own text from her other device is filed as hers; copies the relay
 * misdirects, bare messages from a listed account, and devices the account did not list are
 * refused and warned about; a device added since the last fetch is accepted after the fetch
 * the receiver makes first; sequence numbers are per sending device; a failure stores nothing.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { messageLine } from "../../../client/commands/output.js";
import { otherDeviceOf } from "../../../client/commands/history.js";
import { openDirectChat } from "../../../client/engine/chats.js";
import { refreshDeviceList } from "../../../client/engine/device-list-refresh.js";
import { followDeviceList } from "../../../client/engine/device-list-update.js";
import type { EngineEvent, StaleSender } from "../../../client/engine/events.js";
import { createDeviceProfile } from "../../../client/engine/new-device.js";
import { listen } from "../../../client/engine/listener.js";
import { connectAccount, connectRelay } from "../../../client/engine/open-account.js";
import { sendText } from "../../../client/engine/send.js";
import { accountSignerOf, offerOwnList } from "../../../client/engine/own-device-list.js";
import { Receiver } from "../../../client/engine/sync.js";
import { publishDeviceList } from "../../../client/relay-devices.js";
import type { RelayClient } from "../../../client/relay-client.js";
import type { MessageRecord } from "../../../client/store/index.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { signDeviceList } from "../../../crypto/device-list.js";
import { encodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { ConnectionClosedError } from "../../../src/errors.js";
import { systemRng } from "../../../src/system-rng.js";
import { waitFor } from "../../helpers/wait-for.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type EngineUser, accountId, deviceUser, engineUser, profileDir } from "./helpers.js";
import { addDevice, emptyDeviceRelay, fanoutSend, publishOwnList, text, withRelay } from "./devices.js";

let tr: TestRelay;
const users: EngineUser[] = [];

beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});
beforeEach(async () => {
  await emptyDeviceRelay(tr);
});
afterEach(() => {
  for (const u of users.splice(0)) u.close();
});

async function user(name: string): Promise<EngineUser> {
  const u = await engineUser(tr, name);
  users.push(u);
  return u;
}

async function device(owner: EngineUser, label: string): Promise<EngineUser> {
  const u = await addDevice(tr, owner, label);
  users.push(u);
  return u;
}

/** Goes online (login, sync until done), records the events, and closes again. */
async function sync(u: EngineUser): Promise<EngineEvent[]> {
  const from = u.events.length;
  const o = await u.online();
  o.close();
  return u.events.slice(from);
}

/** The shown history of a chat (control rows left out), oldest first. */
function shown(u: EngineUser, chat: number): MessageRecord[] {
  return u.acct.store.messages
    .history(chat, { limit: 1000 })
    .messages.filter((m) => m.body !== null || m.status === "undecryptable");
}

/** alice (device 1 and a second device) and bob, all with published lists, and the direct chat alice–bob. */
async function world() {
  const alice = await user("alice");
  const bob = await user("bob");
  await publishOwnList(bob);
  const alice2 = await device(alice, "laptop");
  const chat = await withRelay(bob.acct, async (r) => (await openDirectChat(bob.acct, r, "alice")).chat.id);
  return { alice, alice2, bob, chat };
}

describe("1:1 fan-out, receiving", () => {
  test("bob's message reaches alice/1 and alice/2 once each; alice/1's own copy shows on alice/2 as hers", async () => {
    const { alice, alice2, bob, chat } = await world();
    await withRelay(bob.acct, (r) => fanoutSend(bob.acct, r, chat, "alice", text(chat, 1, "hi alice")));
    for (const a of [alice, alice2]) {
      const events = await sync(a);
      expect(events.filter((e) => e.type === "message")).toEqual([
        expect.objectContaining({ from: "bob", body: "hi alice", seq: 1, seqStatus: "ok", own: false }),
      ]);
      await sync(a);
      expect(shown(a, chat).map((m) => [m.sender, m.direction, m.body])).toEqual([["bob", "in", "hi alice"]]);
    }

    const sent = await withRelay(alice.acct, (r) => fanoutSend(alice.acct, r, chat, "bob", text(chat, 1, "hi bob")));
    const events = await sync(alice2);
    expect(events.filter((e) => e.type === "message")).toEqual([
      expect.objectContaining({ from: "alice", body: "hi bob", own: true, fromDevice: 1 }),
    ]);
    await sync(alice2);
    const mine = shown(alice2, chat).filter((m) => m.sender === "alice");
    expect(mine).toEqual([
      expect.objectContaining({
        direction: "out",
        status: "sent",
        senderDevice: 1,
        relayMsgId: sent.msg,
        body: "hi bob",
        senderSeq: 1,
      }),
    ]);
    await sync(bob);
    // (fanoutSend does not store what it sends: bob's history holds alice's message only.)
    expect(shown(bob, chat).map((m) => [m.sender, m.direction, m.body])).toEqual([["alice", "in", "hi bob"]]);
  });
});

/** The events of one kind of a list, for short expectations. */
function ofType<T extends EngineEvent["type"]>(events: readonly EngineEvent[], type: T) {
  return events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type);
}

/** The relay swaps the copies of message `msg` between two devices of `username` (an operator writing its database). */
async function swapCopies(username: string, msg: number, a: number, b: number): Promise<void> {
  const account = await accountId(tr, username);
  await tr.db.transaction(async (tx) => {
    const move = (from: number, to: number) =>
      tx.query(
        "UPDATE message_copies SET device_id = $1 WHERE account_id = $2 AND message_id = $3 AND device_id = $4",
        [to, account, msg, from],
      );
    await move(a, 99);
    await move(b, a);
    await move(99, b);
  });
}

describe("refusals", () => {
  test("a copy the relay moves to another device, and copies whose header does not fit, are refused and shown as nothing", async () => {
    const { alice, alice2, bob, chat } = await world();
    const moved = await withRelay(bob.acct, (r) => fanoutSend(bob.acct, r, chat, "alice", text(chat, 1, "moved")));
    await swapCopies("alice", moved.msg, 1, 2);
    for (const a of [alice, alice2]) {
      const events = await sync(a);
      expect(ofType(events, "message")).toEqual([]);
      expect(ofType(events, "undecryptable")).toEqual([expect.objectContaining({ relayMsg: moved.msg, from: "bob" })]);
    }
    // A header that does not list alice/2 (a copy that was not meant for it), one naming another sending
    // device, and alice/1's own copy whose header does not list alice/2 among her devices.
    await withRelay(bob.acct, async (r) => {
      await fanoutSend(bob.acct, r, chat, "alice", text(chat, 2, "only for 1"), { header: { recipientDevices: [1] } });
      await fanoutSend(bob.acct, r, chat, "alice", text(chat, 3, "not from 2"), { header: { senderDevice: 2 } });
    });
    await withRelay(alice.acct, (r) =>
      fanoutSend(alice.acct, r, chat, "bob", text(chat, 1, "mine"), { header: { ownDevices: [] } }),
    );
    const on2 = await sync(alice2);
    expect(ofType(on2, "message")).toEqual([]);
    expect(ofType(on2, "undecryptable").map((e) => e.reason)).toEqual([
      "the relay delivered it to a device it was not meant for",
      "its device header names another sending device than the one that encrypted it",
      "the relay delivered it to a device it was not meant for",
    ]);
    const on1 = await sync(alice);
    expect(ofType(on1, "message").map((e) => e.body)).toEqual(["only for 1"]);
    // Nothing was lost or shown twice: the refused copies are stored as undecryptable, once.
    await sync(alice2);
    expect(shown(alice2, chat).map((m) => m.status)).toEqual(Array(4).fill("undecryptable"));
    // The sessions still work: the next honest message reaches both devices.
    await withRelay(bob.acct, (r) => fanoutSend(bob.acct, r, chat, "alice", text(chat, 4, "fine")));
    for (const a of [alice, alice2]) expect(ofType(await sync(a), "message").map((e) => e.body)).toEqual(["fine"]);
  });

  test("a bare message from an account whose list we hold is refused; the next one with a header is taken", async () => {
    const { alice, bob, chat } = await world();
    await withRelay(alice.acct, (r) => refreshDeviceList(alice.acct, r, "bob"));
    await withRelay(bob.acct, async (r) => {
      await fanoutSend(bob.acct, r, chat, "alice", text(chat, 1, "bare"), { bare: true });
      await fanoutSend(bob.acct, r, chat, "alice", text(chat, 2, "wrapped"));
    });
    const events = await sync(alice);
    expect(ofType(events, "undecryptable").map((e) => e.reason)).toEqual([
      "it came without the device header every device of bob puts on its messages",
    ]);
    expect(ofType(events, "message").map((e) => [e.body, e.seq])).toEqual([["wrapped", 2]]);
  });

  test("a device the relay injected into alice's list (not signed by alice) is refused and warned about once per page", async () => {
    const { alice2, bob, chat } = await world();
    // bob holds alice's genuine list (version 2: devices 1 and 2).
    await withRelay(bob.acct, (r) => refreshDeviceList(bob.acct, r, "alice"));
    const attacker = await injectDevice("alice", alice2);
    await withRelay(attacker.acct, async (r) => {
      for (const [seq, body] of [
        [1, "from the injected device"],
        [2, "again"],
      ] as const)
        await fanoutSend(attacker.acct, r, chat, "bob", text(chat, seq, body), {
          junkFor: [
            { to: "alice", device: 1 },
            { to: "alice", device: 2 },
          ],
        });
    });
    const sessionsBefore = bob.acct.store.sessions.devices("alice");
    const events = await sync(bob);
    expect(ofType(events, "message")).toEqual([]);
    expect(ofType(events, "device_list").map((e) => [e.user, e.outcome, e.devices])).toEqual([
      ["alice", "refused", []],
      ["alice", "unlisted_device", [3]],
    ]);
    expect(ofType(events, "undecryptable").map((e) => e.reason)).toEqual(
      Array(2).fill("alice's device 3 is not in alice's device list"),
    );
    expect(bob.acct.store.deviceLists.get("alice")!.list.version).toBe(2);
    expect(bob.acct.store.sessions.devices("alice")).toEqual(sessionsBefore);
  });
});

/**
 * What a relay operator can do: write into its database a list of `username` that the account
 * did not sign (a key of its own signs it, listing device 3 = a device of its own besides the
 * real ones), register that device and log it in. Returns the injected device's profile (it
 * believes the forged list, signed by "its" account key).
 */
async function injectDevice(username: string, second: EngineUser): Promise<EngineUser> {
  const fake = generateIdentity(systemRng);
  const injected = generateIdentity(systemRng);
  const forged = signDeviceList(fake, {
    username,
    version: 3,
    issuedMs: Date.now(),
    devices: [
      certifyDevice(fake, username, 1, fake.publicKey),
      certifyDevice(fake, username, 2, second.acct.identity.publicKey),
      certifyDevice(fake, username, 3, injected.publicKey),
    ],
  });
  const account = await accountId(tr, username);
  await tr.db.transaction(async (tx) => {
    await tx.query("UPDATE device_lists SET list = $1, version = 3 WHERE account_id = $2", [forged, account]);
    await tx.query("INSERT INTO devices (account_id, device_id, identity, created_at) VALUES ($1, 3, $2, now())", [
      account,
      encodeIdentityPublic(injected.publicKey),
    ]);
    await tx.query("INSERT INTO device_mailboxes (account_id, device_id, since_message) VALUES ($1, 3, 0)", [account]);
  });
  const dir = profileDir(`${username}-injected`);
  const pending = createDeviceProfile({
    dir,
    relayHost: "127.0.0.1",
    relayPort: tr.port,
    relayKey: tr.keyPair.publicKey,
    username,
    accountIdentity: fake.publicKey,
    accountSigningSeed: fake.signing.privateKey.slice(0, 32),
    device: injected,
    deviceId: 3,
    deviceList: forged,
    rng: systemRng,
  });
  const relay = await connectRelay({
    host: "127.0.0.1",
    port: tr.port,
    relayKey: tr.keyPair.publicKey,
    rng: systemRng,
  });
  try {
    await relay.request<"register_device">(pending.request(0, relay.handshakeHash));
    pending.registered();
  } finally {
    relay.close();
    pending.store.close();
  }
  const u = deviceUser(username, dir);
  users.push(u);
  return u;
}

describe("devices added and removed", () => {
  test("a message from a device added after our last fetch is accepted after the fetch the receiver makes first", async () => {
    const { alice, alice2, bob, chat } = await world();
    await withRelay(bob.acct, (r) => refreshDeviceList(bob.acct, r, "alice"));
    const alice3 = await device(alice, "tablet");
    await withRelay(alice3.acct, (r) => fanoutSend(alice3.acct, r, chat, "bob", text(chat, 1, "from the tablet")));
    const events = await sync(bob);
    expect(ofType(events, "device_list").map((e) => [e.user, e.outcome, e.devices, e.own])).toEqual([
      ["alice", "added", [3], false],
    ]);
    expect(ofType(events, "message")).toEqual([
      expect.objectContaining({ from: "alice", fromDevice: 3, body: "from the tablet", seqStatus: "ok", own: false }),
    ]);
    expect(bob.acct.store.deviceLists.get("alice")!.list.version).toBe(3);
    // alice/2 had the list of version 2: it fetches its own list first, and files the copy as alice's own.
    const on2 = await sync(alice2);
    expect(ofType(on2, "device_list").map((e) => [e.outcome, e.devices, e.own])).toEqual([["added", [3], true]]);
    expect(ofType(on2, "message")).toEqual([
      expect.objectContaining({ own: true, fromDevice: 3, body: "from the tablet" }),
    ]);
  });

  test("a failed fetch of the sender's list stores nothing, acks nothing; the next sync takes the message", async () => {
    const { alice, bob, chat } = await world();
    await withRelay(bob.acct, (r) => refreshDeviceList(bob.acct, r, "alice"));
    const alice3 = await device(alice, "tablet");
    await withRelay(alice3.acct, (r) => fanoutSend(alice3.acct, r, chat, "bob", text(chat, 1, "later")));
    const { relay } = await connectAccount(bob.acct);
    const errors: unknown[] = [];
    try {
      const cut = new Proxy(relay, {
        get(target, p) {
          if (p === "request")
            return (m: { t: string }) =>
              m.t === "fetch_device_list"
                ? Promise.reject(new ConnectionClosedError("the connection closed"))
                : target.request(m as never);
          const v = Reflect.get(target, p, target) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as RelayClient;
      const receiver = new Receiver(bob.acct, cut, { onError: (e) => errors.push(e) });
      await receiver.syncAll();
      receiver.detach();
    } finally {
      relay.close();
    }
    // (Once for the sync's frame; once more when the relay's push of the same message reached the new connection.)
    expect(errors.length).toBeGreaterThanOrEqual(1);
    for (const e of errors) expect(e).toBeInstanceOf(ConnectionClosedError);
    expect(shown(bob, chat)).toEqual([]);
    expect(bob.acct.store.cursors.get(chat) ?? 0).toBe(0);
    expect(bob.acct.store.deviceLists.get("alice")!.list.version).toBe(2);
    expect(bob.acct.store.sessions.devices("alice")).not.toContain(3);
    const events = await sync(bob);
    expect(ofType(events, "message").map((e) => e.body)).toEqual(["later"]);
  });

  test("device_list_changed: a removed device loses its sessions; the removed device hears it once and stops", async () => {
    const { alice, alice2, bob, chat } = await world();
    await withRelay(bob.acct, (r) => fanoutSend(bob.acct, r, chat, "alice", text(chat, 1, "to both")));
    expect(bob.acct.store.sessions.devices("alice")).toEqual([1, 2]);
    const online = await bob.online();
    const alice2Events: EngineEvent[] = [];
    const alice2Receiver = new Receiver(alice2.acct, online.relay, { onEvent: (e) => alice2Events.push(e) });
    alice2Receiver.releasePushes();
    try {
      const from = bob.events.length;
      const record = alice.acct.store.account.get()!;
      const signer = accountSignerOf(record);
      const current = alice.acct.store.deviceLists.get("alice")!.list;
      const without2 = signDeviceList(signer, {
        username: "alice",
        version: current.version + 1,
        issuedMs: Date.now(),
        devices: current.devices.filter((d) => d.id !== 2),
      });
      await withRelay(alice.acct, (r) => publishDeviceList(r, without2));
      expect(offerOwnList(alice.acct.store, record, without2).accepted).toBe(true);
      await waitFor(() => ofType(bob.events.slice(from), "device_list").length > 0 && alice2Events.length > 0, {
        what: "bob and alice/2 hear of the removal",
      });
      expect(ofType(bob.events.slice(from), "device_list").map((e) => [e.user, e.outcome, e.devices])).toEqual([
        ["alice", "removed", [2]],
      ]);
      expect(bob.acct.store.sessions.devices("alice")).toEqual([1]);
      // alice/2's connection is closed by the relay (it can no longer log in); a receiver of alice/2's
      // profile on another connection hears the push (as alice/2 would, had it come first), says once
      // that this device was removed, and stops: what comes after is not for it.
      expect(alice2Events.map((e) => e.type === "device_list" && [e.outcome, e.own, e.devices])).toEqual([
        ["this_device_removed", true, [2]],
      ]);
      const before = alice2.acct.store.messages.count(chat);
      await withRelay(alice.acct, (r) => fanoutSend(alice.acct, r, chat, "bob", text(chat, 1, "after")));
      await waitFor(() => ofType(bob.events, "message").some((e) => e.body === "after"), { what: "bob gets it" });
      await alice2Receiver.drain();
      expect(alice2Events).toHaveLength(1);
      expect(alice2.acct.store.messages.count(chat)).toBe(before);
      expect(await followDeviceList(alice2.acct, online.relay, "alice")).toEqual([]);
    } finally {
      alice2Receiver.detach();
      online.close();
    }
  });
});

describe("smsg listen", () => {
  test("reports a device list change the relay pushed, once, from the profile's journal", async () => {
    const { alice, bob } = await world();
    await withRelay(bob.acct, (r) => refreshDeviceList(bob.acct, r, "alice"));
    const got: EngineEvent[] = [];
    const stop = new AbortController();
    let ready!: () => void;
    const listening = new Promise<void>((r) => (ready = r));
    const done = listen(bob.acct, {
      onEvent: (e) => got.push(e),
      onStatus: (st) => st.state === "listening" && ready(),
      signal: stop.signal,
      syncDelayMs: 10,
    });
    try {
      await listening;
      await device(alice, "tablet");
      await waitFor(() => ofType(got, "device_list").length > 0, { what: "the listener reports the new device" });
    } finally {
      stop.abort();
      await done;
    }
    expect(ofType(got, "device_list").map((e) => [e.user, e.outcome, e.devices])).toEqual([["alice", "added", [3]]]);
    expect(bob.acct.store.deviceLists.get("alice")!.list.version).toBe(3);
  });
});

describe("what devices tell each other", () => {
  test("device_list names: taken for listed devices of the sender's account; a list of another account is refused", async () => {
    const { alice, alice2, bob, chat } = await world();
    const list = alice2.acct.store.deviceLists.get("alice")!.encoded;
    await withRelay(alice2.acct, async (r) => {
      await fanoutSend(alice2.acct, r, chat, "bob", {
        v: 1,
        k: "device_list",
        list,
        names: [
          { id: 1, name: "Desktop" },
          { id: 2, name: "Laptop" },
          { id: 7, name: "Ghost" },
        ],
      });
      await fanoutSend(alice2.acct, r, chat, "bob", text(chat, 1, "typed on the laptop"));
    });
    await sync(bob);
    expect(bob.acct.store.deviceLists.devices("alice").map((d) => [d.entry.id, d.name])).toEqual([
      [1, "Desktop"],
      [2, "Laptop"],
    ]);
    const on1 = await sync(alice);
    expect(ofType(on1, "message")).toEqual([
      expect.objectContaining({ own: true, fromDevice: 2, deviceName: "Laptop", body: "typed on the laptop" }),
    ]);
    const row = shown(alice, chat).find((m) => m.body === "typed on the laptop")!;
    expect(messageLine(row, false, undefined, otherDeviceOf(alice.acct, row))).toContain(
      "(sent from Laptop (device 2))",
    );
    expect(otherDeviceOf(alice2.acct, shown(alice2, chat)[0] ?? row)).toBeNull();

    // alice/1 hands bob bob's own list as if it were alice's: refused (another account), nothing changes.
    const bobsList = await withRelay(alice.acct, async (r) => {
      await refreshDeviceList(alice.acct, r, "bob");
      return alice.acct.store.deviceLists.get("bob")!.encoded;
    });
    await withRelay(alice.acct, (r) =>
      fanoutSend(alice.acct, r, chat, "bob", { v: 1, k: "device_list", list: bobsList, names: [{ id: 1, name: "X" }] }),
    );
    const events = await sync(bob);
    expect(ofType(events, "device_list").map((e) => [e.user, e.outcome])).toEqual([["alice", "refused"]]);
    expect(bob.acct.store.deviceLists.get("alice")!.list.version).toBe(2);
    expect(bob.acct.store.deviceLists.devices("alice").map((d) => d.name)).toEqual(["Desktop", "Laptop"]);
  });

  test("a sender that used an older version of our list is reported once, after the commit", async () => {
    const { alice, bob, chat } = await world();
    await withRelay(bob.acct, async (r) => {
      for (const seq of [1, 2])
        await fanoutSend(bob.acct, r, chat, "alice", text(chat, seq, `stale ${seq}`), {
          header: { recipientListVersion: 1 },
        });
    });
    const { relay } = await connectAccount(alice.acct);
    const stale: [number, StaleSender, number][] = [];
    try {
      const receiver = new Receiver(alice.acct, relay, {
        onStaleSender: (c, s) => stale.push([c, s, alice.acct.store.messages.count(chat)]),
      });
      await receiver.syncAll();
      receiver.detach();
    } finally {
      relay.close();
    }
    expect(stale).toEqual([[chat, { chat, user: "bob", device: 1 }, 2]]);
    expect(shown(alice, chat).map((m) => m.body)).toEqual(["stale 1", "stale 2"]);
  });
});

describe("sequence numbers per sending device", () => {
  test("gaps and reused numbers are told per device, for a contact's devices and for our own", async () => {
    const { alice, alice2, bob, chat } = await world();
    await withRelay(alice.acct, async (r) => {
      for (const seq of [1, 2]) await fanoutSend(alice.acct, r, chat, "bob", text(chat, seq, `a1 #${seq}`));
    });
    await withRelay(alice2.acct, async (r) => {
      for (const seq of [1, 3, 1]) await fanoutSend(alice2.acct, r, chat, "bob", text(chat, seq, `a2 #${seq}`));
    });
    const expected = [
      ["a1 #1", 1, "ok"],
      ["a1 #2", 1, "ok"],
      ["a2 #1", 2, "ok"],
      ["a2 #3", 2, "gap"],
      ["a2 #1", 2, "duplicate"],
    ];
    const onBob = await sync(bob);
    expect(ofType(onBob, "message").map((e) => [e.body, e.fromDevice, e.seqStatus])).toEqual(expected);
    expect(ofType(onBob, "gap").map((e) => [e.from, e.missingFrom, e.missingTo])).toEqual([["alice", 2, 2]]);
    // alice/1 sees alice/2's copies as her own, counted for device 2 only.
    const on1 = await sync(alice);
    expect(ofType(on1, "message").map((e) => [e.body, e.fromDevice, e.seqStatus, e.own])).toEqual(
      expected.slice(2).map((x) => [...x, true]),
    );
    const on2 = await sync(alice2);
    expect(ofType(on2, "message").map((e) => [e.body, e.fromDevice, e.seqStatus, e.own])).toEqual(
      expected.slice(0, 2).map((x) => [...x, true]),
    );
  });
});

describe("our own numbering next to our other devices' (SECURITY.md §17.5)", () => {
  test("alice/2's first text after alice/1's two is its own number 1, stored as device 2's: bob sees no gap", async () => {
    const { alice, alice2, bob, chat } = await world();
    for (const body of ["one", "two"]) {
      const o = await alice.online();
      try {
        await sendText(
          alice.acct,
          o.relay,
          alice.acct.store.chats.get(chat) ?? (await openDirectChat(alice.acct, o.relay, "bob")).chat,
          body,
        );
      } finally {
        o.close();
      }
    }
    const o2 = await alice2.online();
    let sent;
    try {
      sent = await sendText(alice2.acct, o2.relay, alice2.acct.store.chats.get(chat)!, "three");
    } finally {
      o2.close();
    }
    expect(alice2.acct.store.messages.get(sent.queued.messageId)).toMatchObject({ senderSeq: 1, senderDevice: 2 });
    const events = await sync(bob);
    expect(ofType(events, "gap")).toEqual([]);
    expect(ofType(events, "message").map((e) => [e.body, e.fromDevice, e.seq, e.seqStatus])).toEqual([
      ["one", 1, 1, "ok"],
      ["two", 1, 2, "ok"],
      ["three", 2, 1, "ok"],
    ]);
  });
});
