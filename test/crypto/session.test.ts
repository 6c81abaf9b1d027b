import { describe, expect, test } from "vitest";
import { bytesEqual, concat, toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, LimitError, UsageError } from "../../crypto/errors.js";
import {
  type Envelope,
  type PrekeyStore,
  type SessionState,
  acceptSession,
  initiateSession,
  parseEnvelope,
  sessionDecrypt,
  sessionEncrypt,
} from "../../crypto/session.js";
import { decodeSessionState, encodeSessionState } from "../../crypto/session-codec.js";
import { paddedLength } from "../../crypto/padding.js";
import { type Party, bundleFor, makeParty } from "../helpers/parties.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const snap = (s: SessionState) => toHex(encodeSessionState(s));

/** Exactly CryptoVerificationError("could not decrypt") (SECURITY.md §2): no other error, no other message. */
function expectCouldNotDecrypt(f: () => unknown) {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(CryptoVerificationError);
  expect((thrown as Error).message).toBe("could not decrypt");
}

/**
 * Bob's prekeys as a client keeps them (SECURITY.md §6.5): lookups for acceptSession, the
 * (signed prekey id, base key) pairs of first messages already accepted, and `receiveFirst`,
 * which does what the client does with a first message: acceptSession, then — only if it
 * returned — delete the one-time prekey it names and remember the base key. Every change to
 * the store is logged, and `keyBytes` covers every private key it holds, so a test sees any
 * prekey deleted, remembered or wiped.
 */
function recordingStore(p: Party) {
  const oneTime = new Map(p.oneTimePrekeys);
  const accepted = new Set<string>();
  const changes: string[] = [];
  const lookups: string[] = [];
  const store: PrekeyStore = {
    signedPrekey: (id) => {
      lookups.push(`spk ${id}`);
      return id === p.signedPrekey.id ? p.signedPrekey : undefined;
    },
    oneTimePrekey: (id) => {
      lookups.push(`opk ${id}`);
      return oneTime.get(id);
    },
    acceptedBefore: (spkId, baseKey) => accepted.has(`${spkId}:${toHex(baseKey)}`),
  };
  const keyBytes = () =>
    toHex(concat(p.signedPrekey.keyPair.privateKey, ...[...oneTime.values()].map((k) => k.keyPair.privateKey)));
  const receiveFirst = (env: Envelope) => {
    const r = acceptSession(p.rng, p.identity, store, env);
    if (r.usedOneTimePrekeyId !== undefined) {
      oneTime.delete(r.usedOneTimePrekeyId);
      changes.push(`delete opk ${r.usedOneTimePrekeyId}`);
    }
    accepted.add(`${r.signedPrekeyId}:${toHex(r.baseKey)}`);
    changes.push(`remember ${r.signedPrekeyId}`);
    return r;
  };
  return { store, oneTime, accepted, changes, lookups, keyBytes, receiveFirst };
}

describe("1:1 sessions (X3DH + Double Ratchet + padding + envelopes)", () => {
  test("first contact while the recipient is offline, then a conversation", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    let a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    // Alice sends twice before Bob is ever online: both are PREKEY envelopes.
    const e1 = sessionEncrypt(a, alice.identity.publicKey, utf8("hello bob"));
    a = e1.session;
    const e2 = sessionEncrypt(a, alice.identity.publicKey, utf8("are you there?"));
    a = e2.session;
    expect(e1.envelope[0]).toBe(0x02);
    expect(e2.envelope[0]).toBe(0x02);
    // Bob comes online and reads them out of order.
    const env2 = parseEnvelope(e2.envelope);
    const accepted = acceptSession(bob.rng, bob.identity, recordingStore(bob).store, env2);
    expect(text(accepted.plaintext)).toBe("are you there?");
    expect(accepted.usedOneTimePrekeyId).toBe(100);
    let b = accepted.session;
    const d1 = sessionDecrypt(bob.rng, b, parseEnvelope(e1.envelope));
    expect(text(d1.plaintext)).toBe("hello bob");
    b = d1.session;
    // Bob replies; once Alice has heard back she stops sending PREKEY envelopes.
    const r = sessionEncrypt(b, bob.identity.publicKey, utf8("hi alice"));
    b = r.session;
    expect(r.envelope[0]).toBe(0x01);
    const got = sessionDecrypt(alice.rng, a, parseEnvelope(r.envelope));
    a = got.session;
    expect(text(got.plaintext)).toBe("hi alice");
    expect(a.pendingPreKey).toBeNull();
    const e3 = sessionEncrypt(a, alice.identity.publicKey, utf8("great"));
    expect(e3.envelope[0]).toBe(0x01);
    expect(text(sessionDecrypt(bob.rng, b, parseEnvelope(e3.envelope)).plaintext)).toBe("great");
  });

  test("ciphertext length hides the exact message length (padding inside the encryption)", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    let a = initiateSession(alice.rng, alice.identity, bundleFor(bob, false)).session;
    const lengths = new Set<number>();
    for (const n of [0, 1, 5, 20, 31]) {
      const e = sessionEncrypt(a, alice.identity.publicKey, new Uint8Array(n));
      a = e.session;
      lengths.add(e.envelope.length);
    }
    expect(lengths.size).toBe(1);
    const e = sessionEncrypt(a, alice.identity.publicKey, new Uint8Array(1000));
    const env = parseEnvelope(e.envelope);
    expect(env.message.length).toBe(41 + paddedLength(1000) + 16);
  });

  test("a first message naming an unknown or used one-time prekey, or failing to decrypt, is refused and consumes nothing", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const bytes = sessionEncrypt(a, alice.identity.publicKey, utf8("x")).envelope;
    const env = parseEnvelope(bytes);
    if (env.type !== "prekey") throw new Error("expected a prekey envelope");
    expect(env.oneTimePrekeyId).toBe(100);
    const bobStore = recordingStore(bob);
    const keysBefore = bobStore.keyBytes();
    const refused = (e: Envelope) => expectCouldNotDecrypt(() => bobStore.receiveFirst(e));
    // A one-time prekey id Bob does not have (never his, or already used).
    refused({ ...env, oneTimePrekeyId: 999 });
    // A signed prekey id Bob does not have.
    refused({ ...env, signedPrekeyId: 8 });
    // The right prekeys, looked up and used in X3DH, but the message does not authenticate.
    const lookupsBefore = bobStore.lookups.length;
    const tampered = bytes.slice();
    tampered[tampered.length - 1]! ^= 1;
    refused(parseEnvelope(tampered));
    expect(bobStore.lookups.slice(lookupsBefore)).toEqual(["spk 7", "opk 100"]);
    // Nothing was deleted, remembered or wiped.
    expect(bobStore.changes).toEqual([]);
    expect(bobStore.accepted.size).toBe(0);
    expect([...bobStore.oneTime.keys()]).toEqual([100, 101, 102]);
    expect(bobStore.keyBytes()).toBe(keysBefore);
    // With the right keys it still works, and only now is the one-time prekey consumed.
    const ok = bobStore.receiveFirst(env);
    expect(text(ok.plaintext)).toBe("x");
    expect(ok.usedOneTimePrekeyId).toBe(100);
    expect(bobStore.changes).toEqual(["delete opk 100", "remember 7"]);
    expect([...bobStore.oneTime.keys()]).toEqual([101, 102]);
    // And the same first message again is refused: its one-time prekey is gone.
    refused(env);
  });

  test("a tampered first message is refused ('could not decrypt', or CodecError for a broken structure); the genuine one passes", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const bytes = sessionEncrypt(a, alice.identity.publicKey, utf8("genuine")).envelope;
    const bobStore = recordingStore(bob);
    const keysBefore = bobStore.keyBytes();
    // The envelope type (offset 0) and the has-opk flag (offset 1 + 128 + 32 + 4) are structure.
    const structural = new Set([0, 165]);
    // The ratchet header starts after the opk id; its pn and n are at header offsets 33 and 37.
    const headerAt = 1 + 128 + 32 + 4 + 1 + 4;
    let codecErrors = 0;
    let limitErrors = 0;
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i]! ^= 0x04;
      let env: Envelope;
      try {
        env = parseEnvelope(bad);
      } catch (e) {
        if (e instanceof CodecError) {
          expect(structural.has(i), `offset ${i}`).toBe(true);
          codecErrors++;
        } else {
          // A broken identity signature (offsets 1..128).
          expect(i >= 1 && i <= 128, `offset ${i}`).toBe(true);
          expectCouldNotDecrypt(() => {
            throw e;
          });
        }
        continue;
      }
      // A pn or n raised past MAX_SKIP hits the skip bound before the AEAD: a LimitError that
      // is not authenticated (§6.7). Everything else is "could not decrypt".
      const view = new DataView(bad.buffer);
      const overSkip =
        (i >= headerAt + 33 && i < headerAt + 37 && view.getUint32(headerAt + 33) > 1000) ||
        (i >= headerAt + 37 && i < headerAt + 41 && view.getUint32(headerAt + 37) > 1000);
      if (overSkip) {
        limitErrors++;
        expect(() => bobStore.receiveFirst(env)).toThrow(LimitError);
      } else {
        expectCouldNotDecrypt(() => bobStore.receiveFirst(env));
      }
    }
    expect(codecErrors).toBe(2);
    expect(limitErrors).toBe(6);
    expect(bobStore.changes).toEqual([]);
    expect(bobStore.keyBytes()).toBe(keysBefore);
    expect(text(bobStore.receiveFirst(parseEnvelope(bytes)).plaintext)).toBe("genuine");
  });

  test("first-message failures all say 'could not decrypt': bad identity signature, low-order EK, bad version, MESSAGE envelope", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob, false)).session;
    const bytes = sessionEncrypt(a, alice.identity.publicKey, utf8("x")).envelope;
    const store = recordingStore(bob).store;
    const badSignature = bytes.slice();
    badSignature[1 + 64 + 3]! ^= 1;
    expectCouldNotDecrypt(() => parseEnvelope(badSignature));
    const env = parseEnvelope(bytes);
    if (env.type !== "prekey") throw new Error("expected a prekey envelope");
    expectCouldNotDecrypt(() => acceptSession(bob.rng, bob.identity, store, { ...env, ephemeral: new Uint8Array(32) }));
    const low = new Uint8Array(32);
    low[0] = 1;
    expectCouldNotDecrypt(() => acceptSession(bob.rng, bob.identity, store, { ...env, ephemeral: low }));
    const badVersion = env.message.slice();
    badVersion[0] = 0x02;
    expectCouldNotDecrypt(() => acceptSession(bob.rng, bob.identity, store, { ...env, message: badVersion }));
    expectCouldNotDecrypt(() => acceptSession(bob.rng, bob.identity, store, { type: "message", message: env.message }));
    expect(text(acceptSession(bob.rng, bob.identity, store, env).plaintext)).toBe("x");
  });

  test("a replayed first message without a one-time prekey is refused once its base key was accepted, session gone or not (§6.5)", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob, false)).session;
    const env = parseEnvelope(sessionEncrypt(a, alice.identity.publicKey, utf8("hello")).envelope);
    if (env.type !== "prekey") throw new Error("expected a prekey envelope");
    const bobStore = recordingStore(bob);
    const first = bobStore.receiveFirst(env);
    expect(text(first.plaintext)).toBe("hello");
    expect(first.usedOneTimePrekeyId).toBeUndefined();
    expect(toHex(first.baseKey)).toBe(toHex(env.ephemeral));
    expect(first.signedPrekeyId).toBe(7);
    // Bob no longer holds that session (replaced, or lost); the relay replays the envelope.
    expectCouldNotDecrypt(() => acceptSession(bob.rng, bob.identity, bobStore.store, env));
    // A new first message from Alice (a new base key) is still welcome.
    const a2 = initiateSession(alice.rng, alice.identity, bundleFor(bob, false)).session;
    expect(
      text(
        bobStore.receiveFirst(parseEnvelope(sessionEncrypt(a2, alice.identity.publicKey, utf8("again")).envelope))
          .plaintext,
      ),
    ).toBe("again");
  });

  test("a session encrypts at most once from the same state (no key and nonce reuse)", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const e = sessionEncrypt(a, alice.identity.publicKey, utf8("AAAA"));
    expect(() => sessionEncrypt(a, alice.identity.publicKey, utf8("BBBB"))).toThrow(UsageError);
    // Nor through another session object built around the same ratchet state.
    expect(() => sessionEncrypt({ ...a }, alice.identity.publicKey, utf8("BBBB"))).toThrow(UsageError);
    expect(sessionEncrypt(e.session, alice.identity.publicKey, utf8("BBBB")).envelope[0]).toBe(0x02);
  });

  test("session functions return no X3DH secrets or traces, only what the caller needs", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const init = initiateSession(alice.rng, alice.identity, bundleFor(bob));
    expect(Object.keys(init)).toEqual(["session"]);
    const e = sessionEncrypt(init.session, alice.identity.publicKey, utf8("x"));
    expect(Object.keys(e).sort()).toEqual(["envelope", "session"]);
    const acc = recordingStore(bob).receiveFirst(parseEnvelope(e.envelope));
    expect(Object.keys(acc).sort()).toEqual([
      "baseKey",
      "consumed",
      "plaintext",
      "session",
      "signedPrekeyId",
      "usedOneTimePrekeyId",
    ]);
    expect(acc.consumed).toHaveLength(32);
    const before = snap(acc.session);
    acc.consumed.fill(0);
    acc.baseKey.fill(0);
    expect(snap(acc.session)).toBe(before);
    const r = sessionEncrypt(acc.session, bob.identity.publicKey, utf8("y"));
    const d = sessionDecrypt(alice.rng, e.session, parseEnvelope(r.envelope));
    expect(Object.keys(d).sort()).toEqual(["consumed", "plaintext", "session"]);
    const aliceBefore = snap(d.session);
    d.consumed.fill(0);
    expect(snap(d.session)).toBe(aliceBefore);
    expect(text(d.plaintext)).toBe("y");
  });

  test("someone else's identity in a PREKEY envelope does not decrypt (wrong identity key makes X3DH fail)", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const mallory = makeParty("mallory");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const env = parseEnvelope(sessionEncrypt(a, alice.identity.publicKey, utf8("x")).envelope);
    if (env.type !== "prekey") throw new Error("expected a prekey envelope");
    expect(() =>
      acceptSession(bob.rng, bob.identity, recordingStore(bob).store, { ...env, identity: mallory.identity.publicKey }),
    ).toThrow(CryptoVerificationError);
  });

  test("a PREKEY envelope for another session is not decrypted on this one, and the session is unchanged", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a1 = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const b = acceptSession(
      bob.rng,
      bob.identity,
      recordingStore(bob).store,
      parseEnvelope(sessionEncrypt(a1, alice.identity.publicKey, utf8("1")).envelope),
    ).session;
    const a2 = initiateSession(alice.rng, alice.identity, bundleFor(bob, false)).session;
    const other = parseEnvelope(sessionEncrypt(a2, alice.identity.publicKey, utf8("2")).envelope);
    const before = snap(b);
    expect(() => sessionDecrypt(bob.rng, b, other)).toThrow(CryptoVerificationError);
    expect(snap(b)).toBe(before);
  });

  test("malformed envelopes get a CodecError", () => {
    expect(() => parseEnvelope(new Uint8Array([]))).toThrow(CodecError);
    expect(() => parseEnvelope(new Uint8Array([9, 1, 2]))).toThrow(CodecError);
    expect(() => parseEnvelope(new Uint8Array([1, 1, 2]))).toThrow(CodecError);
    // Well-formed but carrying an identity whose signature does not verify.
    expectCouldNotDecrypt(() => parseEnvelope(new Uint8Array(200).fill(2)));
  });

  test("sessionDecrypt reports a bad header version or a truncated message as 'could not decrypt', session unchanged", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const e1 = sessionEncrypt(a, alice.identity.publicKey, utf8("1"));
    const b = recordingStore(bob).receiveFirst(parseEnvelope(e1.envelope)).session;
    const e2 = parseEnvelope(sessionEncrypt(e1.session, alice.identity.publicKey, utf8("2")).envelope);
    const before = snap(b);
    const badVersion = e2.message.slice();
    badVersion[0] = 0x00;
    expectCouldNotDecrypt(() => sessionDecrypt(bob.rng, b, { ...e2, message: badVersion }));
    expectCouldNotDecrypt(() => sessionDecrypt(bob.rng, b, { type: "message", message: e2.message.subarray(0, 30) }));
    expect(snap(b)).toBe(before);
    expect(text(sessionDecrypt(bob.rng, b, e2).plaintext)).toBe("2");
  });

  test("session state round-trips through bytes on both sides", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    expect(snap(decodeSessionState(encodeSessionState(a)))).toBe(snap(a));
    const e = sessionEncrypt(a, alice.identity.publicKey, utf8("x"));
    const b = acceptSession(bob.rng, bob.identity, recordingStore(bob).store, parseEnvelope(e.envelope)).session;
    const b2 = decodeSessionState(encodeSessionState(b));
    expect(snap(b2)).toBe(snap(b));
    const bytes = encodeSessionState(b);
    expect(() => decodeSessionState(bytes.subarray(0, 100))).toThrow(CodecError);
    expect(() => decodeSessionState(new Uint8Array([...bytes, 1]))).toThrow(CodecError);
  });

  test("the session decoder refuses bad flags, a pending EK that is not the base key, and a corrupted identity", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const bytes = encodeSessionState(a);
    // Layout: 0x01 || identity (1..128) || base key (129..160) || pending (161) || EK (162..193) || spk id || has_opk (198) || opk id.
    expect(bytes[161]).toBe(1);
    expect(bytes[198]).toBe(1);
    expect(bytesEqual(bytes.subarray(129, 161), bytes.subarray(162, 194))).toBe(true);
    const patched = (at: number, f: (x: number) => number) => {
      const c = bytes.slice();
      c[at] = f(c[at]!);
      return c;
    };
    for (const v of [2, 3, 0x80, 0xff]) {
      expect(() => decodeSessionState(patched(161, () => v))).toThrow(/bad pending flag/);
      expect(() => decodeSessionState(patched(198, () => v))).toThrow(/bad one-time prekey flag/);
    }
    expect(() => decodeSessionState(patched(170, (x) => x ^ 1))).toThrow(CodecError);
    expect(() => decodeSessionState(patched(140, (x) => x ^ 1))).toThrow(CodecError);
    expect(() => decodeSessionState(patched(0, () => 2))).toThrow(CodecError);
    // The encoder refuses what the decoder would refuse.
    const other = new Uint8Array(32).fill(1);
    expect(() => encodeSessionState({ ...a, baseKey: other })).toThrow(UsageError);
    // The peer's identity is verified on decode: a corrupted one is refused.
    expect(() => decodeSessionState(patched(40, (x) => x ^ 1))).toThrow(CryptoVerificationError);
  });
});
