/**
 * Per-device delivery through a real relay over loopback sockets (SECURITY.md §17.8): alice
 * with devices 1 and 2, bob (and carol) with device 1. send_copies stores one copy per device
 * and each device gets only its own, pushed and synced, with `from_device` when the sender is
 * not device 1 (the map form also on version 2); copies that do not match the lists are refused
 * whole with DEVICE_LIST_STALE and store nothing; a repeat is a duplicate; a group message
 * reaches every device but the sending one; each device acks its own cursor and a message is
 * deleted once every device acked it; a pair of one-device accounts still uses `send`.
 * Devices are listed and registered through the store (what publish_device_list and
 * register_device store), and log in with `login.device` as a client does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { type RelayClient, loginSignature } from "../../client/relay-client.js";
import { type IdentityKeyPair, encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { generateSignedPrekey } from "../../crypto/prekeys.js";
import { sha256 } from "../../crypto/primitives.js";
import { systemRng } from "../../src/system-rng.js";
import type { Db } from "../../relay/store/index.js";
import { RemoteError } from "../../src/errors.js";
import { type TestRelay, connectTo, idem, startRelay } from "./harness.js";
import { Inbox, type Msg, roundTrip } from "./inbox.js";
import { type Person, group, openDirect, person as join, send, syncPage, text } from "./people.js";
import { explainSkip, relayStorages } from "./storages.js";
import { countRows } from "./store/harness.js";

explainSkip("Device mailboxes");

const TABLES = ["messages", "message_copies", "device_cursors"] as const;
const utf8 = (s: string) => new TextEncoder().encode(s);

/** A second device of a person's account: its keys, credential, and a logged-in client. */
interface Device {
  readonly id: number;
  readonly identity: IdentityKeyPair;
  client: RelayClient;
  inbox: Inbox;
}

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`device mailboxes on ${storage.name}`, () => {
    let r: TestRelay | undefined;
    let db: Db;
    const clients: RelayClient[] = [];

    beforeAll(() => storage.open(), 120_000);
    afterAll(() => storage.close(), 120_000);
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      await r?.stop();
      r = undefined;
    }, 60_000);

    async function start(): Promise<TestRelay> {
      db = await storage.fresh();
      r = await startRelay({ db, limits: { heartbeatMs: 3_000_000_000, idleTimeoutMs: 6_000_000_000 } });
      return r;
    }

    async function person(name: string): Promise<Person> {
      const p = await join(r!, name);
      clients.push(p.client);
      return p;
    }

    /** Lists device 2 for `p` (device 1 kept), registers it and logs it in. */
    async function secondDevice(p: Person, opts: { protocolVersion?: number } = {}): Promise<Device> {
      const store = r!.relay.store;
      const account = (await store.accountByUsername(p.username))!;
      const identity = generateIdentity(systemRng);
      const stored = await store.storeDeviceList({
        accountId: account.id,
        version: 1,
        // The store keeps the list as given; publish_device_list verifies it before (§17.8).
        list: utf8(`list of ${p.username}`),
        devices: [
          { id: 1, identity: account.identity },
          { id: 2, identity: encodeIdentityPublic(identity.publicKey) },
        ],
        by: { device: 1 },
        now: new Date(),
      });
      expect(stored.ok).toBe(true);
      const credential = systemRng(32);
      const spk = generateSignedPrekey(systemRng, identity, 1);
      const registered = await store.registerDevice({
        accountId: account.id,
        deviceId: 2,
        identity: encodeIdentityPublic(identity.publicKey),
        credentialHash: sha256(credential),
        signedPrekey: { keyId: spk.id, publicKey: spk.keyPair.publicKey, signature: spk.signature },
        oneTimePrekeys: [],
        now: new Date(),
      });
      expect(registered.ok).toBe(true);
      const client = await connectTo(r!, opts);
      clients.push(client);
      const inbox = new Inbox(client);
      await client.request<"login">({
        t: "login",
        username: p.username,
        credential,
        signature: loginSignature(identity, client.handshakeHash),
        device: 2,
      });
      return { id: 2, identity, client, inbox };
    }

    const counts = async () =>
      Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, await countRows(db, t)])));

    function sendCopies(
      client: RelayClient,
      chat: number,
      copies: { to: string; device: number; body: string }[],
      id = idem(),
    ) {
      return client.request<"send_copies">({
        t: "send_copies",
        chat,
        idem: id,
        copies: copies.map((c) => ({ to: c.to, device: c.device, envelope: utf8(c.body) })),
      });
    }

    async function refused(p: Promise<unknown>): Promise<string> {
      const e = await p.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(RemoteError);
      return (e as RemoteError).code;
    }

    test("each device gets only its own copy, pushed and synced, with from_device", async () => {
      await start();
      const alice = await person("alice");
      const bob = await person("bob");
      const chat = await openDirect(alice, bob);
      const alice2 = await secondDevice(alice);
      const aliceInbox = alice.inbox;
      const bobInbox = bob.inbox;

      const sent = await sendCopies(alice.client, chat, [
        { to: "bob", device: 1, body: "for bob" },
        { to: "alice", device: 2, body: "for alice's laptop" },
      ]);
      expect(await counts()).toMatchObject({ messages: 1, message_copies: 2 });
      const atBob = await bobInbox.message(sent.msg);
      const atAlice2 = await alice2.inbox.message(sent.msg);
      expect([text(atBob), atBob.from, atBob.from_device]).toEqual(["for bob", "alice", undefined]);
      expect([text(atAlice2), atAlice2.from]).toEqual(["for alice's laptop", "alice"]);
      // The sending device gets nothing: a later message to it arrives, the copy did not before it.
      const back = await send(bob, chat, "ping").catch((e: unknown) => e);
      expect(back).toBeInstanceOf(RemoteError); // bob has no list, alice has: bob must use copies
      const reply = await sendCopies(bob.client, chat, [
        { to: "alice", device: 1, body: "to alice 1" },
        { to: "alice", device: 2, body: "to alice 2" },
      ]);
      await aliceInbox.message(reply.msg);
      expect(aliceInbox.ids).toEqual([reply.msg]);
      expect(text((await alice2.inbox.message(reply.msg)) as Msg)).toBe("to alice 2");

      // Sync per device: each its own copies, after its own cursor.
      expect((await syncPage(bob.client)).msgs.map(text)).toEqual(["for bob"]);
      expect((await syncPage(alice2.client)).msgs.map(text)).toEqual(["for alice's laptop", "to alice 2"]);
      expect((await syncPage(alice.client)).msgs.map(text)).toEqual(["to alice 1"]);

      // From device 2: from_device 2, in the map form on bob's version-2 connection.
      expect(bob.client.protocolVersion).toBe(2);
      const fromLaptop = await sendCopies(alice2.client, chat, [
        { to: "bob", device: 1, body: "from the laptop" },
        { to: "alice", device: 1, body: "copy for the phone" },
      ]);
      const pushed = await bobInbox.message(fromLaptop.msg);
      expect([text(pushed), pushed.from_device]).toEqual(["from the laptop", 2]);
      expect((await aliceInbox.message(fromLaptop.msg)).from_device).toBe(2);
      const synced = (await syncPage(bob.client)).msgs.find((m) => m.msg === fromLaptop.msg);
      expect([synced?.from_device, synced?.reply]).toEqual([2, true]);
      await roundTrip(alice2.client);
      expect(alice2.inbox.ids).not.toContain(fromLaptop.msg);
    });

    test("held messages are per device: a stub for the logged-in device's own copy, after its own cursor", async () => {
      await start();
      const alice = await person("alice");
      const bob = await person("bob");
      const chat = await openDirect(alice, bob);
      const alice2 = await secondDevice(alice);
      const m = (
        await sendCopies(bob.client, chat, [
          { to: "alice", device: 1, body: "to alice 1" },
          { to: "alice", device: 2, body: "to alice 2" },
        ])
      ).msg;
      /** One sync of `client` with `have` [[chat, m]]: its reply's frames as "msg <text>" / "held <id>" (no pushes). */
      const syncHaving = async (client: RelayClient) => {
        const seen: string[] = [];
        const onMsg = (f: Msg) => (f.reply ? seen.push(`msg ${text(f)}`) : undefined);
        const onHeld = (f: { msg: number }) => seen.push(`held ${f.msg}`);
        client.on("msg", onMsg);
        client.on("held", onHeld);
        try {
          await client.request<"sync">({ t: "sync", have: [[chat, m]] });
        } finally {
          client.off("msg", onMsg);
          client.off("held", onHeld);
        }
        return seen;
      };
      // A stub for device 2's own copy; once it acked, naming it again gets nothing; device 1's cursor has not moved.
      expect(await syncHaving(alice2.client)).toEqual([`held ${m}`]);
      alice2.client.notify({ t: "ack", chat, upto: m });
      expect(await syncHaving(alice2.client)).toEqual([]);
      expect(await syncHaving(alice.client)).toEqual([`held ${m}`]);
      // bob sent it: his device is no recipient, whatever he names.
      expect(await syncHaving(bob.client)).toEqual([]);
    });

    test("copies that do not match the lists are refused whole (DEVICE_LIST_STALE) and store nothing", async () => {
      await start();
      const alice = await person("alice");
      const bob = await person("bob");
      await person("carol");
      const chat = await openDirect(alice, bob);
      await secondDevice(alice);
      const before = await counts();
      const cases: [string, { to: string; device: number; body: string }[]][] = [
        ["no copy for alice's device 2", [{ to: "bob", device: 1, body: "x" }]],
        ["no copy for bob", [{ to: "alice", device: 2, body: "x" }]],
        [
          "a copy for the sending device",
          [
            { to: "bob", device: 1, body: "x" },
            { to: "alice", device: 2, body: "x" },
            { to: "alice", device: 1, body: "x" },
          ],
        ],
        [
          "a device bob does not have",
          [
            { to: "bob", device: 1, body: "x" },
            { to: "bob", device: 7, body: "x" },
            { to: "alice", device: 2, body: "x" },
          ],
        ],
        [
          "an account not in the chat",
          [
            { to: "bob", device: 1, body: "x" },
            { to: "alice", device: 2, body: "x" },
            { to: "carol", device: 1, body: "x" },
          ],
        ],
        [
          "an account that does not exist",
          [
            { to: "bob", device: 1, body: "x" },
            { to: "alice", device: 2, body: "x" },
            { to: "nobody", device: 1, body: "x" },
          ],
        ],
      ];
      for (const [what, copies] of cases)
        expect(await refused(sendCopies(alice.client, chat, copies)), what).toBe("DEVICE_LIST_STALE");
      expect(await refused(send(alice, chat, "one envelope"))).toBe("DEVICE_LIST_STALE");
      expect(await counts()).toEqual(before);

      // Device 2 removed: a copy for it is stale, and its unread copy is deleted with it.
      const ok = await sendCopies(alice.client, chat, [
        { to: "bob", device: 1, body: "x" },
        { to: "alice", device: 2, body: "unread" },
      ]);
      const aliceId = (await r!.relay.store.accountByUsername("alice"))!;
      const removed = await r!.relay.store.storeDeviceList({
        accountId: aliceId.id,
        version: 2,
        list: utf8("alice without the laptop"),
        devices: [{ id: 1, identity: aliceId.identity }],
        by: { device: 1 },
        now: new Date(),
      });
      expect(removed).toEqual({ ok: true, added: [], removed: [2] });
      expect(await countRows(db, "message_copies")).toBe(1);
      expect(
        await refused(
          sendCopies(alice.client, chat, [
            { to: "bob", device: 1, body: "x" },
            { to: "alice", device: 2, body: "x" },
          ]),
        ),
      ).toBe("DEVICE_LIST_STALE");
      expect(ok.duplicate).toBe(false);
    });

    test("a repeated send_copies is a duplicate of the first", async () => {
      await start();
      const alice = await person("alice");
      const bob = await person("bob");
      const chat = await openDirect(alice, bob);
      const alice2 = await secondDevice(alice);
      const id = idem();
      const copies = [
        { to: "bob", device: 1, body: "once" },
        { to: "alice", device: 2, body: "once" },
      ];
      const first = await sendCopies(alice.client, chat, copies, id);
      const again = await sendCopies(alice.client, chat, copies, id);
      expect(again).toMatchObject({ msg: first.msg, ts: first.ts, duplicate: true });
      expect(await counts()).toMatchObject({ messages: 1, message_copies: 2 });
      // The same idem from another device of the account is another send, not a retry.
      const other = await sendCopies(
        alice2.client,
        chat,
        [
          { to: "bob", device: 1, body: "once" },
          { to: "alice", device: 1, body: "once" },
        ],
        id,
      ).catch((e: unknown) => e);
      expect((other as RemoteError).code).toBe("IDEMPOTENCY_CONFLICT");
      expect(await counts()).toMatchObject({ messages: 1, message_copies: 2 });
    });

    test("a group message reaches every device but the sender's; acks are per device; retention waits for all", async () => {
      await start();
      const alice = await person("alice");
      const bob = await person("bob");
      const carol = await person("carol");
      const chat = await group(alice, [bob, carol]);
      const alice2 = await secondDevice(alice);
      const inboxes = { alice: alice.inbox, bob: bob.inbox, carol: carol.inbox };
      const m = await send(alice2.client, chat, "to the group");
      for (const i of Object.values(inboxes)) expect((await i.message(m.msg)).from_device).toBe(2);
      const directed = await send(alice2.client, chat, "for carol's device 1", { to: "carol" });
      await inboxes.carol.message(directed.msg);
      await roundTrip(alice2.client);
      await roundTrip(bob.client);
      expect(alice2.inbox.ids).toEqual([]);
      expect(inboxes.bob.ids).toEqual([m.msg]);

      // Each device's cursor: bob and carol ack, alice's device 1 acks; device 2 sent it.
      for (const c of [bob.client, carol.client, alice.client]) {
        const page = await syncPage(c);
        expect(page.ids).toContain(m.msg);
        c.notify({ t: "ack", chat, upto: Math.max(...page.ids) });
        await roundTrip(c);
      }
      expect(await r!.relay.sweep()).toEqual({ delivered: 2, expired: 0 });
      expect(await countRows(db, "messages")).toBe(0);

      // A message from device 1 waits for device 2 as well.
      const next = await send(alice, chat, "from the phone");
      for (const c of [bob.client, carol.client]) {
        c.notify({ t: "ack", chat, upto: next.msg });
        await roundTrip(c);
      }
      expect(await r!.relay.sweep()).toEqual({ delivered: 0, expired: 0 });
      expect((await syncPage(alice2.client)).ids).toEqual([next.msg]);
      alice2.client.notify({ t: "ack", chat, upto: next.msg });
      await roundTrip(alice2.client);
      expect(await countRows(db, "device_cursors")).toBe(1);
      expect((await syncPage(alice2.client)).ids).toEqual([]);
      expect(await r!.relay.sweep()).toEqual({ delivered: 1, expired: 0 });
    });

    test("two one-device accounts still talk with send, pushed and synced as before", async () => {
      await start();
      const alice = await person("alice");
      const bob = await person("bob");
      const chat = await openDirect(alice, bob);
      const m = await send(alice, chat, "hello");
      expect((await bob.inbox.message(m.msg)).from_device).toBeUndefined();
      expect((await syncPage(bob.client)).msgs.map(text)).toEqual(["hello"]);
      expect(await syncPage(alice.client)).toMatchObject({ ids: [] });
    });
  });
}
