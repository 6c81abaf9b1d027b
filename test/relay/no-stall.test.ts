/**
 * No client can stall the relay: a client that pipelines large history requests and stops
 * reading is slowed (its next request waits until its queue drains) and then cut off, while
 * another client keeps getting its round trips answered; and a reply is cut by size as well as
 * by count, so a reader pages on with `after` and gets every message once.
 * Round-trip times are printed (measured, not asserted; bench/RESULTS.md).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAX_REPLY_BYTES } from "../../relay/handlers/messages.js";
import { type TestRelay, type TestUser, idem, joinUser, startRelay } from "./harness.js";
import { historyPage } from "./people.js";
import { RawClient } from "./raw-client.js";

const MESSAGES = 120;
const ENVELOPE_BYTES = 60_000;

describe("heavy requests from one client", () => {
  let r: TestRelay;
  let alice: TestUser;
  let bob: TestUser;
  let chat: number;

  beforeAll(async () => {
    // The probe's round trips run back to back for the whole idle timeout: a message rate far
    // above them keeps the rate limit (tested in limits.test.ts) out of this test.
    r = await startRelay({
      limits: { maxOutboundBytes: 4 << 20, idleTimeoutMs: 3000, messageRate: 1_000_000, messageBurst: 1_000_000 },
    });
    alice = await joinUser(r, "alice");
    bob = await joinUser(r, "bob");
    chat = (await alice.client.request<"open_direct">({ t: "open_direct", username: "bob" })).chat.id;
    const aliceId = (await r.relay.store.accountByUsername("alice"))!.id;
    // Stored directly: 120 messages of 60 KB (7 MB) in one chat.
    await r.relay.store.insertMessages(
      Array.from({ length: MESSAGES }, (_, i) => ({
        chatId: chat,
        senderId: aliceId,
        recipientId: null,
        idem: idem(),
        envelope: new Uint8Array(ENVELOPE_BYTES).fill(i % 251),
      })),
      new Date(),
    );
  }, 60_000);

  afterAll(async () => {
    alice.client.close();
    bob.client.close();
    await r.stop();
  });

  test("a history reply is cut by size; paging on with `after` gives every message once", async () => {
    const seen: number[] = [];
    let after = 0;
    let pages = 0;
    for (;;) {
      const page = await historyPage(bob.client, chat, { after, limit: 1000 });
      const bytes = page.msgs.reduce((n, m) => n + m.envelope.length, 0);
      expect(bytes).toBeLessThanOrEqual(MAX_REPLY_BYTES);
      seen.push(...page.ids);
      pages++;
      if (!page.more) break;
      after = page.ids.at(-1)!;
    }
    expect(seen).toHaveLength(MESSAGES);
    expect(new Set(seen).size).toBe(MESSAGES);
    expect(pages).toBeGreaterThan(1);
  });

  test("a client pipelining history and not reading is cut off; another's round trips go on meanwhile", async () => {
    const attacker = await RawClient.ready(r, { localAddress: "127.0.0.9" });
    await attacker.loginAs(bob);
    attacker.pause();
    for (let i = 0; i < 40; i++) attacker.send({ t: "history", id: 1000 + i, chat, limit: 1000 });

    const latencies: number[] = [];
    const carol = await joinUser(r, "carol");
    // Round trips (each reads the database) until the relay has let go of the attacker.
    // A hang guard, not a speed check: the relay cuts the attacker off after its idle timeout (3 s).
    const giveUp = Date.now() + 60_000;
    while (attacker.relaySide(r) !== undefined) {
      const t0 = performance.now();
      await carol.client.request<"lookup_user">({ t: "lookup_user", username: "alice" });
      latencies.push(performance.now() - t0);
      expect(Date.now(), "the attacker was never cut off").toBeLessThan(giveUp);
    }
    const backlogAtEnd = latencies.length;
    attacker.resume();
    const err = await attacker.expectClosedWith("SLOW_CONSUMER");
    expect(err.message).toContain("reconnect and sync");
    // It got at most what its queue holds, not 40 replies' worth.
    const got = attacker.received.filter((m) => m.t === "msg").length;
    expect(got * ENVELOPE_BYTES).toBeLessThan(2 * (4 << 20));
    latencies.sort((a, b) => a - b);
    console.log(
      `${backlogAtEnd} round trips while the attacker was served; median ${latencies[latencies.length >> 1]!.toFixed(1)} ms, ` +
        `slowest ${latencies.at(-1)!.toFixed(1)} ms; the attacker got ${got} of ${40 * MESSAGES} messages asked for`,
    );
    carol.client.close();
  }, 60_000);
});
