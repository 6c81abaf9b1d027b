/**
 * client/engine/session-states.ts: the memo of decoded session states answers exactly what
 * decodeSessionState answers for the same bytes, whatever was encoded or rolled back since.
 */
import { describe, expect, test } from "vitest";
import { concat, toHex, utf8 } from "../../../crypto/bytes.js";
import { CodecError, UsageError } from "../../../crypto/errors.js";
import { wipe } from "../../../crypto/primitives.js";
import { decodeSessionState, encodeSessionState } from "../../../crypto/session-codec.js";
import {
  type PrekeyStore,
  type SessionState,
  acceptSession,
  initiateSession,
  parseEnvelope,
  sessionDecrypt,
  sessionEncrypt,
} from "../../../crypto/session.js";
import {
  decodeSession,
  encodeSession,
  forgetSessionStates,
  pruneSessionStates,
} from "../../../client/engine/session-states.js";
import type { ClientStore } from "../../../client/store/index.js";
import { type Party, bundleFor, makeParty } from "../../helpers/parties.js";

/** The memo only keys on the store object: any object stands for one here. */
const aStore = () => ({}) as ClientStore;
const snap = (s: SessionState) => toHex(encodeSessionState(s));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function prekeys(p: Party): PrekeyStore {
  return {
    signedPrekey: (id) => (id === p.signedPrekey.id ? p.signedPrekey : undefined),
    oneTimePrekey: (id) => p.oneTimePrekeys.get(id),
    acceptedBefore: () => false,
  };
}

/** Alice and Bob with a session each (Bob accepted Alice's first message), and Alice's next `n` envelopes. */
function conversation(n: number) {
  const alice = makeParty("alice");
  const bob = makeParty("bob");
  let a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
  const first = sessionEncrypt(a, alice.identity.publicKey, utf8("first"));
  a = first.session;
  const b = acceptSession(bob.rng, bob.identity, prekeys(bob), parseEnvelope(first.envelope)).session;
  const envelopes: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const e = sessionEncrypt(a, alice.identity.publicKey, utf8(`m${i}`));
    a = e.session;
    envelopes.push(e.envelope);
  }
  return { alice, bob, a, b, envelopes };
}

describe("session-states: decoded session states remembered by their encoding", () => {
  test("a run of decrypts reading back what the one before stored gets what decoding gives", () => {
    const { bob, b, envelopes } = conversation(20);
    const store = aStore();
    let stored = encodeSession(store, b);
    for (const [i, env] of envelopes.entries()) {
      const s = decodeSession(store, stored);
      expect(snap(s)).toBe(snap(decodeSessionState(stored)));
      const dec = sessionDecrypt(bob.rng, s, parseEnvelope(env));
      expect(text(dec.plaintext)).toBe(`m${i}`);
      wipe(dec.consumed);
      const next = encodeSession(store, dec.session);
      wipe(stored); // as the engine wipes the encodings it read
      stored = next;
    }
  });

  test("after a rollback the older bytes decode to the older state, which decrypts the same frame again", () => {
    const { bob, b, envelopes } = conversation(3);
    const store = aStore();
    const before = encodeSession(store, b);
    const beforeCopy = before.slice();
    const dec = sessionDecrypt(bob.rng, decodeSession(store, before), parseEnvelope(envelopes[0]!));
    encodeSession(store, dec.session); // stored by the savepoint that is then rolled back
    wipe(before);
    // The store holds the state from before the frame again: the memo must not answer the newer one.
    const again = decodeSession(store, beforeCopy);
    expect(snap(again)).toBe(snap(decodeSessionState(beforeCopy)));
    expect(snap(again)).not.toBe(snap(dec.session));
    expect(text(sessionDecrypt(bob.rng, again, parseEnvelope(envelopes[0]!)).plaintext)).toBe("m0");
  });

  test("a send whose commit failed is encrypted again from the reloaded state, with the same bytes", () => {
    const { alice, a } = conversation(0);
    const store = aStore();
    const stored = encodeSession(store, a);
    const s = decodeSession(store, stored);
    const out = sessionEncrypt(s, alice.identity.publicKey, utf8("hi"));
    encodeSession(store, out.session); // then the transaction rolls back
    // The memo gave `s`, now spent: the reload must not get it back.
    expect(() => sessionEncrypt(s, alice.identity.publicKey, utf8("hi"))).toThrow(UsageError);
    const reloaded = decodeSession(store, stored);
    expect(toHex(sessionEncrypt(reloaded, alice.identity.publicKey, utf8("hi")).envelope)).toBe(toHex(out.envelope));
  });

  test("malformed bytes throw as decodeSessionState does, every time, and are never remembered", () => {
    const { b } = conversation(0);
    const store = aStore();
    const good = encodeSession(store, b);
    for (const bad of [good.subarray(0, 100), good.subarray(0, 200), concat(good, new Uint8Array([1]))]) {
      expect(() => decodeSession(store, bad)).toThrow(CodecError);
      expect(() => decodeSession(store, bad)).toThrow(CodecError);
    }
    const flipped = good.slice();
    flipped[0] = 0x07;
    expect(() => decodeSession(store, flipped)).toThrow(/unknown version/);
    // The good encoding is still answered right after the bad ones.
    expect(snap(decodeSession(store, good))).toBe(snap(b));
  });

  test("two stores never see each other's states, and a forgotten store decodes afresh", () => {
    const { b } = conversation(0);
    const one = aStore();
    const two = aStore();
    const bytes = encodeSession(one, b);
    const fromOne = decodeSession(one, bytes);
    expect(fromOne).toBe(b); // remembered from the encode
    expect(decodeSession(two, bytes)).not.toBe(b);
    forgetSessionStates(one);
    const fresh = decodeSession(one, bytes);
    expect(fresh).not.toBe(b);
    expect(snap(fresh)).toBe(snap(b));
  });

  test("a session the store no longer holds is let go of by prune; one it holds stays", () => {
    const { a } = conversation(0);
    const { b } = ((alice, bob) => ({ b: initiateSession(alice.rng, alice.identity, bundleFor(bob)).session }))(
      makeParty("carol", 9),
      makeParty("dave", 9),
    );
    const held = new Set<string>();
    const store = { sessions: { hasBaseKey: (k: Uint8Array) => held.has(toHex(k)) } } as unknown as ClientStore;
    const kept = encodeSession(store, a);
    const gone = encodeSession(store, b);
    held.add(toHex(a.baseKey));
    pruneSessionStates(store);
    expect(decodeSession(store, kept)).toBe(a);
    const again = decodeSession(store, gone);
    expect(again).not.toBe(b); // decoded afresh: the memo no longer held b
    expect(snap(again)).toBe(snap(b));
  });

  test("many sessions: the oldest are forgotten, and every answer is still the decoded one", () => {
    const store = aStore();
    const states: Uint8Array[] = [];
    for (let i = 0; i < 80; i++) {
      const alice = makeParty("alice", i + 2);
      const bob = makeParty("bob", i + 2);
      states.push(encodeSession(store, initiateSession(alice.rng, alice.identity, bundleFor(bob)).session));
    }
    for (const bytes of states) expect(snap(decodeSession(store, bytes))).toBe(snap(decodeSessionState(bytes)));
  });
});
