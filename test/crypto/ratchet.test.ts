import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { bytesEqual, toHex, utf8 } from "../../crypto/bytes.js";
import { CryptoVerificationError, LimitError, UsageError } from "../../crypto/errors.js";
import {
  MAX_SKIP,
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
import { x25519KeyPair } from "../../crypto/primitives.js";

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

function expectRejected(rng: Rng, state: RatchetState, message: Uint8Array, kind: new (...a: never[]) => Error = CryptoVerificationError) {
  const before = snapshot(state);
  expect(() => ratchetDecrypt(rng, state, message)).toThrow(kind);
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
    expect(() => decodeRatchetState(bytes.subarray(0, bytes.length - 1))).toThrow();
    expect(() => decodeRatchetState(new Uint8Array([...bytes, 0]))).toThrow();
    const badVersion = bytes.slice();
    badVersion[0] = 9;
    expect(() => decodeRatchetState(badVersion)).toThrow();
  });
});

describe("Double Ratchet failure properties", () => {
  test("flipping any byte of a message (header or ciphertext) is rejected, the state is unchanged, and the genuine message still decrypts", () => {
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
    for (let i = 0; i < msg.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = msg.slice();
        bad[i]! ^= bit;
        const before = snapshot(bob);
        expect(() => ratchetDecrypt(rng, bob, bad)).toThrow();
        expect(snapshot(bob)).toBe(before);
      }
    }
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
      expect(() => ratchetDecrypt(rng, bob, e.message.subarray(0, len))).toThrow();
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
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) {
        const e = ratchetEncrypt(alice, utf8(`a${round}.${i}`));
        alice = e.state;
        sent.push(e.message);
        bob = ratchetDecrypt(rng, bob, e.message).state;
      }
      const r = ratchetEncrypt(bob, utf8(`b${round}`));
      bob = r.state;
      alice = ratchetDecrypt(rng, alice, r.message).state;
    }
    // An attacker who steals Bob's state now learns nothing about what Bob already received.
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
  const script = fc.array(fc.tuple(fc.constantFrom<"a" | "b">("a", "b"), action), { minLength: 10, maxLength: 80, size: "max" });

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
            inFlight.push({ from: who, text, bytes: e.message, dh: toHex(decodeHeader(e.message).dh), delivered: false });
            continue;
          }
          // Deliver a message addressed to `who` (sent by the other side).
          const pending = inFlight.filter((m) => m.from === other && (act.kind === "redeliver" ? m.delivered : !m.delivered));
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
    console.log(`ratchet property: ${seen.decrypted} decrypted (${seen.outOfOrder} out of order), ${seen.rejected} replays or aged-out rejected`);
    expect(seen.decrypted).toBeGreaterThan(300);
    expect(seen.outOfOrder).toBeGreaterThan(20);
    expect(seen.rejected).toBeGreaterThan(10);
  });
});
