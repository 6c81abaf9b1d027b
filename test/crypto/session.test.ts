import { describe, expect, test } from "vitest";
import { toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError } from "../../crypto/errors.js";
import {
  type SessionState,
  acceptSession,
  initiateSession,
  parseEnvelope,
  sessionDecrypt,
  sessionEncrypt,
} from "../../crypto/session.js";
import { decodeSessionState, encodeSessionState } from "../../crypto/session-codec.js";
import { paddedLength } from "../../crypto/padding.js";
import { bundleFor, makeParty, prekeyStore } from "../helpers/parties.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const snap = (s: SessionState) => toHex(encodeSessionState(s));

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
    const accepted = acceptSession(bob.rng, bob.identity, prekeyStore(bob), env2);
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

  test("a first message naming an unknown or used one-time prekey is refused and consumes nothing", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const env = parseEnvelope(sessionEncrypt(a, alice.identity.publicKey, utf8("x")).envelope);
    const store = prekeyStore(bob);
    const noOpk = { ...store, oneTimePrekey: () => undefined };
    expect(() => acceptSession(bob.rng, bob.identity, noOpk, env)).toThrow(CryptoVerificationError);
    const noSpk = { ...store, signedPrekey: () => undefined };
    expect(() => acceptSession(bob.rng, bob.identity, noSpk, env)).toThrow(CryptoVerificationError);
    // With the right keys it still works: the failed attempts changed nothing.
    expect(text(acceptSession(bob.rng, bob.identity, store, env).plaintext)).toBe("x");
  });

  test("a tampered first message is refused; the genuine one is then accepted", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const bytes = sessionEncrypt(a, alice.identity.publicKey, utf8("genuine")).envelope;
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i]! ^= 0x04;
      expect(() => acceptSession(bob.rng, bob.identity, prekeyStore(bob), parseEnvelope(bad))).toThrow();
    }
    expect(text(acceptSession(bob.rng, bob.identity, prekeyStore(bob), parseEnvelope(bytes)).plaintext)).toBe("genuine");
  });

  test("someone else's identity in a PREKEY envelope does not decrypt (wrong identity key makes X3DH fail)", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const mallory = makeParty("mallory");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const env = parseEnvelope(sessionEncrypt(a, alice.identity.publicKey, utf8("x")).envelope);
    if (env.type !== "prekey") throw new Error("expected a prekey envelope");
    expect(() => acceptSession(bob.rng, bob.identity, prekeyStore(bob), { ...env, identity: mallory.identity.publicKey })).toThrow(CryptoVerificationError);
  });

  test("a PREKEY envelope for another session is not decrypted on this one, and the session is unchanged", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a1 = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    const b = acceptSession(bob.rng, bob.identity, prekeyStore(bob), parseEnvelope(sessionEncrypt(a1, alice.identity.publicKey, utf8("1")).envelope)).session;
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
    expect(() => parseEnvelope(new Uint8Array(200).fill(2))).toThrow();
  });

  test("session state round-trips through bytes on both sides", () => {
    const alice = makeParty("alice");
    const bob = makeParty("bob");
    const a = initiateSession(alice.rng, alice.identity, bundleFor(bob)).session;
    expect(snap(decodeSessionState(encodeSessionState(a)))).toBe(snap(a));
    const e = sessionEncrypt(a, alice.identity.publicKey, utf8("x"));
    const b = acceptSession(bob.rng, bob.identity, prekeyStore(bob), parseEnvelope(e.envelope)).session;
    const b2 = decodeSessionState(encodeSessionState(b));
    expect(snap(b2)).toBe(snap(b));
    const bytes = encodeSessionState(b);
    expect(() => decodeSessionState(bytes.subarray(0, 100))).toThrow();
    expect(() => decodeSessionState(new Uint8Array([...bytes, 1]))).toThrow();
  });
});
