/**
 * Identity keys pinned on first use (SECURITY.md §1): a relay that substitutes a contact's key,
 * in a lookup, a bundle or a first message, is detected; sending to that contact stops with
 * KEY_CHANGED until the user confirms (safety numbers compared) or accepts the new key.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import { KeyChangedError } from "../../../client/engine/errors.js";
import { queueText } from "../../../client/engine/outbox.js";
import { sendText } from "../../../client/engine/send.js";
import {
  acceptNewIdentity,
  confirmIdentity,
  ensureSession,
  safetyNumbersWith,
} from "../../../client/engine/sessions.js";
import { RelayClient } from "../../../client/relay-client.js";
import { encodeAppMessage } from "../../../client/protocol/app-message.js";
import { encodeIdentityPublic, identityKey } from "../../../crypto/identity.js";
import { initiateSession, sessionEncrypt } from "../../../crypto/session.js";
import { decodeIdentityPublic } from "../../../crypto/identity.js";
import { decodeSessionState } from "../../../crypto/session-codec.js";
import { systemRng } from "../../../src/system-rng.js";
import { type TestRelay, idem, startRelay } from "../../relay/harness.js";
import { waitFor } from "../../helpers/wait-for.js";
import { type EngineUser, engineUser, forgeIdentity, emptyRelay } from "./helpers.js";
import { sendRawCopy } from "./outbox-helpers.js";

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
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
});

describe("key changes", () => {
  test("the relay swaps bob's key: alice's sends stop until she confirms the new key", async () => {
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    await sendText(alice.acct, a.relay, chat, "before");
    const pinned = alice.acct.store.contacts.get("bob")!.identity;

    const forged = await forgeIdentity(tr, "bob");
    const err = await sendText(alice.acct, a.relay, chat, "after").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyChangedError);
    expect((err as KeyChangedError).code).toBe("KEY_CHANGED");
    const c = alice.acct.store.contacts.get("bob")!;
    expect(c.keyChanged).toBe(true);
    expect(c.identity).toEqual(pinned);
    expect(c.pendingIdentity).toEqual(encodeIdentityPublic(forged.publicKey));
    // Nothing was stored or queued, and every later attempt is refused too, online or not.
    expect(alice.acct.store.outbox.count()).toBe(0);
    expect(alice.acct.store.messages.history(chat.id).messages.map((m) => m.body)).toEqual(["before"]);
    await expect(sendText(alice.acct, a.relay, chat, "again")).rejects.toBeInstanceOf(KeyChangedError);
    expect(() => queueText(alice.acct, chat, "offline")).toThrow(KeyChangedError);
    await expect(ensureSession(alice.acct, a.relay, "bob")).rejects.toBeInstanceOf(KeyChangedError);

    // Safety numbers for both keys; confirming the new one pins it and drops the old session.
    const numbers = safetyNumbersWith(alice.acct, c);
    expect(numbers.pending).not.toBeNull();
    expect(numbers.pending).not.toBe(numbers.pinned);
    const after = confirmIdentity(alice.acct.store, "bob");
    expect(after).toMatchObject({ keyChanged: false, verified: true });
    expect(alice.acct.store.sessions.list("bob")).toHaveLength(0);
    const sent = await sendText(alice.acct, a.relay, chat, "to the new key");
    expect(sent.sent.relayMsg).toBeGreaterThan(0);
    const session = decodeSessionState(alice.acct.store.sessions.current("bob")!.state);
    expect(identityKey(session.remoteIdentity)).toEqual(identityKey(forged.publicKey));
    a.close();
  });

  test("accept-new-key pins the new key unverified", async () => {
    const a = await alice.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    confirmIdentity(alice.acct.store, "bob");
    await forgeIdentity(tr, "bob");
    await expect(openDirectChat(alice.acct, a.relay, "bob")).rejects.toBeInstanceOf(KeyChangedError);
    expect(acceptNewIdentity(alice.acct.store, "bob")).toMatchObject({ keyChanged: false, verified: false });
    await sendText(alice.acct, a.relay, chat, "ok");
    a.close();
  });

  // Before §17 such a message was stored, flagged and blocked replies (the pinned key of a
  // contact without a device list, §1); bob now has a list, which says who his device 1 is.
  test("a first message from bob's device 1 under another identity than his list certifies is refused (SECURITY.md §17.4)", async () => {
    const a = await alice.online();
    const b = await bob.online();
    const { chat } = await openDirectChat(alice.acct, a.relay, "bob");
    await sendText(alice.acct, a.relay, chat, "hi bob");
    await waitFor(() => bob.acct.store.messages.count(chat.id) >= 1, { what: "alice's message in bob's store" });

    // Someone with bob's login (or the relay) starts a new session to alice with a forged identity.
    const forged = await forgeIdentity(tr, "bob");
    const raw = await RelayClient.connect({
      host: "127.0.0.1",
      port: tr.port,
      relayKey: tr.keyPair.publicKey,
      rng: systemRng,
    });
    await raw.login("bob", bob.acct.credential, forged);
    const bundle = await raw.request<"fetch_bundle">({ t: "fetch_bundle", username: "alice" });
    const { session } = initiateSession(systemRng, forged, {
      identity: decodeIdentityPublic(bundle.identity),
      signedPrekey: {
        id: bundle.signed_prekey.key_id,
        publicKey: bundle.signed_prekey.public_key,
        signature: bundle.signed_prekey.signature,
      },
      ...(bundle.one_time_prekey
        ? { oneTimePrekey: { id: bundle.one_time_prekey.key_id, publicKey: bundle.one_time_prekey.public_key } }
        : {}),
    });
    const text = encodeAppMessage({ v: 1, k: "text", chat: chat.id, seq: 1, ts: Date.now(), body: "it is me, bob" });
    const { envelope } = sessionEncrypt(session, forged.publicKey, text);
    await sendRawCopy(raw, chat.id, "alice", envelope, idem());
    raw.close();

    await waitFor(() => alice.events.some((e) => e.type === "undecryptable" && e.from === "bob"), {
      what: "the forged first message refused at alice",
    });
    expect(alice.events.filter((e) => e.type === "message" && e.body === "it is me, bob")).toEqual([]);
    expect(alice.events.find((e) => e.type === "key_change")).toBeUndefined();
    expect(alice.acct.store.contacts.get("bob")).toMatchObject({ keyChanged: false });
    // The session alice had with bob's listed device is still the one she sends on.
    expect(alice.acct.store.sessions.list("bob", 1)).toHaveLength(1);
    a.close();
    b.close();
  });
});
