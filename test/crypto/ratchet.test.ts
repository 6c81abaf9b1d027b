import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { bytesEqual, toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, LimitError, UsageError } from "../../crypto/errors.js";
import {
  MAX_SKIP,
  MAX_SKIPPED_KEYS,
  type RatchetState,
  SKIPPED_KEY_MAX_STEPS,
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetInitInitiator,
  ratchetInitResponder,
} from "../../crypto/ratchet.js";
import { decodeRatchetState, encodeRatchetState } from "../../crypto/ratchet-codec.js";
import { HEADER_BYTES, decodeHeader, encodeHeader } from "../../crypto/ratchet-header.js";
import { type Rng, seededRng } from "../../crypto/rng.js";
import { hkdfSha256, hmacSha256, x25519KeyPair, xchachaEncrypt } from "../../crypto/primitives.js";
import { label } from "../../crypto/labels.js";
import { concat } from "../../crypto/bytes.js";

/** A fresh pair of ratchet states as X3DH would leave them. */
function pair(seed = "ratchet pair seed") {
  const rng = seededRng(utf8(seed.padEnd(16, ".")));
  const sk = rng(32);
  const ad = rng(128);
  const bobKey = x25519KeyPair(rng);
  const alice = ratchetInitInitiator(rng, sk, ad, bobKey.publicKey).state;
  const bob = ratchetInitResponder(sk, ad, bobKey);
  return { alice, bob, rng };
}

/** A state's bytes: the strongest "unchanged" check there is. */
const snapshot = (s: RatchetState) => toHex(encodeRatchetState(s));

/**
 * The failure §2 requires for anything that does not authenticate: exactly a
 * CryptoVerificationError saying "could not decrypt" (a TypeError, a CodecError or a message
 * naming the failed check does not pass).
 */
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

function expectRejected(
  rng: Rng,
  state: RatchetState,
  message: Uint8Array,
  kind: new (...a: never[]) => Error = CryptoVerificationError,
) {
  const before = snapshot(state);
  if (kind === CryptoVerificationError) expectCouldNotDecrypt(() => ratchetDecrypt(rng, state, message));
  else expect(() => ratchetDecrypt(rng, state, message)).toThrow(kind);
  expect(snapshot(state)).toBe(before);
}

describe("Double Ratchet basics", () => {
  test("ping-pong conversation decrypts in order, both directions", () => {
    let { alice, bob, rng } = pair();
    for (let i = 0; i < 20; i++) {
      const a = ratchetEncrypt(alice, utf8(`a${i}`));
      alice = a.state;
      const b = ratchetDecrypt(rng, bob, a.message);
      bob = b.state;
      expect(new TextDecoder().decode(b.plaintext)).toBe(`a${i}`);
      const r = ratchetEncrypt(bob, utf8(`b${i}`));
      bob = r.state;
      const d = ratchetDecrypt(rng, alice, r.message);
      alice = d.state;
      expect(new TextDecoder().decode(d.plaintext)).toBe(`b${i}`);
    }
    expect(alice.step).toBe(20);
    expect(bob.step).toBe(20);
  });

  test("the responder cannot send before it has received", () => {
    const { bob } = pair();
    expect(() => ratchetEncrypt(bob, utf8("x"))).toThrow(UsageError);
  });

  test("state serializes to bytes and back, and the copy behaves the same", () => {
    let { alice, bob, rng } = pair();
    const msgs = [0, 1, 2, 3].map((i) => {
      const e = ratchetEncrypt(alice, utf8(`m${i}`));
      alice = e.state;
      return e.message;
    });
    bob = ratchetDecrypt(rng, bob, msgs[3]!).state; // leaves three skipped keys
    expect(bob.skipped).toHaveLength(3);
    const copy = decodeRatchetState(encodeRatchetState(bob));
    expect(snapshot(copy)).toBe(snapshot(bob));
    const x = ratchetDecrypt(seededRng(utf8("same randomness!")), bob, msgs[1]!);
    const y = ratchetDecrypt(seededRng(utf8("same randomness!")), copy, msgs[1]!);
    expect(snapshot(x.state)).toBe(snapshot(y.state));
  });

  test("a malformed state blob is refused", () => {
    const { alice } = pair();
    const bytes = encodeRatchetState(alice);
    expect(() => decodeRatchetState(bytes.subarray(0, bytes.length - 1))).toThrow(CodecError);
    expect(() => decodeRatchetState(new Uint8Array([...bytes, 0]))).toThrow(CodecError);
    const badVersion = bytes.slice();
    badVersion[0] = 9;
    expect(() => decodeRatchetState(badVersion)).toThrow(CodecError);
  });
});

describe("Double Ratchet failure properties", () => {
  test("flipping any byte of a message (header or ciphertext) is rejected, the state is unchanged, the genuine one decrypts", () => {
    let { alice, bob, rng } = pair();
    // Move both sides past the first exchange so the header has non-zero pn and n.
    for (let i = 0; i < 3; i++) {
      const e = ratchetEncrypt(alice, utf8("warm-up"));
      alice = e.state;
      bob = ratchetDecrypt(rng, bob, e.message).state;
    }
    const r = ratchetEncrypt(bob, utf8("reply"));
    bob = r.state;
    alice = ratchetDecrypt(rng, alice, r.message).state;
    const a1 = ratchetEncrypt(alice, utf8("one"));
    const a2 = ratchetEncrypt(a1.state, utf8("the genuine message"));
    bob = ratchetDecrypt(rng, bob, a1.message).state;
    const msg = a2.message;
    let limits = 0;
    for (let i = 0; i < msg.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = msg.slice();
        bad[i]! ^= bit;
        // A flipped n that jumps more than MAX_SKIP ahead in the current chain hits the skip
        // bound, which is checked before the AEAD (a LimitError that is not authenticated,
        // SECURITY.md §6.7). Every other change is "could not decrypt".
        const n = new DataView(bad.buffer).getUint32(37);
        const overSkip = i >= 37 && i < 41 && n !== 0xffffffff && n - bob.recvN > MAX_SKIP;
        if (overSkip) {
          limits++;
          expectRejected(rng, bob, bad, LimitError);
        } else {
          expectRejected(rng, bob, bad);
        }
      }
    }
    expect(limits).toBeGreaterThan(0);
    expect(new TextDecoder().decode(ratchetDecrypt(rng, bob, msg).plaintext)).toBe("the genuine message");
  });

  test("a different associated data (another identity pair) makes every message fail", () => {
    let { alice, bob, rng } = pair();
    const e = ratchetEncrypt(alice, utf8("hi"));
    for (let i = 0; i < bob.ad.length; i += 9) {
      const ad = bob.ad.slice();
      ad[i]! ^= 1;
      expectRejected(rng, { ...bob, ad }, e.message);
    }
    bob = ratchetDecrypt(rng, bob, e.message).state;
    expect(bob.recvN).toBe(1);
  });

  test("truncated messages are rejected without a crash", () => {
    const { alice, bob, rng } = pair();
    const e = ratchetEncrypt(alice, utf8("hi"));
    for (let len = 0; len < e.message.length; len++) {
      expectRejected(rng, bob, e.message.subarray(0, len));
    }
  });

  test("replays are rejected: in the current chain, from the skipped store, and from an old chain", () => {
    let { alice, bob, rng } = pair();
    const m0 = ratchetEncrypt(alice, utf8("0"));
    const m1 = ratchetEncrypt(m0.state, utf8("1"));
    const m2 = ratchetEncrypt(m1.state, utf8("2"));
    alice = m2.state;
    bob = ratchetDecrypt(rng, bob, m0.message).state;
    expectRejected(rng, bob, m0.message); // current chain
    bob = ratchetDecrypt(rng, bob, m2.message).state; // m1's key is now skipped
    bob = ratchetDecrypt(rng, bob, m1.message).state; // used from the store
    expectRejected(rng, bob, m1.message); // skipped key gone
    // After a round trip, m2 belongs to an old chain.
    const r = ratchetEncrypt(bob, utf8("r"));
    bob = r.state;
    alice = ratchetDecrypt(rng, alice, r.message).state;
    const a = ratchetEncrypt(alice, utf8("new chain"));
    bob = ratchetDecrypt(rng, bob, a.message).state;
    expectRejected(rng, bob, m2.message);
    expectRejected(rng, alice, r.message);
  });

  test("reflections (a party's own message sent back to it) are rejected", () => {
    let { alice, bob, rng } = pair();
    const a = ratchetEncrypt(alice, utf8("mine"));
    alice = a.state;
    expectRejected(rng, alice, a.message);
    bob = ratchetDecrypt(rng, bob, a.message).state;
    const b = ratchetEncrypt(bob, utf8("bob's"));
    bob = b.state;
    expectRejected(rng, bob, b.message);
  });

  test("a message that would skip more than MAX_SKIP keys is rejected with the state unchanged", () => {
    let { alice, bob, rng } = pair();
    let last: Uint8Array | undefined;
    let justInside: Uint8Array | undefined;
    for (let i = 0; i <= MAX_SKIP + 1; i++) {
      const e = ratchetEncrypt(alice, utf8(`${i}`));
      alice = e.state;
      if (i === MAX_SKIP) justInside = e.message;
      last = e.message;
    }
    expect(decodeHeader(last!).n).toBe(MAX_SKIP + 1);
    expectRejected(rng, bob, last!, LimitError);
    // Exactly MAX_SKIP skipped keys is still allowed.
    const ok = ratchetDecrypt(rng, bob, justInside!);
    expect(ok.state.skipped).toHaveLength(MAX_SKIP);
  });

  test("skipped keys are purged after SKIPPED_KEY_MAX_STEPS DH ratchet steps", () => {
    let { alice, bob, rng } = pair();
    const held = ratchetEncrypt(alice, utf8("delayed"));
    const next = ratchetEncrypt(held.state, utf8("on time"));
    alice = next.state;
    bob = ratchetDecrypt(rng, bob, next.message).state;
    expect(bob.skipped).toHaveLength(1);
    const roundTrip = () => {
      const b = ratchetEncrypt(bob, utf8("b"));
      bob = b.state;
      alice = ratchetDecrypt(rng, alice, b.message).state;
      const a = ratchetEncrypt(alice, utf8("a"));
      alice = a.state;
      bob = ratchetDecrypt(rng, bob, a.message).state;
    };
    // Each round trip is one DH ratchet step on Bob's side.
    for (let i = 0; i < SKIPPED_KEY_MAX_STEPS; i++) roundTrip();
    expect(bob.skipped).toHaveLength(1);
    expect(new TextDecoder().decode(ratchetDecrypt(rng, bob, held.message).plaintext)).toBe("delayed");
    roundTrip();
    expect(bob.skipped).toHaveLength(0);
    expectRejected(rng, bob, held.message);
  });

  test("forward secrecy: a state copied after message k cannot decrypt messages before k", () => {
    let { alice, bob, rng } = pair();
    const sent: Uint8Array[] = [];
    // Every key Bob has used so far, from the traces: message keys, AEAD keys, and the chain
    // and root keys he has already moved past. None may survive in his state.
    const past: Uint8Array[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) {
        const e = ratchetEncrypt(alice, utf8(`a${round}.${i}`));
        alice = e.state;
        sent.push(e.message);
        const d = ratchetDecrypt(rng, bob, e.message);
        bob = d.state;
        past.push(d.trace.keys.messageKey, d.trace.keys.aeadKey, d.trace.keys.chainKey!, d.consumed);
        if (d.trace.dhRatchet) past.push(d.trace.dhRatchet.receive.rootKey, d.trace.dhRatchet.receive.chainKey);
      }
      const r = ratchetEncrypt(bob, utf8(`b${round}`));
      bob = r.state;
      past.push(r.trace.messageKey, r.trace.aeadKey, r.trace.chainKey);
      alice = ratchetDecrypt(rng, alice, r.message).state;
    }
    expect(past.length).toBeGreaterThan(30);
    // An attacker who steals Bob's state now learns nothing about what Bob already received.
    const stolenBytes = toHex(encodeRatchetState(bob));
    for (const k of past) expect(k.length).toBe(32);
    // Compared at even (byte) offsets only: a hex match at an odd offset is not a byte match.
    const containsBytes = (hay: string, needle: string) => {
      for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) if (at % 2 === 0) return true;
      return false;
    };
    for (const k of past) expect(containsBytes(stolenBytes, toHex(k))).toBe(false);
    const stolen = decodeRatchetState(encodeRatchetState(bob));
    for (const m of sent) expectRejected(rng, stolen, m);
  });

  test("post-compromise security: a copied state is useless after one round trip of the ratchet", () => {
    let { alice, bob, rng } = pair();
    const send = (from: "a" | "b", text: string) => {
      if (from === "a") {
        const e = ratchetEncrypt(alice, utf8(text));
        alice = e.state;
        bob = ratchetDecrypt(rng, bob, e.message).state;
        return e.message;
      }
      const e = ratchetEncrypt(bob, utf8(text));
      bob = e.state;
      alice = ratchetDecrypt(rng, alice, e.message).state;
      return e.message;
    };
    send("a", "before");
    // The attacker copies Bob's whole state, including his current ratchet private key B1.
    const stolen = decodeRatchetState(encodeRatchetState(bob));
    const attackerRng = seededRng(utf8("attacker's own randomness"));
    send("b", "r1"); // Bob on B1
    const after1 = send("a", "after1"); // Alice on A2 = DH(A2, B1): B1 is compromised, so this one is still readable
    const follow = ratchetDecrypt(attackerRng, stolen, after1);
    expect(new TextDecoder().decode(follow.plaintext)).toBe("after1");
    send("b", "r2"); // Bob's fresh B2, drawn from randomness the attacker never saw
    const after2 = send("a", "after2"); // DH(A3, B2): healed
    expectRejected(attackerRng, stolen, after2);
    expectRejected(attackerRng, follow.state, after2);
    // Nor can the attacker impersonate Bob any more: his old sending chain is closed for Alice.
    const forged = ratchetEncrypt(follow.state, utf8("forged"));
    expectRejected(rng, alice, forged.message);
    const forgedOld = ratchetEncrypt(ratchetEncrypt(stolen, utf8("x")).state, utf8("forged on B1"));
    expectRejected(rng, alice, forgedOld.message);
  });

  test("header encoding is exactly 41 bytes and round-trips", () => {
    const h = { dh: new Uint8Array(32).fill(3), pn: 0x01020304, n: 0xfffffffe };
    const b = encodeHeader(h);
    expect(b.length).toBe(HEADER_BYTES);
    const d = decodeHeader(b);
    expect(bytesEqual(d.dh, h.dh) && d.pn === h.pn && d.n === h.n).toBe(true);
  });
});

/** Every Uint8Array reachable from `v` (objects, arrays, maps). */
function allBytes(v: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (v instanceof Uint8Array) out.push(v);
  else if (v instanceof Map) for (const x of v.values()) allBytes(x, out);
  else if (Array.isArray(v)) for (const x of v) allBytes(x, out);
  else if (v !== null && typeof v === "object") for (const x of Object.values(v)) allBytes(x, out);
  return out;
}

/** Overwrites every byte array reachable from `v` with zeros, as a caller wiping secrets would. */
function wipeAll(v: unknown): number {
  const all = allBytes(v);
  for (const b of all) b.fill(0);
  return all.length;
}

/** A copy of `s` made through the stored encoding (fresh arrays), with some fields replaced. */
function reloaded(s: RatchetState, patch: Partial<RatchetState> = {}): RatchetState {
  const out = { ...decodeRatchetState(encodeRatchetState(s)), ...patch };
  // Whatever the patch did, the result must be a state the codec accepts.
  expect(snapshot(decodeRatchetState(encodeRatchetState(out)))).toBe(snapshot(out));
  return out;
}

/**
 * A reference sender written from SECURITY.md §6.2–§6.4 alone: the message `s` would send as
 * number `n` of its current chain, without the implementation's checks (a peer that ignores them).
 */
function sealAt(s: RatchetState, n: number, plaintext: Uint8Array): Uint8Array {
  const mk = hmacSha256(s.sendChain!, label("chainMessageKey"));
  const okm = hkdfSha256(mk, new Uint8Array(32), label("messageKeys"), 56);
  const header = encodeHeader({ dh: s.dhSelf.publicKey, pn: s.prevSendN, n });
  return concat(header, xchachaEncrypt(okm.slice(0, 32), okm.slice(32, 56), plaintext, concat(s.ad, header)));
}

describe("one message per state: a key and nonce are never used twice (§6.4)", () => {
  test("encrypting twice from the same state object is refused with a UsageError", () => {
    const { alice } = pair();
    const first = ratchetEncrypt(alice, utf8("AAAA"));
    expect(() => ratchetEncrypt(alice, utf8("BBBB"))).toThrow(UsageError);
    // The returned state is the one to go on with.
    const second = ratchetEncrypt(first.state, utf8("BBBB"));
    expect(decodeHeader(second.message).n).toBe(1);
    expect(() => ratchetEncrypt(first.state, utf8("CCCC"))).toThrow(UsageError);
  });

  test("a stale state is refused even after it went through a decrypt that kept its sending chain", () => {
    let { alice, bob, rng } = pair();
    const a0 = ratchetEncrypt(alice, utf8("a0"));
    alice = a0.state;
    bob = ratchetDecrypt(rng, bob, a0.message).state;
    const b0 = ratchetEncrypt(bob, utf8("b0"));
    const b1 = ratchetEncrypt(b0.state, utf8("b1")); // same ratchet key as b0
    alice = ratchetDecrypt(rng, alice, b0.message).state;
    const sent = ratchetEncrypt(alice, utf8("from alice"));
    // The caller wrongly keeps `alice` and decrypts on it: no DH step, so the sending chain is the spent one.
    const stale = ratchetDecrypt(rng, alice, b1.message).state;
    expect(stale.sendN).toBe(alice.sendN);
    expect(() => ratchetEncrypt(stale, utf8("would reuse the key of 'from alice'"))).toThrow(UsageError);
    // The state that followed the encryption is fine.
    expect(new TextDecoder().decode(ratchetDecrypt(rng, sent.state, b1.message).plaintext)).toBe("b1");
  });

  test("the guard is per object: a state reloaded from storage (after a failed commit) encrypts the same message again", () => {
    const { alice } = pair();
    const stored = encodeRatchetState(alice);
    const e = ratchetEncrypt(alice, utf8("x"));
    expect(toHex(ratchetEncrypt(decodeRatchetState(stored), utf8("x")).message)).toBe(toHex(e.message));
  });
});

describe("traces and consumed keys are copies (§6.7): wiping them never touches a state", () => {
  test("wiping every byte array of every trace and of `consumed` leaves input and output states byte-identical and working", () => {
    const setup = seededRng(utf8("wipe test setup seed"));
    const sk = setup(32);
    const ad = setup(128);
    const bobKey = x25519KeyPair(setup);
    const rngFor = (step: number) => seededRng(utf8(`wipe test step ${step}`.padEnd(16, ".")));
    let wiped = 0;

    const init = ratchetInitInitiator(rngFor(-1), sk, ad, bobKey.publicKey);
    const initBefore = snapshot(init.state);
    wiped += wipeAll(init.trace);
    expect(snapshot(init.state)).toBe(initBefore);
    let alice = init.state;
    let bob = ratchetInitResponder(sk, ad, bobKey);

    const send = (state: RatchetState, text: string) => {
      const inBefore = snapshot(state);
      const e = ratchetEncrypt(state, utf8(text));
      const outBefore = snapshot(e.state);
      wiped += wipeAll(e.trace);
      expect(snapshot(state)).toBe(inBefore);
      expect(snapshot(e.state)).toBe(outBefore);
      // The input still works: reloaded, as after a failed commit, it sends the very same bytes.
      expect(toHex(ratchetEncrypt(decodeRatchetState(encodeRatchetState(state)), utf8(text)).message)).toBe(
        toHex(e.message),
      );
      return e;
    };
    let step = 0;
    const receive = (state: RatchetState, message: Uint8Array, text: string) => {
      const i = step++;
      const inBefore = snapshot(state);
      const d = ratchetDecrypt(rngFor(i), state, message);
      const outBefore = snapshot(d.state);
      expect(new TextDecoder().decode(d.plaintext)).toBe(text);
      wiped += wipeAll(d.trace) + wipeAll(d.consumed);
      expect(snapshot(state)).toBe(inBefore);
      expect(snapshot(d.state)).toBe(outBefore);
      // The input still works (the caller's commit failed): same message, same result.
      const again = ratchetDecrypt(rngFor(i), state, message);
      expect(new TextDecoder().decode(again.plaintext)).toBe(text);
      expect(snapshot(again.state)).toBe(outBefore);
      return d;
    };

    const a0 = send(alice, "a0");
    const a1 = send(a0.state, "a1");
    const a2 = send(a1.state, "a2");
    alice = a2.state;
    bob = receive(bob, a0.message, "a0").state; // first message: DH step
    const r2 = receive(bob, a2.message, "a2"); // stores a1's key
    expect(r2.trace.storedSkipped).toHaveLength(1);
    bob = r2.state;
    const r1 = receive(bob, a1.message, "a1"); // from the skipped store
    expect(r1.trace.usedSkippedKey).toBe(true);
    bob = r1.state;
    const b0 = send(bob, "b0");
    bob = b0.state;
    alice = receive(alice, b0.message, "b0").state; // DH step on Alice's side
    const a3 = send(alice, "a3");
    const a4 = send(a3.state, "a4");
    alice = a4.state;
    bob = receive(bob, a3.message, "a3").state; // DH step on Bob's side
    bob = receive(bob, a4.message, "a4").state; // same chain
    // Both output states go on working.
    const b1 = send(bob, "b1");
    alice = receive(alice, b1.message, "b1").state;
    expect(alice.recvN).toBe(1);
    expect(wiped).toBeGreaterThan(60);
  });
});

describe("failures on unauthenticated input are all 'could not decrypt' (§2, §6.7)", () => {
  test("an unknown header version, a short message and a header with n = 2^32 − 1 are refused as 'could not decrypt'", () => {
    const { alice, bob, rng } = pair();
    const e = ratchetEncrypt(alice, utf8("hi"));
    for (const version of [0x00, 0x02, 0xff]) {
      const bad = e.message.slice();
      bad[0] = version;
      expectRejected(rng, bob, bad);
    }
    expectRejected(rng, bob, e.message.subarray(0, HEADER_BYTES - 1));
    expectRejected(rng, bob, e.message.subarray(0, HEADER_BYTES + 15));
    const maxN = e.message.slice();
    new DataView(maxN.buffer).setUint32(37, 0xffffffff);
    expectRejected(rng, bob, maxN);
  });

  test("the skip bound is checked before the AEAD: a forged header can cause a LimitError, which leaves the state unchanged", () => {
    let { alice, bob, rng } = pair();
    const e = ratchetEncrypt(alice, utf8("hi"));
    alice = e.state;
    bob = ratchetDecrypt(rng, bob, e.message).state;
    const forged = ratchetEncrypt(alice, utf8("x")).message.slice();
    forged.set(x25519KeyPair(seededRng(utf8("forger's own randomness"))).publicKey, 1); // a new ratchet key
    new DataView(forged.buffer).setUint32(33, 5000); // pn
    expectRejected(rng, bob, forged, LimitError);
  });
});

describe("limits (§6.7)", () => {
  test("the skipped store keeps at most MAX_SKIPPED_KEYS keys and drops the oldest (first stored) first", () => {
    let { alice, bob, rng } = pair();
    const chain1: Uint8Array[] = [];
    for (let i = 0; i <= 2 * MAX_SKIP; i++) {
      const e = ratchetEncrypt(alice, utf8(`c1-${i}`));
      alice = e.state;
      chain1.push(e.message);
    }
    bob = ratchetDecrypt(rng, bob, chain1[MAX_SKIP]!).state; // stores c1-0 .. c1-999
    expect(bob.skipped).toHaveLength(MAX_SKIP);
    const r = ratchetEncrypt(bob, utf8("reply"));
    bob = r.state;
    alice = ratchetDecrypt(rng, alice, r.message).state;
    const chain2: Uint8Array[] = [];
    for (let i = 0; i <= MAX_SKIP; i++) {
      const e = ratchetEncrypt(alice, utf8(`c2-${i}`));
      alice = e.state;
      chain2.push(e.message);
    }
    // pn = 2001: stores c1-1001 .. c1-2000 (2000 in all), then c2-0 .. c2-999: 3000, the first 1000 go.
    const d = ratchetDecrypt(rng, bob, chain2[MAX_SKIP]!);
    expect(d.trace.storedSkipped).toHaveLength(2 * MAX_SKIP);
    bob = d.state;
    expect(MAX_SKIPPED_KEYS).toBe(2000);
    expect(bob.skipped).toHaveLength(MAX_SKIPPED_KEYS);
    const dh1 = toHex(decodeHeader(chain1[0]!).dh);
    const dh2 = toHex(decodeHeader(chain2[0]!).dh);
    // Insertion order is kept: the survivors run from c1-1001 to c2-999.
    expect([toHex(bob.skipped[0]!.dh), bob.skipped[0]!.n]).toEqual([dh1, MAX_SKIP + 1]);
    expect([toHex(bob.skipped.at(-1)!.dh), bob.skipped.at(-1)!.n]).toEqual([dh2, MAX_SKIP - 1]);
    expect(snapshot(decodeRatchetState(encodeRatchetState(bob)))).toBe(snapshot(bob));
    for (const gone of [0, 5, MAX_SKIP - 1]) expectRejected(rng, bob, chain1[gone]!);
    for (const [msg, text] of [
      [chain1[MAX_SKIP + 1]!, `c1-${MAX_SKIP + 1}`],
      [chain1[2 * MAX_SKIP]!, `c1-${2 * MAX_SKIP}`],
      [chain2[0]!, "c2-0"],
      [chain2[MAX_SKIP - 1]!, `c2-${MAX_SKIP - 1}`],
    ] as const) {
      expect(new TextDecoder().decode(ratchetDecrypt(rng, bob, msg).plaintext)).toBe(text);
    }
  });

  test("a new ratchet key whose pn skips more than MAX_SKIP keys of the old chain is refused (LimitError); MAX_SKIP is fine", () => {
    let { alice, bob, rng } = pair();
    const old: Uint8Array[] = [];
    for (let i = 0; i < MAX_SKIP + 2; i++) {
      const e = ratchetEncrypt(alice, utf8(`old-${i}`));
      alice = e.state;
      old.push(e.message);
    }
    bob = ratchetDecrypt(rng, bob, old[0]!).state; // Nr = 1
    const r = ratchetEncrypt(bob, utf8("reply"));
    bob = r.state;
    alice = ratchetDecrypt(rng, alice, r.message).state;
    const next = ratchetEncrypt(alice, utf8("new chain"));
    expect(decodeHeader(next.message).pn).toBe(MAX_SKIP + 2);
    expectRejected(rng, bob, next.message, LimitError); // pn − Nr = MAX_SKIP + 1
    bob = ratchetDecrypt(rng, bob, old[1]!).state; // Nr = 2
    const ok = ratchetDecrypt(rng, bob, next.message); // pn − Nr = MAX_SKIP
    expect(new TextDecoder().decode(ok.plaintext)).toBe("new chain");
    expect(ok.trace.storedSkipped).toHaveLength(MAX_SKIP);
  });

  test("a sending chain is exhausted after message 2^32 − 2; a message numbered 2^32 − 1 is never accepted", () => {
    let { alice, bob, rng } = pair();
    const a0 = ratchetEncrypt(alice, utf8("a0"));
    alice = a0.state;
    bob = ratchetDecrypt(rng, bob, a0.message).state;
    // The same chains, moved to the end of the counter range (chain keys do not depend on the counter).
    const aliceLate = reloaded(alice, { sendN: 0xfffffffe });
    const bobLate = reloaded(bob, { recvN: 0xfffffffe });
    const last = ratchetEncrypt(aliceLate, utf8("last"));
    expect(toHex(last.message)).toBe(toHex(sealAt(aliceLate, 0xfffffffe, utf8("last"))));
    expect(decodeHeader(last.message).n).toBe(0xfffffffe);
    expect(last.state.sendN).toBe(0xffffffff);
    const before = snapshot(last.state);
    expect(() => ratchetEncrypt(last.state, utf8("one too many"))).toThrow(LimitError);
    expect(snapshot(last.state)).toBe(before);
    const got = ratchetDecrypt(rng, bobLate, last.message);
    expect(new TextDecoder().decode(got.plaintext)).toBe("last");
    expect(got.state.recvN).toBe(0xffffffff);
    reloaded(got.state);
    // A peer that ignores the limit and sends n = 2^32 − 1 under the right key: refused, so Nr never passes 2^32 − 1.
    expectRejected(rng, got.state, sealAt(last.state, 0xffffffff, utf8("overflow")));
  });
});

describe("stored state codec (§6.6)", () => {
  test("refuses more than MAX_SKIPPED_KEYS skipped keys", () => {
    const { bob } = pair();
    const entry = (n: number) => ({
      dh: new Uint8Array(32).fill(7),
      n,
      messageKey: new Uint8Array(32).fill(n & 0xff),
      step: 0,
    });
    const full: RatchetState = { ...bob, skipped: Array.from({ length: MAX_SKIPPED_KEYS }, (_, i) => entry(i)) };
    const bytes = encodeRatchetState(full);
    expect(decodeRatchetState(bytes).skipped).toHaveLength(MAX_SKIPPED_KEYS);
    // One more entry, with the count raised to match: refused.
    const countAt = bytes.length - MAX_SKIPPED_KEYS * 72 - 4;
    expect(new DataView(bytes.buffer).getUint32(countAt)).toBe(MAX_SKIPPED_KEYS);
    const over = concat(bytes, new Uint8Array(72));
    new DataView(over.buffer).setUint32(countAt, MAX_SKIPPED_KEYS + 1);
    expect(() => decodeRatchetState(over)).toThrow(CodecError);
    expect(() => decodeRatchetState(over)).toThrow(/too many skipped keys/);
  });

  test("refuses unknown flag bits", () => {
    let { alice, bob, rng } = pair();
    const e = ratchetEncrypt(alice, utf8("x"));
    bob = ratchetDecrypt(rng, bob, e.message).state;
    for (const s of [alice, bob]) {
      const bytes = encodeRatchetState(s);
      const flagsAt = 1 + 4 + s.ad.length + 32 + 32;
      expect(bytes[flagsAt]).toBe(s === bob ? 7 : 3);
      for (let bit = 3; bit < 8; bit++) {
        const bad = bytes.slice();
        bad[flagsAt]! |= 1 << bit;
        expect(() => decodeRatchetState(bad)).toThrow(/unknown flags/);
      }
    }
  });

  test("refuses associated data longer than 1024 bytes, on decode and on encode", () => {
    const { bob } = pair();
    const ok = { ...bob, ad: new Uint8Array(1024) };
    expect(decodeRatchetState(encodeRatchetState(ok)).ad).toHaveLength(1024);
    const long = concat(new Uint8Array([1]), new Uint8Array([0, 0, 4, 1]), new Uint8Array(1025));
    expect(() => decodeRatchetState(long)).toThrow(CodecError);
    expect(() => encodeRatchetState({ ...bob, ad: new Uint8Array(1025) })).toThrow(UsageError);
  });
});

/**
 * The main property: over random conversations with random delivery order, loss and
 * duplication, every message delivered decrypts exactly once to what was sent, and nothing
 * else decrypts. The only allowed loss is a key aged out of the skipped store.
 */
describe("random conversations", () => {
  type Msg = { from: "a" | "b"; text: string; bytes: Uint8Array; dh: string; delivered: boolean };
  const action = fc.oneof(
    { arbitrary: fc.constant({ kind: "send" as const }), weight: 4 },
    { arbitrary: fc.nat().map((i) => ({ kind: "deliver" as const, i })), weight: 4 },
    { arbitrary: fc.nat().map((i) => ({ kind: "redeliver" as const, i })), weight: 1 },
  );
  const script = fc.array(fc.tuple(fc.constantFrom<"a" | "b">("a", "b"), action), {
    minLength: 10,
    maxLength: 80,
    size: "max",
  });

  test("each delivered message decrypts exactly once; replays, losses and reordering never corrupt a session", () => {
    // Guards against a vacuous property: the generated scripts must really exercise these paths.
    const seen = { decrypted: 0, outOfOrder: 0, rejected: 0 };
    fc.assert(
      fc.property(script, fc.integer({ min: 1, max: 1_000_000 }), (steps, seed) => {
        const p = pair(`conversation ${seed}`);
        const state = { a: p.alice, b: p.bob };
        const firstSeenStep: Record<"a" | "b", Map<string, number>> = { a: new Map(), b: new Map() };
        const inFlight: Msg[] = [];
        let counter = 0;
        for (const [who, act] of steps) {
          const other = who === "a" ? "b" : "a";
          if (act.kind === "send") {
            if (!state[who].sendChain) continue; // Bob cannot send before receiving
            const text = `${who}-${counter++}`;
            const e = ratchetEncrypt(state[who], utf8(text));
            state[who] = e.state;
            inFlight.push({
              from: who,
              text,
              bytes: e.message,
              dh: toHex(decodeHeader(e.message).dh),
              delivered: false,
            });
            continue;
          }
          // Deliver a message addressed to `who` (sent by the other side).
          const pending = inFlight.filter(
            (m) => m.from === other && (act.kind === "redeliver" ? m.delivered : !m.delivered),
          );
          if (pending.length === 0) continue;
          const m = pending[act.i % pending.length]!;
          const receiver = state[who];
          const seenAt = firstSeenStep[who].get(m.dh);
          const mustWork = !m.delivered && (seenAt === undefined || receiver.step - seenAt <= SKIPPED_KEY_MAX_STEPS);
          const before = snapshot(receiver);
          let result: ReturnType<typeof ratchetDecrypt> | undefined;
          try {
            result = ratchetDecrypt(p.rng, receiver, m.bytes);
          } catch (e) {
            if (mustWork) throw e;
            expect(e).toBeInstanceOf(CryptoVerificationError);
            expect(snapshot(receiver)).toBe(before);
            seen.rejected++;
            continue;
          }
          expect(mustWork).toBe(true); // a replay or aged-out key must never decrypt
          seen.decrypted++;
          if (result.trace.usedSkippedKey) seen.outOfOrder++;
          expect(new TextDecoder().decode(result.plaintext)).toBe(m.text);
          m.delivered = true;
          state[who] = result.state;
          if (seenAt === undefined) firstSeenStep[who].set(m.dh, result.state.step);
        }
      }),
      { numRuns: 60 },
    );
    console.log(
      `ratchet property: ${seen.decrypted} decrypted (${seen.outOfOrder} out of order), ${seen.rejected} replays or aged-out rejected`,
    );
    expect(seen.decrypted).toBeGreaterThan(300);
    expect(seen.outOfOrder).toBeGreaterThan(20);
    expect(seen.rejected).toBeGreaterThan(10);
  });
});
