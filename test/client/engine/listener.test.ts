/**
 * `listen` (client/engine/listener.ts): events as they arrive, cursors moved by the sync that
 * follows pushes, prekeys refilled on `prekeys_low`, and a relay restart in the middle of a
 * conversation: the listener reconnects, and a message queued while the relay was down is
 * delivered exactly once. And a message that another process on the same profile fetched and
 * stored first is still reported by the listener, once (the event journal).
 */
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import { RelayKeyMismatchError, RelayUnreachableError } from "../../../client/engine/errors.js";
import type { EngineEvent } from "../../../client/engine/events.js";
import { type DeliveredText, type ListenOptions, type ListenStatus, listen } from "../../../client/engine/listener.js";
import { goOnline } from "../../../client/engine/online.js";
import { type Account, closeAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { flushOutbox, queueText } from "../../../client/engine/outbox.js";
import { sendText } from "../../../client/engine/send.js";
import { ensureSession } from "../../../client/engine/sessions.js";
import { openDatabase } from "../../../client/store/sqlite.js";
import { RelayClient } from "../../../client/relay-client.js";
import { x25519KeyPair } from "../../../crypto/primitives.js";
import { systemRng } from "../../../src/system-rng.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { waitFor, waitForValue } from "../../helpers/wait-for.js";
import { accountId, engineUser } from "./helpers.js";
import { requeue } from "./outbox-helpers.js";

let tr: TestRelay;
// The first PGlite open costs seconds, many more on a busy machine: a hook timeout that fits it.
beforeAll(async () => {
  tr = await startRelay();
}, 60_000);
afterAll(async () => {
  await tr.stop();
});

/**
 * Starts listen on `acct`, recording its events, statuses, warnings and delivered texts, and
 * waits until it is listening. `stop()` ends it.
 */
async function startListening(acct: Account, opts: Partial<ListenOptions> = {}) {
  const events: EngineEvent[] = [];
  const statuses: ListenStatus[] = [];
  const warnings: unknown[] = [];
  const sent: DeliveredText[] = [];
  const abort = new AbortController();
  const done = listen(acct, {
    signal: abort.signal,
    onEvent: (e) => events.push(e),
    onStatus: (st) => statuses.push(st),
    onWarning: (w) => warnings.push(w),
    onSent: (d) => sent.push(d),
    ...opts,
  });
  await waitFor(() => statuses.some((st) => st.state === "listening"), { what: "listen to be listening" });
  return {
    events,
    statuses,
    warnings,
    sent,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

describe("listen", () => {
  test("streams messages, refills prekeys, survives a relay restart, and delivers the outbox once", async () => {
    const alice = await engineUser(tr, "alice");
    const bob = await engineUser(tr, "bob");
    const { events, statuses, stop } = await startListening(bob.acct, {
      syncDelayMs: 50,
      minBackoffMs: 50,
      maxBackoffMs: 200,
    });

    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    const first = await sendText(alice.acct, a.relay, chat, "one");
    await waitFor(() => events.some((e) => e.type === "message" && e.body === "one"), { what: 'the event of "one"' });
    // The sync after the push moved bob's cursor on the relay.
    const bobId = await accountId(tr, "bob");
    const cursor = async () =>
      Number(
        (
          await tr.db.query<{ cursor: number }>(
            "SELECT cursor FROM chat_members WHERE chat_id = $1 AND account_id = $2",
            [chat.id, bobId],
          )
        )[0]!.cursor,
      );
    await waitForValue(cursor, first.sent.relayMsg, { what: "bob's cursor after the sync that follows the push" });

    // prekeys_low: bob's stock falls under the relay's watermark; the listener refills it.
    await tr.db.query("DELETE FROM one_time_prekeys WHERE account_id = $1 AND key_id > 21", [bobId]);
    await a.relay.request<"fetch_bundle">({ t: "fetch_bundle", username: "bob" });
    const stock = async () =>
      (
        await tr.db.query<{ n: number }>("SELECT count(*)::int AS n FROM one_time_prekeys WHERE account_id = $1", [
          bobId,
        ])
      )[0]!.n;
    await waitForValue(stock, 100, { what: "bob's one-time prekeys refilled" });

    // The relay goes down mid-conversation. Alice's message is queued; it cannot leave.
    a.close();
    await tr.stop();
    await waitFor(() => statuses.some((s) => s.state === "disconnected"), { what: "listen to notice the relay left" });
    const queued = queueText(alice.acct, chat, "sent while the relay was down");
    await expect(goOnline(alice.acct)).rejects.toBeInstanceOf(RelayUnreachableError);
    expect(alice.acct.store.outbox.count()).toBe(1);
    const row = alice.acct.store.outbox.get(queued.idem)!;

    // The relay comes back on the same port and database; bob's listener reconnects by itself.
    const restarted = await startRelay({ db: tr.db, keyPair: tr.keyPair, config: { port: tr.port } });
    tr = restarted;
    await waitFor(() => statuses.filter((s) => s.state === "listening").length >= 2, { what: "listen to reconnect" });
    const a2 = await alice.online();
    expect(a2.flushed.sent).toEqual([expect.objectContaining({ messageId: queued.messageId, duplicate: false })]);
    // Even flushing the same entry twice (a retry whose answer was lost) delivers it once.
    requeue(alice.acct.store, row);
    expect((await flushOutbox(alice.acct, a2.relay)).sent).toEqual([
      expect.objectContaining({ messageId: queued.messageId, duplicate: true }),
    ]);
    await waitFor(() => events.some((e) => e.type === "message" && e.body === "sent while the relay was down"), {
      what: "the event of the message queued while the relay was down",
    });
    expect(events.filter((e) => e.type === "message").map((e) => (e.type === "message" ? e.body : ""))).toEqual([
      "one",
      "sent while the relay was down",
    ]);
    a2.close();

    await stop();
    alice.close();
    bob.close();
  });
  test("a push that arrives while a sync round is under way is acked by a later round", async () => {
    const alice = await engineUser(tr, "alice-mid-round");
    const bob = await engineUser(tr, "bob-mid-round");
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob-mid-round");
    await sendText(alice.acct, a.relay, chat, "first: sets up the session");
    const { stop } = await startListening(bob.acct, { syncDelayMs: 20 });
    // The next sync bob's listener makes: before its answer is taken, alice sends "two" and bob's
    // connection has it pushed, so the push comes during the round but after the reply was read.
    let armed = true;
    let two: number | undefined;
    const original = RelayClient.prototype.request;
    const spy = vi.spyOn(RelayClient.prototype, "request").mockImplementation(async function (
      this: RelayClient,
      msg: Parameters<RelayClient["request"]>[0],
    ) {
      const reply = await original.call(this, msg);
      if (armed && msg.t === "sync") {
        armed = false;
        const pushed = new Promise<void>((resolve) => this.once("msg", () => resolve()));
        two = (await sendText(alice.acct, a.relay, chat, "two")).sent.relayMsg;
        await pushed;
      }
      return reply;
    } as typeof original);
    try {
      const one = (await sendText(alice.acct, a.relay, chat, "one")).sent.relayMsg;
      await waitFor(() => two !== undefined, { what: "alice's second text" });
      const bobChat = bob.acct.store.chats.list({ includeClosed: true })[0]!.id;
      await waitFor(() => bob.acct.store.messages.history(bobChat).messages.some((m) => m.relayMsgId === two), {
        what: "bob to store two",
      });
      // Acked (the cursor passed it), although no push came after it.
      await waitFor(() => bob.acct.store.cursors.get(bobChat) >= two!, { what: "bob's cursor past two" });
      expect(two!).toBeGreaterThan(one);
    } finally {
      spy.mockRestore();
      await stop();
      a.close();
      alice.close();
      bob.close();
    }
  });

  test("a relay that comes back with another key: listen stops with RelayKeyMismatchError, it does not retry", async () => {
    const carl = await engineUser(tr, "carl");
    const statuses: ListenStatus[] = [];
    const done = listen(carl.acct, { onEvent: () => undefined, onStatus: (st) => statuses.push(st), minBackoffMs: 50 });
    const failed = done.then(
      () => undefined,
      (e: unknown) => e,
    );
    await waitFor(() => statuses.some((st) => st.state === "listening"), { what: "the listener to be listening" });
    const original = tr;
    await tr.stop();
    // Another key answers at the relay's address (an impersonator, or a replaced key).
    tr = await startRelay({ db: original.db, keyPair: x25519KeyPair(systemRng), config: { port: original.port } });
    const err = await failed;
    expect(err).toBeInstanceOf(RelayKeyMismatchError);
    expect((err as RelayKeyMismatchError).code).toBe("RELAY_KEY_MISMATCH");
    // Disconnections while the relay was away (retried), none for the mismatch: listen ended there.
    expect(statuses[0]!.state).toBe("listening");
    expect(statuses.slice(1).every((st) => st.state === "disconnected" && !/key/.test(st.reason))).toBe(true);
    await tr.stop();
    tr = await startRelay({ db: original.db, keyPair: original.keyPair, config: { port: original.port } });
    closeAccount(carl.acct);
  });

  test("a message another process on the profile stored first is reported once", async () => {
    const alice = await engineUser(tr, "alice2");
    const bob = await engineUser(tr, "bob2");
    const a0 = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a0.relay, "bob2");
    a0.close();
    // A long first backoff: the relay restarts, and another process catches up, while the listener waits.
    const { events, statuses, stop } = await startListening(bob.acct, { minBackoffMs: 3000 });
    await tr.stop();
    await waitFor(() => statuses.some((s) => s.state === "disconnected"), { what: "listen to notice the relay left" });
    tr = await startRelay({ db: tr.db, keyPair: tr.keyPair, config: { port: tr.port } });
    const a = await alice.online();
    await sendText(alice.acct, a.relay, chat, "stored by the other process");
    // A second process on bob's profile (its own store handle and connection) fetches, stores and acks it.
    const other = openLocalAccount({ dir: bob.dir });
    const otherEvents: EngineEvent[] = [];
    const o = await goOnline(other, { onEvent: (e) => otherEvents.push(e) });
    o.close();
    closeAccount(other);
    expect(otherEvents).toEqual([expect.objectContaining({ type: "message", body: "stored by the other process" })]);
    expect(statuses.filter((s) => s.state === "listening")).toHaveLength(1); // the listener was still waiting
    // The listener reconnects, gets nothing from the relay (acked), and reports it from the journal.
    await waitFor(() => events.some((e) => e.type === "message"), { what: "the message from the journal" });
    // Later messages come the usual way; nothing is reported twice.
    const pushed = await sendText(alice.acct, a.relay, chat, "pushed to the listener");
    await waitFor(() => events.filter((e) => e.type === "message").length >= 2, { what: "the pushed message" });
    // Barrier: the sync that follows the push has brought it again and acked it (only the
    // listener is connected as bob now); stopping drains what is left. A second report, from
    // that sync or the journal, would be in `events` by then.
    const bobId = await accountId(tr, "bob2");
    const cursor = async () =>
      Number(
        (
          await tr.db.query<{ cursor: number }>(
            "SELECT cursor FROM chat_members WHERE chat_id = $1 AND account_id = $2",
            [chat.id, bobId],
          )
        )[0]!.cursor,
      );
    await waitForValue(cursor, pushed.sent.relayMsg, { what: "the listener's sync to ack the pushed message" });
    a.close();
    await stop();
    expect(events.filter((e) => e.type === "message").map((e) => (e.type === "message" ? e.body : ""))).toEqual([
      "stored by the other process",
      "pushed to the listener",
    ]);
    alice.close();
    bob.close();
  });
  test("a damaged journal entry and entries pruned before they were read are reported as warnings; the rest still comes", async () => {
    const alice = await engineUser(tr, "alice3");
    const bob = await engineUser(tr, "bob3");
    const { events, warnings, stop } = await startListening(bob.acct, { syncDelayMs: 50 });
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob3");
    await sendText(alice.acct, a.relay, chat, "first");
    await waitFor(() => events.some((e) => e.type === "message"), { what: 'the event of "first"' });
    // Another process wrote three entries; one is damaged on disk, one was pruned.
    const ids = [1, 2, 3].map(() =>
      bob.acct.store.journal.append(JSON.stringify({ type: "profile", user: "alice3", displayName: "A" })),
    );
    const raw = openDatabase(bob.acct.store.path);
    raw.prepare("UPDATE event_journal SET event = x'00' WHERE id = ?").run(ids[0]!);
    raw.prepare("DELETE FROM event_journal WHERE id = ?").run(ids[1]!);
    raw.close();
    await sendText(alice.acct, a.relay, chat, "second");
    await waitFor(() => events.filter((e) => e.type === "message").length === 2, { what: 'the event of "second"' });
    expect(warnings.map((w) => (w as { code: string }).code)).toEqual(["EVENT_DAMAGED", "EVENTS_DROPPED"]);
    expect(events.filter((e) => e.type === "profile")).toHaveLength(1); // the third entry
    a.close();
    await stop();
    alice.close();
    bob.close();
  });
  test("texts written earlier and delivered by the listener's flush are reported as sent; key hand-overs are not", async () => {
    const alice = await engineUser(tr, "alice4", { displayName: "Alice" });
    const bob = await engineUser(tr, "bob4");
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob4");
    await ensureSession(alice.acct, a.relay, "bob4");
    a.close();
    // Written while not connected (the session exists): it waits in the outbox, after the
    // display name that goes ahead of a first text.
    const queued = queueText(alice.acct, chat, "written earlier");
    expect(alice.acct.store.outbox.count()).toBe(2);
    const { sent, stop } = await startListening(alice.acct);
    expect(sent).toEqual([
      {
        chat: chat.id,
        id: queued.messageId,
        relayMsg: expect.any(Number),
        ts: expect.any(Number),
        seq: 1,
        duplicate: false,
      },
    ]);
    expect(alice.acct.store.outbox.count()).toBe(0);
    await stop();
    alice.close();
    bob.close();
  });
});
