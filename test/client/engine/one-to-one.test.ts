/**
 * 1:1 chat through the engine against an in-process relay: first contact while the peer is
 * offline (X3DH), the reply, exactly-once storage, cursors that move only through sync,
 * undecryptable and replayed envelopes, gaps in the sender's sequence numbers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import { ChatClosedError } from "../../../client/engine/errors.js";
import { storeIncoming } from "../../../client/engine/inbox.js";
import { flushOutbox, queueText } from "../../../client/engine/outbox.js";
import { sendText } from "../../../client/engine/send.js";
import { setChatClosed } from "../../../client/engine/chats.js";
import { decodeSessionState } from "../../../crypto/session-codec.js";
import { RelayClient } from "../../../client/relay-client.js";
import { derivedIdem } from "../../../src/wire/index.js";
import type { RelayMessageOf } from "../../../src/wire/messages.js";
import { systemRng } from "../../../src/system-rng.js";
import { type TestRelay, idem, startRelay } from "../../relay/harness.js";
import { waitFor, waitForValue } from "../../helpers/wait-for.js";
import { type EngineUser, emptyRelay, engineUser, relayCursor } from "./helpers.js";
import { sendRawCopy, sendRow } from "./outbox-helpers.js";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;

beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});
beforeEach(async () => {
  alice?.close();
  bob?.close();
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice", { displayName: "Alice A." });
  bob = await engineUser(tr, "bob");
});

/** The relay's delivery cursor of `user` in `chat`. */
/** Bodies of a chat's shown history (control rows left out), oldest first. */
function bodies(u: EngineUser, chat: number): (string | null)[] {
  return u.acct.store.messages
    .history(chat, { limit: 1000 })
    .messages.filter((m) => m.body !== null || m.status === "undecryptable")
    .map((m) => m.body);
}

describe("1:1 chat through the engine", () => {
  test("first message to an offline peer, its reply, and the sessions on both sides", async () => {
    const a = await alice.online();
    const { chat, pinnedNow } = await openDirectChat(alice.acct, a.relay, "bob");
    expect(pinnedNow).toBe(true);
    const sent = await sendText(alice.acct, a.relay, chat, "hello bob");
    expect(sent.sent.duplicate).toBe(false);
    expect(alice.acct.store.messages.get(sent.queued.messageId)).toMatchObject({
      status: "sent",
      relayMsgId: sent.sent.relayMsg,
      senderSeq: 1,
    });
    expect(alice.acct.store.outbox.count()).toBe(0);
    expect(decodeSessionState(alice.acct.store.sessions.current("bob")!.state).pendingPreKey).not.toBeNull();

    // Bob was offline: he learns the chat, the message and alice's display name on his first sync.
    const b = await bob.online();
    expect(bodies(bob, chat.id)).toEqual(["hello bob"]);
    // Both keep alice's clock at writing (inside the encryption) beside the relay's time.
    const writtenAt = alice.acct.store.messages.get(sent.queued.messageId)!.senderTs!;
    expect(writtenAt).toBeGreaterThan(0);
    const received = bob.acct.store.messages.getByRelayId(chat.id, sent.sent.relayMsg)!;
    expect(received).toMatchObject({ senderTs: writtenAt, sentAt: sent.sent.ts });
    expect(bob.events.filter((e) => e.type === "message")).toEqual([
      expect.objectContaining({
        type: "message",
        chat: chat.id,
        from: "alice",
        body: "hello bob",
        seq: 1,
        seqStatus: "ok",
        keyChanged: false,
        senderTs: writtenAt,
      }),
    ]);
    expect(bob.acct.store.contacts.get("alice")).toMatchObject({ displayName: "Alice A.", keyChanged: false });
    expect(bob.acct.store.chats.get(chat.id)).toMatchObject({ kind: "direct", peer: "alice" });
    // Acked through sync: the relay's cursor and ours are at the last message.
    await waitForValue(() => relayCursor(tr, "bob", chat.id), sent.sent.relayMsg, {
      what: "bob's cursor on the relay",
    });
    expect(bob.acct.store.cursors.get(chat.id)).toBe(sent.sent.relayMsg);
    // The one-time prekey alice used is gone from bob's store.
    expect(bob.acct.store.prekeys.countOneTime()).toBe(99);

    const reply = await sendText(bob.acct, b.relay, bob.acct.store.chats.get(chat.id)!, "hi alice");
    await waitFor(() => bodies(alice, chat.id).length === 2, { what: "bob's reply in alice's store" });
    expect(bodies(alice, chat.id)).toEqual(["hello bob", "hi alice"]);
    // Once alice has heard back she sends plain MESSAGE envelopes.
    expect(decodeSessionState(alice.acct.store.sessions.current("bob")!.state).pendingPreKey).toBeNull();
    await sendText(alice.acct, a.relay, chat, "third");
    await waitFor(() => bodies(bob, chat.id).length === 3, { what: "alice's third message in bob's store" });
    expect(bodies(bob, chat.id)).toEqual(["hello bob", "hi alice", "third"]);
    expect(reply.queued.seq).toBe(1);
    a.close();
    b.close();
  });

  test("a pushed message is stored at once but acked only by a sync; processing it twice stores it once", async () => {
    const a = await alice.online();
    const b = await bob.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    const pushed: RelayMessageOf<"msg">[] = [];
    b.relay.on("msg", (m) => pushed.push(m));
    const sent = await sendText(alice.acct, a.relay, chat, "pushed");
    await waitFor(() => bodies(bob, chat.id).length === 1, { what: "the pushed message in bob's store" });
    // Barrier: every frame bob received is processed (an ack for the push would have been sent
    // while processing it), then a request on bob's connection is answered: the relay handles a
    // connection's frames in order, so an ack sent before it has been applied by then.
    await b.receiver.drain();
    expect(await b.relay.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({
      t: "user",
      username: "alice",
    });
    expect(await relayCursor(tr, "bob", chat.id)).toBe(0);
    expect(bob.acct.store.cursors.get(chat.id)).toBe(0);

    // The same frame again (a retry, a second relay): nothing new, no decryption attempt.
    const frame = pushed.find((m) => m.msg === sent.sent.relayMsg)!;
    expect(storeIncoming(bob.acct, frame)).toEqual({ stored: false, events: [] });

    await b.receiver.syncAll();
    await waitForValue(() => relayCursor(tr, "bob", chat.id), sent.sent.relayMsg, {
      what: "bob's cursor after the sync",
    });
    expect(bodies(bob, chat.id)).toEqual(["pushed"]);
    expect(bob.events.filter((e) => e.type === "message")).toHaveLength(1);
    a.close();
    b.close();
  });

  test("garbage and a replayed first message are stored as undecryptable, acked, and break nothing", async () => {
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    const first = await sendText(alice.acct, a.relay, chat, "one");
    // A malicious relay replays the first message (it copies the row: since wire protocol 2 the
    // relay itself takes a resent envelope for a retry, SECURITY.md §14.9) and alice's account,
    // captured, sends garbage.
    // Since §17 the envelopes of a direct chat are per-device copies (message_copies).
    const [replay] = await tr.db.query<{ id: string }>(
      `INSERT INTO messages (chat_id, sender_id, recipient_id, idem, envelope)
       SELECT chat_id, sender_id, recipient_id, $2, envelope FROM messages WHERE id = $1 RETURNING id`,
      [first.sent.relayMsg, idem()],
    );
    await tr.db.query(
      `INSERT INTO message_copies (account_id, chat_id, device_id, message_id, envelope)
       SELECT account_id, chat_id, device_id, $2, envelope FROM message_copies WHERE message_id = $1`,
      [first.sent.relayMsg, replay!.id],
    );
    await sendRawCopy(a.relay, chat.id, "bob", systemRng(200), idem());
    await sendText(alice.acct, a.relay, chat, "two");

    const b = await bob.online();
    expect(bodies(bob, chat.id)).toEqual(["one", null, null, "two"]);
    const statuses = bob.acct.store.messages
      .history(chat.id)
      .messages.filter((m) => m.body !== null || m.status === "undecryptable");
    expect(statuses.map((m) => m.status)).toEqual(["delivered", "undecryptable", "undecryptable", "delivered"]);
    expect(bob.events.filter((e) => e.type === "undecryptable")).toHaveLength(2);
    expect(bob.events.filter((e) => e.type === "gap")).toHaveLength(0);
    const last = (await tr.db.query<{ m: number }>("SELECT max(id)::int AS m FROM messages"))[0]!.m;
    await waitForValue(() => relayCursor(tr, "bob", chat.id), last, { what: "bob's cursor at the last message" });
    a.close();
    b.close();
  });

  test("a message the relay drops shows as a gap in the sender's sequence numbers", async () => {
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    await sendText(alice.acct, a.relay, chat, "1");
    // "2" is encrypted and queued, but never reaches the relay (as if the relay dropped it).
    const dropped = queueText(alice.acct, chat, "2");
    alice.acct.store.outbox.remove(dropped.idem);
    await sendText(alice.acct, a.relay, chat, "3");

    const b = await bob.online();
    expect(bodies(bob, chat.id)).toEqual(["1", "3"]);
    expect(bob.events.filter((e) => e.type === "gap")).toEqual([
      { type: "gap", chat: chat.id, from: "alice", missingFrom: 2, missingTo: 2 },
    ]);
    expect(bob.events.find((e) => e.type === "message" && e.body === "3")).toMatchObject({ seq: 3, seqStatus: "gap" });
    a.close();
    b.close();
  });

  test("retries use the same idempotency id: a lost acknowledgement never duplicates a message", async () => {
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    await sendText(alice.acct, a.relay, chat, "before");
    const q = queueText(alice.acct, chat, "once");
    const row = alice.acct.store.outbox.get(q.idem)!;
    // The relay stores it, but the answer is lost (the connection dies before `sent`).
    const raw = await RelayClient.connect({
      host: "127.0.0.1",
      port: tr.port,
      relayKey: tr.keyPair.publicKey,
      rng: systemRng,
    });
    await raw.login("alice", alice.acct.credential, alice.acct.identity);
    await sendRow(raw, row);
    raw.close();
    expect(alice.acct.store.outbox.count()).toBe(1);

    // The next flush sends it again with the same idem: the relay answers with the first copy.
    const flushed = await flushOutbox(alice.acct, a.relay);
    expect(flushed.sent).toEqual([expect.objectContaining({ messageId: q.messageId, duplicate: true })]);
    expect(alice.acct.store.messages.get(q.messageId)!.status).toBe("sent");

    const b = await bob.online();
    expect(bodies(bob, chat.id)).toEqual(["before", "once"]);
    a.close();
    b.close();
  });

  test("a send over protocol version 1 retried over version 2 is one message (the derived idem, SECURITY.md §14.9)", async () => {
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    await sendText(alice.acct, a.relay, chat, "before");
    const q = queueText(alice.acct, chat, "once over both");
    const row = alice.acct.store.outbox.get(q.idem)!;
    expect(row.idem).toEqual(derivedIdem(row.envelope ?? row.copies[0]!.envelope));
    // Stored over a version-1 connection, which sends the idem; the answer is lost.
    const v1 = await RelayClient.connect({
      host: "127.0.0.1",
      port: tr.port,
      relayKey: tr.keyPair.publicKey,
      rng: systemRng,
      protocolVersion: 1,
    });
    expect(v1.protocolVersion).toBe(1);
    await v1.login("alice", alice.acct.credential, alice.acct.identity);
    await sendRow(v1, row);
    v1.close();

    // The retry over version 2, where the relay derives the idem from the envelope: the same send.
    expect(a.relay.protocolVersion).toBe(2);
    const flushed = await flushOutbox(alice.acct, a.relay);
    expect(flushed.sent).toEqual([expect.objectContaining({ messageId: q.messageId, duplicate: true })]);

    const b = await bob.online();
    expect(bodies(bob, chat.id)).toEqual(["before", "once over both"]);
    expect(bob.events.filter((e) => e.type === "undecryptable")).toEqual([]);
    a.close();
    b.close();
  });

  test("a closed chat refuses sending until reopened", async () => {
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    await sendText(alice.acct, a.relay, chat, "hi");
    const b = await bob.online();
    const bobChat = bob.acct.store.chats.get(chat.id)!;
    await setChatClosed(bob.acct, b.relay, bobChat, true);
    // Alice hears of it through a chat event.
    await waitFor(() => alice.acct.store.chats.get(chat.id)!.closed, { what: "the close in alice's store" });
    await expect(sendText(alice.acct, a.relay, alice.acct.store.chats.get(chat.id)!, "no")).rejects.toBeInstanceOf(
      ChatClosedError,
    );
    // Even if alice's copy were stale, the relay refuses, and the message is marked failed.
    alice.acct.store.chats.setClosed(chat.id, false);
    await expect(sendText(alice.acct, a.relay, alice.acct.store.chats.get(chat.id)!, "stale")).rejects.toBeInstanceOf(
      ChatClosedError,
    );
    expect(alice.acct.store.messages.history(chat.id).messages.at(-1)).toMatchObject({
      body: "stale",
      status: "failed",
    });
    expect(alice.acct.store.outbox.count()).toBe(0);

    await setChatClosed(alice.acct, a.relay, alice.acct.store.chats.get(chat.id)!, false);
    await sendText(alice.acct, a.relay, alice.acct.store.chats.get(chat.id)!, "open again");
    await waitFor(() => bodies(bob, chat.id).includes("open again"), { what: '"open again" in bob\'s store' });
    a.close();
    b.close();
  });
});
