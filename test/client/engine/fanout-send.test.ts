/**
 * The sending side of 1:1 fan-out (SECURITY.md §17.5, §17.7, §17.8) against an in-process
 * relay: alice on two (then three) devices and bob. What the relay stored per device is read
 * from its database and decrypted with the receiving devices' own sessions (the receiving
 * engine is tested on its own). Connections are opened without a receiver (connectAccount),
 * so no copy is consumed behind the test's back.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import { announceDeviceList } from "../../../client/engine/device-announce.js";
import { UnlistedDeviceError } from "../../../client/engine/errors.js";
import { MAX_STALE_RETRIES } from "../../../client/engine/fanout-send.js";
import { connectAccount } from "../../../client/engine/open-account.js";
import { flushOutbox, queueText } from "../../../client/engine/outbox.js";
import { syncOwnDeviceList } from "../../../client/engine/own-list-online.js";
import { sendText } from "../../../client/engine/send.js";
import { decryptFromPeer, encryptForPeer } from "../../../client/engine/sessions.js";
import { decodeAppMessage } from "../../../client/protocol/app-message.js";
import { splitPairwisePlaintext } from "../../../client/protocol/fanout.js";
import type { RelayClient } from "../../../client/relay-client.js";
import { CryptoVerificationError, RemoteError } from "../../../src/errors.js";
import { utf8 } from "../../../crypto/bytes.js";
import { encodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../../crypto/prekeys.js";
import { systemRng } from "../../../src/system-rng.js";
import { derivedIdem } from "../../../src/wire/index.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type StoredCopy, type TestDevice, addDevice, storedCopies } from "./device-helpers.js";
import { type EngineUser, accountId, emptyRelay, engineUser } from "./helpers.js";
import type { Account } from "../../../client/engine/open-account.js";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;
const opened: { close(): void }[] = [];

beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});
beforeEach(async () => {
  for (const o of opened.splice(0)) o.close();
  alice?.close();
  bob?.close();
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
});

/** A logged-in connection of `acct` without a receiver, our own list in step with the relay's (as goOnline does). */
async function connect(acct: Account): Promise<RelayClient> {
  const { relay } = await connectAccount(acct);
  opened.push(relay);
  await syncOwnDeviceList(acct, relay);
  return relay;
}

/** alice's device 2 (alice's list published first over a connection of alice/1). */
async function aliceDevice(relay: RelayClient): Promise<TestDevice> {
  const d = await addDevice(tr, alice.acct, relay);
  opened.push(d);
  return d;
}

/** Decrypts `copy` on `receiver`'s session with `sender`'s device `senderDevice`: the header and the app message. */
function open(receiver: Account, sender: string, senderDevice: number, copy: StoredCopy) {
  const dec = decryptFromPeer(receiver, sender, copy.envelope, senderDevice);
  const p = splitPairwisePlaintext(dec.plaintext);
  return { header: p.header, bare: p.header === null, app: decodeAppMessage(p.app) };
}

/** Records the type of every request `relay` makes and the code of every refusal. */
function spy(relay: RelayClient): { requests: string[]; refusals: string[] } {
  const log = { requests: [] as string[], refusals: [] as string[] };
  const request = relay.request.bind(relay);
  relay.request = ((msg: { t: string }) => {
    log.requests.push(msg.t);
    return request(msg as never).catch((e: unknown) => {
      if (e instanceof RemoteError) log.refusals.push(e.code);
      throw e;
    });
  }) as typeof relay.request;
  return log;
}

describe("1:1 fan-out, sending", () => {
  test("bob's text reaches alice/1 and alice/2; alice/1's reaches bob and alice/2, each with the header", async () => {
    const a = await connect(alice.acct);
    await sendText(alice.acct, a, (await openDirectChat(alice.acct, a, "bob")).chat, "before device 2");
    const alice2 = await aliceDevice(a);
    const b = await connect(bob.acct);
    const { chat } = await openDirectChat(bob.acct, b, "alice");
    const r = await sendText(bob.acct, b, chat, "to every device of alice");

    const copies = await storedCopies(tr, r.sent.relayMsg);
    expect(copies.map((c) => [c.to, c.device])).toEqual([
      ["alice", 1],
      ["alice", 2],
    ]);
    const header = {
      senderDevice: 1,
      recipient: "alice",
      recipientListVersion: 2,
      recipientDevices: [1, 2],
      senderListVersion: 1,
      ownDevices: [],
    };
    for (const [acct, copy] of [
      [alice.acct, copies[0]!],
      [alice2.acct, copies[1]!],
    ] as const) {
      const got = open(acct, "bob", 1, copy);
      expect(got.header).toEqual(header);
      expect(got.app).toMatchObject({ k: "text", chat: chat.id, body: "to every device of alice" });
    }
    // One message, one id: the relay stored one row for the chat, however many copies.
    expect(r.sent.duplicate).toBe(false);

    // alice/1 answers: bob's device and alice's other device.
    const reply = await sendText(alice.acct, a, alice.acct.store.chats.get(chat.id)!, "from alice/1");
    const back = await storedCopies(tr, reply.sent.relayMsg);
    expect(back.map((c) => [c.to, c.device])).toEqual([
      ["alice", 2],
      ["bob", 1],
    ]);
    const toBob = open(bob.acct, "alice", 1, back[1]!);
    expect(toBob.header).toEqual({
      senderDevice: 1,
      recipient: "bob",
      recipientListVersion: 1,
      recipientDevices: [1],
      senderListVersion: 2,
      ownDevices: [2],
    });
    expect(toBob.app).toMatchObject({ k: "text", body: "from alice/1", seq: 2 });
    const toSelf = open(alice2.acct, "alice", 1, back[0]!);
    expect(toSelf.header).toEqual(toBob.header);
    expect(toSelf.app).toEqual(toBob.app);
  });

  test("a bundle for device 2 that is not the listed identity is refused, and nothing is stored", async () => {
    const a = await connect(alice.acct);
    const alice2 = await aliceDevice(a);
    // The relay swaps alice/2's identity and prekeys for its own (a validly self-signed bundle).
    const forged = generateIdentity(systemRng);
    const id = await accountId(tr, "alice");
    await tr.db.transaction(async (tx) => {
      await tx.query("UPDATE devices SET identity = $1 WHERE account_id = $2 AND device_id = $3", [
        encodeIdentityPublic(forged.publicKey),
        id,
        alice2.deviceId,
      ]);
      await tx.query("DELETE FROM one_time_prekeys WHERE account_id = $1 AND device_id = $2", [id, alice2.deviceId]);
      const spk = generateSignedPrekey(systemRng, forged, 77);
      await tx.query(
        "INSERT INTO signed_prekeys (account_id, device_id, key_id, public_key, signature) VALUES ($1, $2, $3, $4, $5)",
        [id, alice2.deviceId, spk.id, spk.keyPair.publicKey, spk.signature],
      );
      for (const k of generateOneTimePrekeys(systemRng, 900, 2))
        await tx.query(
          "INSERT INTO one_time_prekeys (account_id, device_id, key_id, public_key) VALUES ($1, $2, $3, $4)",
          [id, alice2.deviceId, k.id, k.keyPair.publicKey],
        );
    });
    const b = await connect(bob.acct);
    const { chat } = await openDirectChat(bob.acct, b, "alice");
    await expect(sendText(bob.acct, b, chat, "never stored")).rejects.toBeInstanceOf(CryptoVerificationError);
    expect(bob.acct.store.messages.count(chat.id)).toBe(0);
    expect(bob.acct.store.outbox.count()).toBe(0);
    expect(bob.acct.store.sessions.current("alice", alice2.deviceId)).toBeUndefined();
  });

  test("encrypting to a device the accepted list does not hold is refused, and a text naming one is not stored", async () => {
    const a = await connect(alice.acct);
    const b = await connect(bob.acct);
    const { chat } = await openDirectChat(bob.acct, b, "alice");
    await sendText(bob.acct, b, chat, "first");
    expect(() => encryptForPeer(bob.acct, "alice", utf8("x"), 2)).toThrow(UnlistedDeviceError);
    const before = bob.acct.store.messages.count(chat.id);
    const own = { version: 1, devices: [1] };
    expect(() =>
      queueText(bob.acct, chat, "to a device nobody listed", {
        mode: "copies",
        myDevice: 1,
        own,
        peer: { version: 1, devices: [1, 2] },
      }),
    ).toThrow(UnlistedDeviceError);
    expect(bob.acct.store.messages.count(chat.id)).toBe(before);
    expect(bob.acct.store.outbox.count()).toBe(0);
    a.close();
  });

  test("DEVICE_LIST_STALE: alice adds device 3 behind bob's back; the retry reaches three devices, one message", async () => {
    const a = await connect(alice.acct);
    await aliceDevice(a);
    const b = await connect(bob.acct);
    const { chat } = await openDirectChat(bob.acct, b, "alice");
    await sendText(bob.acct, b, chat, "to two devices");
    expect(bob.acct.store.deviceLists.get("alice")!.list.version).toBe(2);

    const alice3 = await aliceDevice(a);
    expect(alice3.deviceId).toBe(3);
    const log = spy(b);
    const r = await sendText(bob.acct, b, chat, "to three devices");
    expect(log.requests.filter((t) => t === "send_copies")).toHaveLength(2);
    expect(log.refusals).toEqual(["DEVICE_LIST_STALE"]);
    expect(bob.acct.store.deviceLists.get("alice")!.list.version).toBe(3);
    expect(r.events).toEqual([
      expect.objectContaining({ type: "device_list", user: "alice", outcome: "added", devices: [3] }),
    ]);

    const copies = await storedCopies(tr, r.sent.relayMsg);
    expect(copies.map((c) => [c.to, c.device])).toEqual([
      ["alice", 1],
      ["alice", 2],
      ["alice", 3],
    ]);
    const got = open(alice3.acct, "bob", 1, copies[2]!);
    expect(got.header).toMatchObject({ recipientListVersion: 3, recipientDevices: [1, 2, 3] });
    // The same application message as queued (seq 2), stored once by the relay.
    expect(got.app).toMatchObject({ k: "text", seq: 2, body: "to three devices" });
    const rows = await tr.db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages WHERE chat_id = $1", [
      chat.id,
    ]);
    expect(rows[0]!.n).toBe(2);
    expect(bob.acct.store.messages.get(r.queued.messageId)).toMatchObject({
      status: "sent",
      relayMsgId: r.sent.relayMsg,
    });
  });

  test("a relay that keeps answering DEVICE_LIST_STALE: bounded retries, then one clear failure", async () => {
    await connect(alice.acct);
    const b = await connect(bob.acct);
    const { chat } = await openDirectChat(bob.acct, b, "alice");
    await sendText(bob.acct, b, chat, "first");
    const request = b.request.bind(b);
    let copiesSent = 0;
    b.request = ((msg: { t: string }) => {
      if (msg.t !== "send_copies") return request(msg as never);
      copiesSent++;
      return Promise.reject(new RemoteError("DEVICE_LIST_STALE", "the copies do not match the current device lists"));
    }) as typeof b.request;
    const err = await sendText(bob.acct, b, chat, "never settles").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DEVICE_LIST_STALE" });
    expect((err as Error).message).toMatch(/device lists changed meanwhile/);
    expect(copiesSent).toBe(MAX_STALE_RETRIES + 1);
    expect(bob.acct.store.outbox.count()).toBe(0);
    const last = bob.acct.store.messages.history(chat.id).messages.at(-1)!;
    expect(last).toMatchObject({ body: "never settles", status: "failed" });
  });

  test("a peer without a device list (a client before §17) gets one bare copy; our other device gets the header", async () => {
    // carol joined and never went online with a §17 client: the relay holds no list of hers.
    const carol = await engineUser(tr, "carol");
    opened.push(carol);
    const a = await connect(alice.acct);
    const alice2 = await aliceDevice(a);
    const { chat } = await openDirectChat(alice.acct, a, "carol");
    const r = await sendText(alice.acct, a, chat, "hello carol");
    const copies = await storedCopies(tr, r.sent.relayMsg);
    expect(copies.map((c) => [c.to, c.device])).toEqual([
      ["alice", 2],
      ["carol", 1],
    ]);
    const atCarol = open(carol.acct, "alice", 1, copies[1]!);
    expect(atCarol.bare).toBe(true);
    expect(atCarol.app).toMatchObject({ k: "text", body: "hello carol" });
    const atAlice2 = open(alice2.acct, "alice", 1, copies[0]!);
    expect(atAlice2.header).toEqual({
      senderDevice: 1,
      recipient: "carol",
      recipientListVersion: 0,
      recipientDevices: [],
      senderListVersion: 2,
      ownDevices: [2],
    });
  });

  test("announceDeviceList: the device_list message goes pairwise to the contact's devices and our other ones", async () => {
    const a = await connect(alice.acct);
    const b = await connect(bob.acct);
    const { chat } = await openDirectChat(bob.acct, b, "alice");
    await sendText(bob.acct, b, chat, "hi");
    await openDirectChat(alice.acct, a, "bob");
    const alice2 = await aliceDevice(a);
    alice.acct.store.deviceLists.setName("alice", alice2.deviceId, "Laptop");
    const done = await announceDeviceList(alice.acct, a);
    expect(done.chats).toEqual([chat.id]);
    expect(done.failed).toEqual([]);
    const copies = await storedCopies(tr, done.sent[0]!.relayMsg);
    expect(copies.map((c) => [c.to, c.device])).toEqual([
      ["alice", 2],
      ["bob", 1],
    ]);
    const atBob = open(bob.acct, "alice", 1, copies[1]!);
    expect(atBob.app).toEqual({
      v: 1,
      k: "device_list",
      list: alice.acct.store.deviceLists.get("alice")!.encoded,
      names: [{ id: 2, name: "Laptop" }],
    });
    expect(atBob.header).toMatchObject({ recipient: "bob", senderListVersion: 2, ownDevices: [2] });
  });

  test("a relay before §17 (UNKNOWN_TYPE): one bare `send`, and a text queued as copies goes as one under its derived idem", async () => {
    // Neither alice nor bob has a list on the relay yet, so its `send` still takes a direct chat;
    // the requests of §17.8 are answered as a relay before §17 answers them.
    const a = (await connectAccount(alice.acct)).relay;
    opened.push(a);
    const request = a.request.bind(a);
    const log: string[] = [];
    const DEVICE_REQUESTS = new Set([
      "fetch_device_list",
      "fetch_device_list_versions",
      "publish_device_list",
      "send_copies",
    ]);
    a.request = ((msg: { t: string }) => {
      log.push(msg.t);
      if (DEVICE_REQUESTS.has(msg.t)) return Promise.reject(new RemoteError("UNKNOWN_TYPE", "unknown message type"));
      return request(msg as never);
    }) as typeof a.request;
    const { chat } = await openDirectChat(alice.acct, a, "bob");
    const first = await sendText(alice.acct, a, chat, "as before §17");
    expect(log.filter((t) => t === "send_copies")).toEqual([]);
    expect(log.filter((t) => t === "send")).toHaveLength(1);
    const rows = await tr.db.query<{ envelope: Uint8Array }>("SELECT envelope FROM messages WHERE id = $1", [
      first.sent.relayMsg,
    ]);
    const bare = open(bob.acct, "alice", 1, { to: "bob", device: 1, envelope: new Uint8Array(rows[0]!.envelope) });
    expect(bare.bare).toBe(true);
    expect(bare.app).toMatchObject({ k: "text", body: "as before §17" });

    // Written without a connection: queued as copies (the relay's kind is not known then).
    const queued = queueText(alice.acct, chat, "written offline");
    expect(alice.acct.store.outbox.get(queued.idem)!.copies).toHaveLength(1);
    const other = (await connectAccount(alice.acct)).relay;
    opened.push(other);
    const otherRequest = other.request.bind(other);
    other.request = ((msg: { t: string }) => {
      if (DEVICE_REQUESTS.has(msg.t)) return Promise.reject(new RemoteError("UNKNOWN_TYPE", "unknown message type"));
      return otherRequest(msg as never);
    }) as typeof other.request;
    const flushed = await flushOutbox(alice.acct, other);
    expect(flushed.failed).toEqual([]);
    expect(flushed.sent).toEqual([expect.objectContaining({ messageId: queued.messageId, duplicate: false })]);
    expect(alice.acct.store.outbox.count()).toBe(0);
    const sent = await tr.db.query<{ idem: Uint8Array; envelope: Uint8Array }>(
      "SELECT idem, envelope FROM messages WHERE id = $1",
      [flushed.sent[0]!.relayMsg],
    );
    expect(new Uint8Array(sent[0]!.idem)).toEqual(derivedIdem(new Uint8Array(sent[0]!.envelope)));
    const second = open(bob.acct, "alice", 1, { to: "bob", device: 1, envelope: new Uint8Array(sent[0]!.envelope) });
    expect(second.bare).toBe(true);
    expect(second.app).toMatchObject({ k: "text", body: "written offline", seq: 2 });
  });
});
