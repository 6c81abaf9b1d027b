/**
 * The interactive session's identity answers (client/engine/peer-identity-checks.ts, SECURITY.md
 * §1 "When the relay is asked for a contact's key"): one `lookup_user` per contact and
 * connection; the answer is pinned again on every send (a pending change blocks at once), and is
 * asked again after IDENTITY_RECHECK_MS, after `device_list_changed` for that account, and on a
 * new connection. Without one (one-shot commands), every send asks (key-change.test.ts).
 */
import { afterAll, beforeAll, beforeEach, expect, test, vi } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import { KeyChangedError } from "../../../client/engine/errors.js";
import { IDENTITY_RECHECK_MS, PeerIdentityChecks } from "../../../client/engine/peer-identity-checks.js";
import { InteractiveSession } from "../../../client/engine/interactive.js";
import { connectAccount } from "../../../client/engine/open-account.js";
import { sendText } from "../../../client/engine/send.js";
import { confirmIdentity } from "../../../client/engine/sessions.js";
import { RelayClient } from "../../../client/relay-client.js";
import { encodeIdentityPublic } from "../../../crypto/identity.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type EngineUser, emptyRelay, engineUser, forgeIdentity } from "./helpers.js";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;
let offset = 0;

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
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
  // A clock that moves only when a test moves it.
  const base = Date.now();
  offset = 0;
  alice.reopen({ now: () => base + offset });
});

/**
 * alice's connection as InteractiveSession's command connection is (logged in, no receiver),
 * her chat with bob, and the identity answers of that connection.
 */
async function commandConnection() {
  const a = await connectAccount(alice.acct);
  const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
  return { a, chat, checks: new PeerIdentityChecks(alice.acct, a.relay) };
}

/** Counts the `lookup_user` requests made on `relay` from now on. */
function countLookups(relay: RelayClient): () => number {
  const spy = vi.spyOn(relay, "request");
  return () => spy.mock.calls.filter(([m]) => m.t === "lookup_user").length;
}

test("one lookup per contact on a connection: later sends pin the same answer without asking", async () => {
  const { a, chat, checks } = await commandConnection();
  const lookups = countLookups(a.relay);
  for (const body of ["one", "two", "three"]) await sendText(alice.acct, a.relay, chat, body, checks);
  expect(lookups()).toBe(1);
  // Answers of another connection are not used: a send on this one without them asks.
  await sendText(alice.acct, a.relay, chat, "four");
  expect(lookups()).toBe(2);
  a.relay.close();
});

test("a key change pending in the store blocks the next send at once, without asking the relay", async () => {
  const { a, chat, checks } = await commandConnection();
  await sendText(alice.acct, a.relay, chat, "before", checks);
  const lookups = countLookups(a.relay);
  // Another command of the same profile saw the relay present another key for bob.
  const forged = await forgeIdentity(tr, "bob");
  alice.acct.store.contacts.markChanged("bob", encodeIdentityPublic(forged.publicKey));
  await expect(sendText(alice.acct, a.relay, chat, "after", checks)).rejects.toBeInstanceOf(KeyChangedError);
  expect(lookups()).toBe(0);
  expect(alice.acct.store.messages.history(chat.id).messages.map((m) => m.body)).toEqual(["before"]);
  a.relay.close();
});

test("a key the relay swapped mid-connection is found once the answer is IDENTITY_RECHECK_MS old", async () => {
  const { a, chat, checks } = await commandConnection();
  await sendText(alice.acct, a.relay, chat, "before", checks);
  const pinned = alice.acct.store.contacts.get("bob")!.identity;
  const forged = await forgeIdentity(tr, "bob");
  const lookups = countLookups(a.relay);
  // Within the window the earlier answer is used: the text goes on the session with the pinned key.
  offset = IDENTITY_RECHECK_MS - 1;
  await sendText(alice.acct, a.relay, chat, "within", checks);
  expect(lookups()).toBe(0);
  offset = IDENTITY_RECHECK_MS;
  await expect(sendText(alice.acct, a.relay, chat, "after", checks)).rejects.toBeInstanceOf(KeyChangedError);
  expect(lookups()).toBe(1);
  const c = alice.acct.store.contacts.get("bob")!;
  expect(c).toMatchObject({ keyChanged: true, identity: pinned });
  expect(c.pendingIdentity).toEqual(encodeIdentityPublic(forged.publicKey));
  // Refused from the store now, before anything is asked.
  await expect(sendText(alice.acct, a.relay, chat, "again", checks)).rejects.toBeInstanceOf(KeyChangedError);
  expect(lookups()).toBe(1);
  // The refused answer was not kept: once the user confirms the new key, the next send asks again.
  confirmIdentity(alice.acct.store, "bob");
  await sendText(alice.acct, a.relay, chat, "to the new key", checks);
  expect(lookups()).toBe(2);
  a.relay.close();
});

test("a key accepted while an older answer is kept: the next send asks again and no change is made up", async () => {
  const { a, chat, checks } = await commandConnection();
  await sendText(alice.acct, a.relay, chat, "before", checks);
  const forged = await forgeIdentity(tr, "bob");
  const newKey = encodeIdentityPublic(forged.publicKey);
  // Another path (a PREKEY message, a group send) saw the new key; the user confirms it.
  alice.acct.store.contacts.markChanged("bob", newKey);
  confirmIdentity(alice.acct.store, "bob");
  const lookups = countLookups(a.relay);
  // Within the window: the kept answer (the old key) is not pinned against the newer choice.
  await sendText(alice.acct, a.relay, chat, "to the confirmed key", checks);
  expect(lookups()).toBe(1);
  expect(alice.acct.store.contacts.get("bob")).toMatchObject({ identity: newKey, keyChanged: false });
  // And that fresh answer is kept from then on.
  await sendText(alice.acct, a.relay, chat, "again", checks);
  expect(lookups()).toBe(1);
  a.relay.close();
});

test("an answer asked before a device_list_changed for that contact came is not kept", async () => {
  const { a, chat, checks } = await commandConnection();
  const version = alice.acct.store.deviceLists.get("bob")?.list.version ?? 1;
  const request = a.relay.request.bind(a.relay);
  const spy = vi.spyOn(a.relay, "request").mockImplementation(async (m) => {
    const reply = await request(m);
    // The push comes while the lookup_user's answer is on its way.
    if (m.t === "lookup_user")
      a.relay.emit("device_list_changed", { t: "device_list_changed", username: "bob", version });
    return reply;
  });
  const lookups = () => spy.mock.calls.filter(([m]) => m.t === "lookup_user").length;
  await sendText(alice.acct, a.relay, chat, "one", checks);
  spy.mockImplementation(request);
  await sendText(alice.acct, a.relay, chat, "two", checks);
  expect(lookups()).toBe(2);
  await sendText(alice.acct, a.relay, chat, "three", checks);
  expect(lookups()).toBe(2);
  a.relay.close();
});

test("a clock that went back asks again", async () => {
  const { a, chat, checks } = await commandConnection();
  await sendText(alice.acct, a.relay, chat, "before", checks);
  const lookups = countLookups(a.relay);
  offset = -60_000;
  await sendText(alice.acct, a.relay, chat, "after", checks);
  expect(lookups()).toBe(1);
  a.relay.close();
});

test("device_list_changed for the contact on the connection makes the next send ask again", async () => {
  const { a, chat, checks } = await commandConnection();
  await sendText(alice.acct, a.relay, chat, "before", checks);
  const forged = await forgeIdentity(tr, "bob");
  const lookups = countLookups(a.relay);
  // As the relay pushes it.
  const version = alice.acct.store.deviceLists.get("bob")?.list.version ?? 1;
  a.relay.emit("device_list_changed", { t: "device_list_changed", username: "carol", version });
  await sendText(alice.acct, a.relay, chat, "another account's list: the answer stays", checks);
  expect(lookups()).toBe(0);
  a.relay.emit("device_list_changed", { t: "device_list_changed", username: "bob", version });
  await expect(sendText(alice.acct, a.relay, chat, "after", checks)).rejects.toBeInstanceOf(KeyChangedError);
  expect(lookups()).toBe(1);
  expect(alice.acct.store.contacts.get("bob")!.pendingIdentity).toEqual(encodeIdentityPublic(forged.publicKey));
  a.relay.close();
});

test("an interactive session asks once on its command connection, and again on a new one", async () => {
  // The chat, the session with bob and alice's own device list exist already, as for `smsg open bob`.
  const a = await alice.online();
  const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
  await sendText(alice.acct, a.relay, chat, "zero");
  a.close();
  // Every connection's requests (the listener's too: it asks no lookup_user).
  const spy = vi.spyOn(RelayClient.prototype, "request");
  const lookups = () => spy.mock.calls.filter(([m]) => m.t === "lookup_user").length;
  const session = new InteractiveSession(alice.acct, { onEvent: () => undefined });
  try {
    await session.send(chat, "one");
    await session.send(chat, "two");
    await session.send(chat, "three");
    expect(lookups()).toBe(1);
    // The command connection drops: the next send connects again and asks again, once.
    const first = await session.commandRelay();
    const closed = new Promise((resolve) => first.once("close", resolve));
    first.close();
    await closed;
    await session.send(chat, "four");
    await session.send(chat, "five");
    expect(await session.commandRelay()).not.toBe(first);
    expect(lookups()).toBe(2);
    expect(alice.acct.store.messages.history(chat.id).messages.map((m) => m.body)).toEqual([
      "zero",
      "one",
      "two",
      "three",
      "four",
      "five",
    ]);
  } finally {
    await session.close();
    spy.mockRestore();
  }
});
