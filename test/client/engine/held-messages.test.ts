/**
 * Held messages end to end through a real relay (SECURITY.md §14.7 "Held messages"): a listening
 * client gets each message's envelope once, pushed, and its sync after the push carries a `held`
 * stub instead of the envelope again, which still moves the cursor; a client that stored a push
 * and stopped before its sync (a crash) loses nothing, the next sync brings the envelope again and
 * the store keeps it once; a stub for a message the store no longer holds is asked for again in
 * full, never acked over unseen.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import type { EngineEvent } from "../../../client/engine/events.js";
import { type ListenStatus, listen } from "../../../client/engine/listener.js";
import { goOnline } from "../../../client/engine/online.js";
import { sendText } from "../../../client/engine/send.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { waitFor, waitForValue } from "../../helpers/wait-for.js";
import { engineUser, relayCursor } from "./helpers.js";

let tr: TestRelay;
beforeAll(async () => {
  tr = await startRelay();
}, 60_000);
afterAll(async () => {
  await tr.stop();
});

/** The relay's count of envelopes written to recipients, and of held stubs. */
const delivered = () => ({
  envelopes: tr.relay.ctx.counters.messagesDelivered,
  stubs: tr.relay.ctx.counters.framesOut.get("held") ?? 0,
});

describe("held messages", () => {
  test("a listener gets each envelope once: pushed, then a held stub in the sync that acks it", async () => {
    const alice = await engineUser(tr, "alice");
    const bob = await engineUser(tr, "bob");
    const events: EngineEvent[] = [];
    const statuses: ListenStatus[] = [];
    const abort = new AbortController();
    const done = listen(bob.acct, {
      signal: abort.signal,
      syncDelayMs: 20,
      onEvent: (e) => events.push(e),
      onStatus: (s) => statuses.push(s),
    });
    await waitFor(() => statuses.some((s) => s.state === "listening"), { what: "bob listening" });
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    const before = delivered();
    // One at a time, each acked before the next: a message committed while a sync is being read
    // could also come in that reply before its push is stored (then it is not in `have` yet).
    for (const body of ["one", "two", "three"]) {
      const sent = await sendText(alice.acct, a.relay, chat, body);
      await waitForValue(() => relayCursor(tr, "bob", chat.id), sent.sent.relayMsg, {
        what: `bob's cursor over "${body}"`,
      });
    }
    const after = delivered();
    expect({ envelopes: after.envelopes - before.envelopes, stubs: after.stubs - before.stubs }).toEqual({
      envelopes: 3,
      stubs: 3,
    });
    expect(events.flatMap((e) => (e.type === "message" ? [e.body] : []))).toEqual(["one", "two", "three"]);
    abort.abort();
    await done;
    a.close();
    alice.close();
    bob.close();
  });

  test("a push stored before a crash: the next sync brings the envelope again, stored once, then acked", async () => {
    const alice = await engineUser(tr, "carol");
    const bob = await engineUser(tr, "dave");
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "dave");
    const b = await bob.online();
    const sent = await sendText(alice.acct, a.relay, chat, "before the crash");
    const id = sent.sent.relayMsg;
    await waitFor(() => bob.acct.store.messages.getByRelayId(chat.id, id) !== undefined, { what: "the push stored" });
    // The process ends before its sync: nothing acked it.
    b.close();
    bob.reopen();
    expect(await relayCursor(tr, "dave", chat.id)).toBe(0);
    const before = delivered();
    const again = await bob.online();
    expect(delivered().envelopes - before.envelopes).toBe(1); // a new connection holds nothing yet
    await waitForValue(() => relayCursor(tr, "dave", chat.id), id, { what: "the ack after the sync" });
    expect(bob.acct.store.messages.count(chat.id)).toBe(1);
    expect(bob.events.filter((e) => e.type === "message")).toHaveLength(1);
    again.close();
    a.close();
    alice.close();
    bob.close();
  });

  test("a stub for a message the store no longer holds: asked for again in full at once, then acked", async () => {
    const alice = await engineUser(tr, "erin");
    const bob = await engineUser(tr, "frank");
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "frank");
    const warnings: unknown[] = [];
    const b = await goOnline(bob.acct, { onWarning: (w) => warnings.push(w) });
    const id = (await sendText(alice.acct, a.relay, chat, "deleted locally")).sent.relayMsg;
    await waitFor(() => bob.acct.store.messages.getByRelayId(chat.id, id) !== undefined, { what: "the push stored" });
    // The chat (and with it the message) is deleted locally after the push was stored.
    bob.acct.store.chats.delete(chat.id);
    const before = delivered();
    await b.receiver.syncAll();
    // The round with `have` got a stub; the next, without it, the envelope.
    expect({ envelopes: delivered().envelopes - before.envelopes, stubs: delivered().stubs - before.stubs }).toEqual({
      envelopes: 1,
      stubs: 1,
    });
    await waitForValue(() => relayCursor(tr, "frank", chat.id), id, { what: "the ack after the second round" });
    // Its keys were used: it is back as a message that cannot be decrypted, not acked unseen.
    expect(bob.acct.store.messages.getByRelayId(chat.id, id)).toMatchObject({ status: "undecryptable" });
    expect(warnings).toEqual([]);
    b.close();
    a.close();
    alice.close();
    bob.close();
  });
});
