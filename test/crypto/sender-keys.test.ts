import { createCipheriv, createHmac, createPrivateKey, hkdfSync, sign as nodeSign } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual, concat, toHex, u32be, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, LimitError, UsageError } from "../../crypto/errors.js";
import { pad } from "../../crypto/padding.js";
import { ed25519KeyPair, ed25519Sign } from "../../crypto/primitives.js";
import { replayRng, seededRng } from "../../crypto/rng.js";
import {
  MAX_SENDER_ITERATION,
  MAX_SENDER_SKIP,
  MAX_SENDER_SKIPPED_KEYS,
  SENDER_DISTRIBUTION_BYTES,
  type SenderKeyContext,
  type SenderKeyOwnState,
  type SenderKeyReceiverState,
  createSenderKey,
  decodeSenderState,
  distributionMessage,
  encodeSenderState,
  parseDistribution,
  rotateSenderKey,
  senderChainStep,
  senderDecrypt,
  senderEncrypt,
  senderMessageAd,
  senderMessageHeader,
  senderSignatureInput,
} from "../../crypto/sender-keys.js";

// ---------------------------------------------------------------------------------------------
// Helpers

function rngFor(name: string) {
  return seededRng(utf8(`sender-keys test: ${name}`));
}

const GROUP = utf8("group-0001");
const ctxOf = (senderId: string, groupId: Uint8Array = GROUP): SenderKeyContext => ({ groupId, senderId });

/** The stored encoding, as a string: equal snapshots mean equal states. */
const snap = (s: SenderKeyOwnState | SenderKeyReceiverState) => toHex(encodeSenderState(s));

/** An own state moved forward to `iteration` without sending (for skip tests). */
function ownAt(state: SenderKeyOwnState, iteration: number): SenderKeyOwnState {
  let ck = state.chainKey;
  for (let i = state.iteration; i < iteration; i++) ck = senderChainStep(ck).nextChainKey;
  return { ...state, iteration, chainKey: ck };
}

/** Sends each plaintext in turn; returns the messages and the final state. */
function sendAll(state: SenderKeyOwnState, ctx: SenderKeyContext, plaintexts: Uint8Array[]) {
  const messages: Uint8Array[] = [];
  for (const p of plaintexts) {
    const out = senderEncrypt(state, ctx, p);
    messages.push(out.message);
    state = out.state;
  }
  return { state, messages };
}

function expectRejected(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CryptoVerificationError);
  expect((err as Error).message).toBe("could not decrypt");
}

// ---------------------------------------------------------------------------------------------
// A reference implementation of §7.2 and §7.4 from the specification text, on Node's crypto and a
// hand-written HChaCha20, to check the libsodium one against.

function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const s = new Uint32Array(16);
  s.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
  const kv = new DataView(key.buffer, key.byteOffset, 32);
  const nv = new DataView(nonce16.buffer, nonce16.byteOffset, 16);
  for (let i = 0; i < 8; i++) s[4 + i] = kv.getUint32(4 * i, true);
  for (let i = 0; i < 4; i++) s[12 + i] = nv.getUint32(4 * i, true);
  const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
  const qr = (a: number, b: number, c: number, d: number) => {
    s[a] = s[a]! + s[b]!;
    s[d] = rotl(s[d]! ^ s[a]!, 16);
    s[c] = s[c]! + s[d]!;
    s[b] = rotl(s[b]! ^ s[c]!, 12);
    s[a] = s[a]! + s[b]!;
    s[d] = rotl(s[d]! ^ s[a]!, 8);
    s[c] = s[c]! + s[d]!;
    s[b] = rotl(s[b]! ^ s[c]!, 7);
  };
  for (let r = 0; r < 10; r++) {
    qr(0, 4, 8, 12);
    qr(1, 5, 9, 13);
    qr(2, 6, 10, 14);
    qr(3, 7, 11, 15);
    qr(0, 5, 10, 15);
    qr(1, 6, 11, 12);
    qr(2, 7, 8, 13);
    qr(3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) ov.setUint32(4 * i, s[i]!, true);
  for (let i = 0; i < 4; i++) ov.setUint32(16 + 4 * i, s[12 + i]!, true);
  return out;
}

function refXchachaEncrypt(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array): Uint8Array {
  const subkey = hchacha20(key, nonce.subarray(0, 16));
  const iv = concat(new Uint8Array(4), nonce.subarray(16, 24));
  const c = createCipheriv("chacha20-poly1305", subkey, iv, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: pt.length });
  return concat(c.update(pt), c.final(), c.getAuthTag());
}

function refMessage(
  chainKey: Uint8Array,
  seed: Uint8Array,
  keyId: number,
  iteration: number,
  groupId: Uint8Array,
  senderId: string,
  pt: Uint8Array,
) {
  const hmac = (k: Uint8Array, m: string) => new Uint8Array(createHmac("sha256", k).update(m, "ascii").digest());
  const mk = hmac(chainKey, "SMSG-v1 sender chain message key");
  const next = hmac(chainKey, "SMSG-v1 sender chain next key");
  const okm = new Uint8Array(
    hkdfSync("sha256", mk, new Uint8Array(32), Buffer.from("SMSG-v1 sender message keys", "ascii"), 56),
  );
  const header = concat(new Uint8Array([1]), u32be(keyId), u32be(iteration));
  const sid = Buffer.from(senderId, "utf8");
  const ad = concat(u32be(groupId.length), groupId, u32be(sid.length), sid, header);
  const ct = refXchachaEncrypt(okm.subarray(0, 32), okm.subarray(32, 56), pt, ad);
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
    format: "der",
    type: "pkcs8",
  });
  const sig = nodeSign(null, concat(Buffer.from("SMSG-v1 sender key message", "ascii"), ad, ct), priv);
  return { message: concat(header, ct, sig), next };
}

// ---------------------------------------------------------------------------------------------

describe("sender keys: encoding and the reference implementation", () => {
  it("createSenderKey draws key id, chain key, signing seed in that order", () => {
    const chunks = [new Uint8Array([0, 0, 1, 2]), new Uint8Array(32).fill(5), new Uint8Array(32).fill(6)];
    const s = createSenderKey(replayRng(chunks));
    expect(s.keyId).toBe(0x0102);
    expect(s.iteration).toBe(0);
    expect(s.chainKey).toEqual(chunks[1]);
    expect(s.signing.privateKey.subarray(0, 32)).toEqual(chunks[2]);
    const given = createSenderKey(replayRng(chunks.slice(1)), 0xffffffff);
    expect(given.keyId).toBe(0xffffffff);
    expect(() => createSenderKey(rngFor("bad id"), 2 ** 32)).toThrow(UsageError);
    expect(() => createSenderKey(rngFor("bad id"), -1)).toThrow(UsageError);
  });

  it("messages equal an independent implementation of the spec (Node crypto, hand-written HChaCha20)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 5 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 16 }),
        fc.uint8Array({ maxLength: 300 }),
        (chainKey, seed, keyId, advance, groupId, senderId, pt) => {
          let state = ownAt(createSenderKey(replayRng([chainKey, seed]), keyId), advance);
          const ref = refMessage(state.chainKey, seed, keyId, advance, groupId, senderId, pt);
          const out = senderEncrypt(state, { groupId, senderId }, pt);
          expect(toHex(out.message)).toBe(toHex(ref.message));
          expect(toHex(out.state.chainKey)).toBe(toHex(ref.next));
          state = out.state;
          expect(state.iteration).toBe(advance + 1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("distribution messages are 73 bytes: 0x01 || keyId || iteration || chain key || signing key", () => {
    const s = ownAt(createSenderKey(rngFor("dist"), 0x01020304), 7);
    const d = distributionMessage(s);
    expect(d.length).toBe(SENDER_DISTRIBUTION_BYTES);
    expect(toHex(d)).toBe("01" + "01020304" + "00000007" + toHex(s.chainKey) + toHex(s.signing.publicKey));
    const r = parseDistribution(d);
    expect(r).toMatchObject({ kind: "receiver", keyId: 0x01020304, iteration: 7 });
    expect(r.chainKey).toEqual(s.chainKey);
    expect(r.signingPublic).toEqual(s.signing.publicKey);
    expect(r.skipped.size).toBe(0);
    expect(() => parseDistribution(d.subarray(0, 72))).toThrow(CodecError);
    expect(() => parseDistribution(concat(d, new Uint8Array(1)))).toThrow(CodecError);
    const v2 = d.slice();
    v2[0] = 2;
    expect(() => parseDistribution(v2)).toThrow(CodecError);
  });
});

describe("sender keys: group sessions", () => {
  it("random multi-member sessions with loss, duplication and reordering decrypt each delivered message exactly once", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.record({ sender: fc.nat(), plaintext: fc.uint8Array({ maxLength: 48 }), padIt: fc.boolean() }), {
          minLength: 1,
          maxLength: 25,
        }),
        fc.integer(),
        fc.gen(),
        (n, script, seed, g) => {
          const ids = Array.from({ length: n }, (_, i) => `member${i}`);
          let own = ids.map((id) => createSenderKey(rngFor(`${seed} ${id}`)));
          const recv = ids.map((_, r) =>
            ids.map((__, s) => (r === s ? undefined : parseDistribution(distributionMessage(own[s]!)))),
          );
          const sent = script.map(({ sender, plaintext, padIt }) => {
            const s = sender % n;
            const p = padIt ? pad(plaintext) : plaintext;
            const out = senderEncrypt(own[s]!, ctxOf(ids[s]!), p);
            own = own.map((o, i) => (i === s ? out.state : o));
            return { sender: s, plaintext: p, message: out.message };
          });
          for (let r = 0; r < n; r++) {
            const deliveries: number[] = [];
            sent.forEach((m, i) => {
              if (m.sender === r) return;
              const copies = g(fc.integer, { min: 0, max: 2 });
              for (let c = 0; c < copies; c++) deliveries.push(i);
            });
            for (let i = deliveries.length - 1; i > 0; i--) {
              const j = g(fc.integer, { min: 0, max: i });
              [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
            }
            const done = new Set<number>();
            for (const i of deliveries) {
              const m = sent[i]!;
              const state = recv[r]![m.sender]!;
              const before = snap(state);
              if (done.has(i)) {
                expectRejected(() => senderDecrypt(state, ctxOf(ids[m.sender]!), m.message));
              } else {
                const out = senderDecrypt(state, ctxOf(ids[m.sender]!), m.message);
                expect(bytesEqual(out.plaintext, m.plaintext)).toBe(true);
                recv[r]![m.sender] = out.state;
                done.add(i);
              }
              expect(snap(state)).toBe(before); // the input state is never modified
            }
            expect([...done].sort((a, b) => a - b)).toEqual([...new Set(deliveries)].sort((a, b) => a - b));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("a distribution at iteration k cannot decrypt earlier messages; a replay is rejected", () => {
    const ctx = ctxOf("alice");
    const a0 = createSenderKey(rngFor("late joiner"));
    const { state: a2, messages } = sendAll(a0, ctx, [utf8("m0"), utf8("m1")]);
    const late = parseDistribution(distributionMessage(a2));
    expectRejected(() => senderDecrypt(late, ctx, messages[0]!));
    expectRejected(() => senderDecrypt(late, ctx, messages[1]!));
    const { messages: more } = sendAll(a2, ctx, [utf8("m2")]);
    const got = senderDecrypt(late, ctx, more[0]!);
    expect(got.plaintext).toEqual(utf8("m2"));
    expect(got.iteration).toBe(2);
    expectRejected(() => senderDecrypt(got.state, ctx, more[0]!));
  });

  it("returns consumed keys from the input state and leaves the input untouched", () => {
    const ctx = ctxOf("alice");
    const a0 = createSenderKey(rngFor("consumed"));
    const b0 = parseDistribution(distributionMessage(a0));
    const { messages } = sendAll(a0, ctx, [utf8("0"), utf8("1"), utf8("2")]);
    const enc = senderEncrypt(createSenderKey(rngFor("consumed")), ctx, utf8("x"));
    expect(enc.consumed).toHaveLength(1);
    const beforeB = snap(b0);
    const r2 = senderDecrypt(b0, ctx, messages[2]!);
    expect(snap(b0)).toBe(beforeB);
    expect(r2.consumed).toEqual([b0.chainKey]);
    expect(r2.consumed[0]).toBe(b0.chainKey);
    expect([...r2.state.skipped.keys()]).toEqual([0, 1]);
    const r0 = senderDecrypt(r2.state, ctx, messages[0]!);
    expect(r0.consumed[0]).toBe(r2.state.skipped.get(0));
    expect([...r0.state.skipped.keys()]).toEqual([1]);
    expect(r2.state.skipped.size).toBe(2);
  });

  it("refuses to encrypt twice from the same state object (key and nonce reuse)", () => {
    const a = createSenderKey(rngFor("twice"));
    senderEncrypt(a, ctxOf("alice"), utf8("one"));
    expect(() => senderEncrypt(a, ctxOf("alice"), utf8("two"))).toThrow(UsageError);
    // A failed call does not spend the state.
    const b = createSenderKey(rngFor("twice b"));
    expect(() => senderEncrypt(b, ctxOf(""), utf8("x"))).toThrow(UsageError);
    expect(() => senderEncrypt(b, ctxOf("bob"), utf8("x"))).not.toThrow();
  });

  it("refuses to encrypt past the last iteration and rejects the last iteration on receipt", () => {
    const a = createSenderKey(rngFor("exhausted"));
    const last = { ...a, iteration: MAX_SENDER_ITERATION - 1 };
    const out = senderEncrypt(last, ctxOf("alice"), utf8("final"));
    expect(out.state.iteration).toBe(MAX_SENDER_ITERATION);
    expect(() => senderEncrypt(out.state, ctxOf("alice"), utf8("too far"))).toThrow(LimitError);

    // Hand-built and correctly signed, a message at iteration 2^32 − 1 is still refused.
    const recv = { ...parseDistribution(distributionMessage(a)), iteration: MAX_SENDER_ITERATION - 1 };
    const header = senderMessageHeader(a.keyId, MAX_SENDER_ITERATION);
    const ad = senderMessageAd(ctxOf("alice"), header);
    const ct = new Uint8Array(16);
    const msg = concat(header, ct, ed25519Sign(a.signing.privateKey, senderSignatureInput(ad, ct)));
    expectRejected(() => senderDecrypt(recv, ctxOf("alice"), msg));
  });

  it("validates the context", () => {
    const a = createSenderKey(rngFor("context"));
    const b = parseDistribution(distributionMessage(a));
    for (const bad of [
      { groupId: new Uint8Array(0), senderId: "a" },
      { groupId: new Uint8Array(257), senderId: "a" },
      { groupId: GROUP, senderId: "" },
      { groupId: GROUP, senderId: "x".repeat(257) },
      { groupId: GROUP, senderId: "\udc00" },
    ]) {
      expect(() => senderEncrypt(a, bad, utf8("x"))).toThrow(UsageError);
      expect(() => senderDecrypt(b, bad, new Uint8Array(100))).toThrow(UsageError);
    }
  });
});

describe("sender keys: attacks", () => {
  const ctx = ctxOf("alice");
  const a0 = createSenderKey(rngFor("tamper"));
  const fresh = parseDistribution(distributionMessage(a0));
  const { messages } = sendAll(a0, ctx, [pad(utf8("zero")), utf8(""), pad(utf8("two, a bit longer than the others"))]);
  const plaintexts = [pad(utf8("zero")), utf8(""), pad(utf8("two, a bit longer than the others"))];
  // A receiver that already has message 2, so 0 and 1 sit in the skipped store.
  const ahead = senderDecrypt(fresh, ctx, messages[2]!).state;

  it("flipping any byte of any message is rejected, leaves the state unchanged, and the genuine message still decrypts", () => {
    fc.assert(
      fc.property(fc.nat(2), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (which, pos, xor, useAhead) => {
        const state = useAhead && which < 2 ? ahead : fresh;
        const msg = messages[which]!;
        const tampered = msg.slice();
        const i = pos % tampered.length;
        tampered[i] = tampered[i]! ^ xor;
        const before = snap(state);
        expectRejected(() => senderDecrypt(state, ctx, tampered));
        expect(snap(state)).toBe(before);
        expect(senderDecrypt(state, ctx, msg).plaintext).toEqual(plaintexts[which]);
      }),
      { numRuns: 400 },
    );
  });

  it("truncated or extended messages are rejected", () => {
    fc.assert(
      fc.property(fc.nat(2), fc.integer({ min: -120, max: 40 }), (which, delta) => {
        fc.pre(delta !== 0);
        const msg = messages[which]!;
        const changed = delta < 0 ? msg.slice(0, Math.max(0, msg.length + delta)) : concat(msg, new Uint8Array(delta));
        expectRejected(() => senderDecrypt(fresh, ctx, changed));
      }),
      { numRuns: 200 },
    );
  });

  it("a member cannot sign as another, even holding the other's chain key", () => {
    const b = createSenderKey(rngFor("mallory bob"));
    // Bob has Alice's distribution: her key id, iteration and chain key. He encrypts correctly
    // under her chain and key id, and signs with his own signing key.
    const aliceAsSeenByBob = parseDistribution(distributionMessage(a0));
    const forgedState: SenderKeyOwnState = {
      kind: "own",
      keyId: aliceAsSeenByBob.keyId,
      iteration: aliceAsSeenByBob.iteration,
      chainKey: aliceAsSeenByBob.chainKey,
      signing: b.signing,
    };
    const forged = senderEncrypt(forgedState, ctx, utf8("send me your password")).message;
    const before = snap(fresh);
    expectRejected(() => senderDecrypt(fresh, ctx, forged));
    expect(snap(fresh)).toBe(before);
    // Nor can he re-attribute one of his own messages: context names Alice, signature is Bob's.
    const ownMsg = senderEncrypt(b, ctxOf("bob"), utf8("hi")).message;
    expectRejected(() => senderDecrypt(fresh, ctx, ownMsg));
    // Alice's genuine message at the same iteration still decrypts.
    expect(senderDecrypt(fresh, ctx, messages[0]!).plaintext).toEqual(plaintexts[0]);
  });

  it("a message is bound to its group id and sender id", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.string({ minLength: 1, maxLength: 10 }),
        (g, s) => {
          fc.pre(!bytesEqual(g, GROUP));
          fc.pre(s !== "alice");
          expectRejected(() => senderDecrypt(fresh, ctxOf("alice", g), messages[0]!));
          expectRejected(() => senderDecrypt(fresh, ctxOf(s), messages[0]!));
        },
      ),
      { numRuns: 50 },
    );
    // Length prefixes: moving bytes between group id and sender id changes the AD.
    const x = createSenderKey(rngFor("boundary"));
    const xr = parseDistribution(distributionMessage(x));
    const m = senderEncrypt(x, { groupId: utf8("ab"), senderId: "c" }, utf8("hi")).message;
    expectRejected(() => senderDecrypt(xr, { groupId: utf8("a"), senderId: "bc" }, m));
    expect(senderDecrypt(xr, { groupId: utf8("ab"), senderId: "c" }, m).plaintext).toEqual(utf8("hi"));
  });

  it("after a rotation, a removed member holding only the old distribution cannot decrypt", () => {
    const aliceOld = createSenderKey(rngFor("rotation alice"));
    const bob = parseDistribution(distributionMessage(aliceOld));
    const carol = parseDistribution(distributionMessage(aliceOld));
    const { state: aliceUsed, messages: before } = sendAll(aliceOld, ctx, [utf8("before carol left")]);
    expect(senderDecrypt(carol, ctx, before[0]!).plaintext).toEqual(utf8("before carol left"));
    // Carol is removed: Alice rotates and distributes only to Bob.
    const aliceNew = rotateSenderKey(rngFor("rotation alice 2"), aliceUsed);
    expect(aliceNew.keyId).not.toBe(aliceUsed.keyId);
    expect(aliceNew.iteration).toBe(0);
    expect(bytesEqual(aliceNew.signing.publicKey, aliceUsed.signing.publicKey)).toBe(false);
    const bobNew = parseDistribution(distributionMessage(aliceNew));
    const after = senderEncrypt(aliceNew, ctx, utf8("after carol left")).message;
    expectRejected(() => senderDecrypt(carol, ctx, after));
    // Even pretending the key id matches, Carol's old chain and signing key are useless.
    expectRejected(() => senderDecrypt({ ...carol, keyId: aliceNew.keyId }, ctx, after));
    expectRejected(() => senderDecrypt(bob, ctx, after));
    expect(senderDecrypt(bobNew, ctx, after).plaintext).toEqual(utf8("after carol left"));
  });

  it("rotateSenderKey redraws a key id equal to the previous one and gives up on a stuck RNG", () => {
    const prev = createSenderKey(replayRng([u32be(7), new Uint8Array(32), new Uint8Array(32)]));
    const next = rotateSenderKey(
      replayRng([u32be(7), u32be(8), new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]),
      prev,
    );
    expect(next.keyId).toBe(8);
    expect(() => rotateSenderKey(() => u32be(7), prev)).toThrow(UsageError);
  });
});

describe("sender keys: skipped messages", () => {
  const ctx = ctxOf("alice");
  const a0 = createSenderKey(rngFor("skip"));
  const fresh = parseDistribution(distributionMessage(a0));
  const msgAt = (i: number, text = `m${i}`) => senderEncrypt(ownAt(a0, i), ctx, utf8(text)).message;

  it(`allows skipping ${MAX_SENDER_SKIP} keys, refuses one more with LimitError and an unchanged state`, () => {
    const before = snap(fresh);
    expect(() => senderDecrypt(fresh, ctx, msgAt(MAX_SENDER_SKIP + 1))).toThrow(LimitError);
    expect(snap(fresh)).toBe(before);
    const ok = senderDecrypt(fresh, ctx, msgAt(MAX_SENDER_SKIP));
    expect(ok.plaintext).toEqual(utf8(`m${MAX_SENDER_SKIP}`));
    expect(ok.state.skipped.size).toBe(MAX_SENDER_SKIP);
    expect(ok.state.iteration).toBe(MAX_SENDER_SKIP + 1);
    // Earlier messages still decrypt from the skipped store, in any order.
    expect(senderDecrypt(ok.state, ctx, msgAt(0)).plaintext).toEqual(utf8("m0"));
    expect(senderDecrypt(ok.state, ctx, msgAt(1234)).plaintext).toEqual(utf8("m1234"));
  });

  it(`keeps at most ${MAX_SENDER_SKIPPED_KEYS} skipped keys, evicting the oldest`, () => {
    const s1 = senderDecrypt(fresh, ctx, msgAt(2000)).state; // stores 0..1999
    const r2 = senderDecrypt(s1, ctx, msgAt(3501)); // stores 2001..3500, evicts 0..1499
    const s2 = r2.state;
    expect(s2.skipped.size).toBe(MAX_SENDER_SKIPPED_KEYS);
    expect(Math.min(...s2.skipped.keys())).toBe(1500);
    expect(r2.consumed).toHaveLength(1 + 1500); // old chain key + evicted keys
    expectRejected(() => senderDecrypt(s2, ctx, msgAt(1499)));
    expect(senderDecrypt(s2, ctx, msgAt(1500)).plaintext).toEqual(utf8("m1500"));
    expect(senderDecrypt(s2, ctx, msgAt(3000)).plaintext).toEqual(utf8("m3000"));
    // The earlier state still has key 0: immutability.
    expect(senderDecrypt(s1, ctx, msgAt(0)).plaintext).toEqual(utf8("m0"));
  });
});

describe("sender keys: stored state", () => {
  it("own states roundtrip and go on producing the same messages", () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(50), fc.uint8Array({ maxLength: 64 }), (seed, n, pt) => {
        const s = ownAt(createSenderKey(rngFor(`own ${seed}`)), n);
        const bytes = encodeSenderState(s);
        expect(bytes.length).toBe(106);
        const d = decodeSenderState(bytes);
        expect(d.kind).toBe("own");
        if (d.kind !== "own") return;
        expect(toHex(encodeSenderState(d))).toBe(toHex(bytes));
        expect(d.signing.privateKey).toEqual(s.signing.privateKey);
        expect(senderEncrypt(d, ctxOf("alice"), pt).message).toEqual(senderEncrypt(s, ctxOf("alice"), pt).message);
      }),
      { numRuns: 30 },
    );
  });

  it("receiver states roundtrip after random deliveries and decrypt the rest identically", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 30 }), fc.gen(), (seed, count, g) => {
        const ctx = ctxOf("alice");
        const a = createSenderKey(rngFor(`recv ${seed}`));
        const { messages } = sendAll(
          a,
          ctx,
          Array.from({ length: count }, (_, i) => utf8(`message ${i}`)),
        );
        let r = parseDistribution(distributionMessage(a));
        const order = messages.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = g(fc.integer, { min: 0, max: i });
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const cut = g(fc.integer, { min: 0, max: count });
        for (const i of order.slice(0, cut)) r = senderDecrypt(r, ctx, messages[i]!).state;
        const bytes = encodeSenderState(r);
        expect(bytes.length).toBe(78 + 36 * r.skipped.size);
        const decoded = decodeSenderState(bytes);
        expect(decoded.kind).toBe("receiver");
        if (decoded.kind !== "receiver") return;
        let d = decoded;
        expect(toHex(encodeSenderState(d))).toBe(toHex(bytes));
        expect([...d.skipped.keys()]).toEqual([...r.skipped.keys()].sort((x, y) => x - y));
        for (const i of order.slice(cut)) {
          const x = senderDecrypt(r, ctx, messages[i]!);
          const y = senderDecrypt(d, ctx, messages[i]!);
          expect(y.plaintext).toEqual(x.plaintext);
          expect(snap(y.state)).toBe(snap(x.state));
          r = x.state;
          d = y.state;
        }
      }),
      { numRuns: 30 },
    );
  });

  it("decoding is strict", () => {
    const ctx = ctxOf("alice");
    const a = createSenderKey(rngFor("strict"));
    const { messages } = sendAll(a, ctx, [utf8("0"), utf8("1"), utf8("2")]);
    const r = senderDecrypt(parseDistribution(distributionMessage(a)), ctx, messages[2]!).state;
    for (const good of [encodeSenderState(a), encodeSenderState(r)]) {
      expect(() => decodeSenderState(good)).not.toThrow();
      for (let n = 0; n < good.length; n++) expect(() => decodeSenderState(good.subarray(0, n))).toThrow(CodecError);
      expect(() => decodeSenderState(concat(good, new Uint8Array(1)))).toThrow(CodecError);
      for (const [at, value] of [
        [0, 0x02],
        [1, 0x03],
        [1, 0x00],
      ] as const) {
        const bad = good.slice();
        bad[at] = value;
        expect(() => decodeSenderState(bad)).toThrow(CodecError);
      }
    }
    // Own: the stored public key must match the seed.
    const own = encodeSenderState(a);
    const mismatched = own.slice();
    mismatched[own.length - 1] = mismatched[own.length - 1]! ^ 1;
    expect(() => decodeSenderState(mismatched)).toThrow(/signing key mismatch/);
    // Receiver: skipped iterations ascending, below the state's iteration, at most 2000.
    const rec = encodeSenderState(r); // skipped: 0, 1; iteration 3
    const at = (i: number) => 78 + 36 * i; // offset of skipped entry i
    const swapped = concat(rec.subarray(0, at(0)), rec.subarray(at(1), at(2)), rec.subarray(at(0), at(1)));
    expect(() => decodeSenderState(swapped)).toThrow(/out of order/);
    const dup = concat(rec.subarray(0, at(1)), rec.subarray(at(0), at(1)));
    expect(() => decodeSenderState(dup)).toThrow(/out of order/);
    const tooHigh = rec.slice();
    tooHigh.set(u32be(3), at(1));
    expect(() => decodeSenderState(tooHigh)).toThrow(/out of order/);
    const tooMany = rec.slice(0, at(0));
    tooMany.set(u32be(MAX_SENDER_SKIPPED_KEYS + 1), at(0) - 4);
    expect(() => decodeSenderState(tooMany)).toThrow(/too many skipped keys/);
  });

  it("encoding refuses malformed states", () => {
    const a = createSenderKey(rngFor("malformed"));
    expect(() => encodeSenderState({ ...a, chainKey: new Uint8Array(31) })).toThrow(UsageError);
    expect(() => encodeSenderState({ ...a, iteration: -1 })).toThrow(UsageError);
    const r = parseDistribution(distributionMessage(a));
    expect(() => encodeSenderState({ ...r, skipped: new Map([[0, new Uint8Array(32)]]) })).toThrow(UsageError);
    expect(() => encodeSenderState({ ...r, signingPublic: ed25519KeyPair(rngFor("x")).privateKey })).toThrow(
      UsageError,
    );
  });
});
