/**
 * A one-shot command's own actions come back to it as pushed chat events, often just as it
 * ends and closes its store. A Receiver that was detached must then neither process what is
 * still queued nor report the failure of what was in flight (nothing was acked: the next sync
 * brings it again). Without the detach the same failure is reported.
 */
import { EventEmitter } from "node:events";
import { describe, expect, test } from "vitest";
import type { Account } from "../../../client/engine/open-account.js";
import { Receiver } from "../../../client/engine/sync.js";
import type { RelayClient } from "../../../client/relay-client.js";

/** A relay whose list_chats answers only when `answer` is called, and a store that is closed. */
function fakes() {
  let answer: () => void = () => undefined;
  const requests: string[] = [];
  const relay = Object.assign(new EventEmitter(), {
    request: (msg: { t: string }) => {
      requests.push(msg.t);
      return new Promise((resolve) => (answer = () => resolve({ t: "chats", chats: [], more: false })));
    },
  });
  const acct = {
    username: "alice",
    store: {
      chats: { get: () => undefined },
      transaction: () => {
        throw new TypeError("The database connection is not open");
      },
    },
  };
  return { relay, acct, requests, answer: () => answer() };
}

const event = { t: "chat_event", chat: 1, event: "left", user: "bob", by: "bob" } as const;

describe("Receiver.detach", () => {
  test("what was in flight fails silently and what was queued is not processed", async () => {
    const f = fakes();
    const errors: unknown[] = [];
    const r = new Receiver(f.acct as unknown as Account, f.relay as unknown as RelayClient, {
      onError: (e) => errors.push(e),
    });
    f.relay.emit("chat_event", event);
    f.relay.emit("chat_event", { ...event, chat: 2 });
    await new Promise((res) => setImmediate(res));
    expect(f.requests).toEqual(["list_chats"]); // the first is in flight
    r.detach();
    f.answer();
    await r.drain();
    expect(errors).toEqual([]);
    expect(f.requests).toEqual(["list_chats"]); // the second never started
  });

  test("without the detach, the failure is reported", async () => {
    const f = fakes();
    const errors: unknown[] = [];
    const r = new Receiver(f.acct as unknown as Account, f.relay as unknown as RelayClient, {
      onError: (e) => errors.push(e),
    });
    f.relay.emit("chat_event", event);
    await new Promise((res) => setImmediate(res));
    f.answer();
    await r.drain();
    expect(errors).toEqual([expect.objectContaining({ message: "The database connection is not open" })]);
  });
});
