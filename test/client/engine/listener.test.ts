/**
 * `listen` (client/engine/listener.ts): events as they arrive, cursors moved by the sync that
 * follows pushes, prekeys refilled on `prekeys_low`, and a relay restart in the middle of a
 * conversation: the listener reconnects, and a message queued while the relay was down is
 * delivered exactly once.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import { RelayUnreachableError } from "../../../client/engine/errors.js";
import type { EngineEvent } from "../../../client/engine/events.js";
import { type ListenStatus, listen } from "../../../client/engine/listener.js";
import { goOnline } from "../../../client/engine/online.js";
import { flushOutbox, queueText } from "../../../client/engine/outbox.js";
import { sendText } from "../../../client/engine/send.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { accountId, engineUser, eventually, until } from "./helpers.js";

let tr: TestRelay;
beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});

describe("listen", () => {
  test("streams messages, refills prekeys, survives a relay restart, and delivers the outbox once", async () => {
    const alice = await engineUser(tr, "alice");
    const bob = await engineUser(tr, "bob");
    const events: EngineEvent[] = [];
    const statuses: ListenStatus[] = [];
    const stop = new AbortController();
    const listening = listen(bob.acct, {
      signal: stop.signal,
      onEvent: (e) => events.push(e),
      onStatus: (s) => statuses.push(s),
      syncDelayMs: 50,
      minBackoffMs: 50,
      maxBackoffMs: 200,
    });
    await until(() => statuses.some((s) => s.state === "listening"));

    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    const first = await sendText(alice.acct, a.relay, chat, "one");
    await until(() => events.some((e) => e.type === "message" && e.body === "one"));
    // The sync after the push moved bob's cursor on the relay.
    const bobId = await accountId(tr, "bob");
    const cursor = async () =>
      Number((await tr.db.query<{ cursor: number }>("SELECT cursor FROM chat_members WHERE chat_id = $1 AND account_id = $2", [chat.id, bobId]))[0]!.cursor);
    await eventually(cursor, first.sent.relayMsg);

    // prekeys_low: bob's stock falls under the relay's watermark; the listener refills it.
    await tr.db.query("DELETE FROM one_time_prekeys WHERE account_id = $1 AND key_id > 21", [bobId]);
    await a.relay.request<"fetch_bundle">({ t: "fetch_bundle", username: "bob" });
    const stock = async () => (await tr.db.query<{ n: number }>("SELECT count(*)::int AS n FROM one_time_prekeys WHERE account_id = $1", [bobId]))[0]!.n;
    await eventually(stock, 100);

    // The relay goes down mid-conversation. Alice's message is queued; it cannot leave.
    a.close();
    await tr.stop();
    await until(() => statuses.some((s) => s.state === "disconnected"));
    const queued = queueText(alice.acct, chat, "sent while the relay was down");
    await expect(goOnline(alice.acct)).rejects.toBeInstanceOf(RelayUnreachableError);
    expect(alice.acct.store.outbox.count()).toBe(1);
    const row = alice.acct.store.outbox.get(queued.idem)!;

    // The relay comes back on the same port and database; bob's listener reconnects by itself.
    const restarted = await startRelay({ db: tr.db, keyPair: tr.keyPair, config: { port: tr.port } });
    tr = restarted;
    await until(() => statuses.filter((s) => s.state === "listening").length >= 2, 10_000);
    const a2 = await alice.online();
    expect(a2.flushed.sent).toEqual([expect.objectContaining({ messageId: queued.messageId, duplicate: false })]);
    // Even flushing the same entry twice (a retry whose answer was lost) delivers it once.
    alice.acct.store.outbox.add({ idem: row.idem, chatId: row.chatId, messageId: row.messageId, envelope: row.envelope });
    expect((await flushOutbox(alice.acct, a2.relay)).sent).toEqual([expect.objectContaining({ messageId: queued.messageId, duplicate: true })]);
    await until(() => events.some((e) => e.type === "message" && e.body === "sent while the relay was down"));
    expect(events.filter((e) => e.type === "message").map((e) => (e.type === "message" ? e.body : ""))).toEqual(["one", "sent while the relay was down"]);
    a2.close();

    stop.abort();
    await listening;
    alice.close();
    bob.close();
  });
});
