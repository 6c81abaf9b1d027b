import { describe, expect, test } from "vitest";
import { bytesEqual, concat } from "../../crypto/bytes.js";
import { CryptoVerificationError } from "../../crypto/errors.js";
import { generateIdentity, identityKey } from "../../crypto/identity.js";
import type { PrekeyBundle } from "../../crypto/prekeys.js";
import { seededRng } from "../../crypto/rng.js";
import { x3dhInitiate, x3dhRespond } from "../../crypto/x3dh.js";
import { bundleFor, makeParty } from "../helpers/parties.js";
import { toHex, utf8 } from "../../crypto/bytes.js";
import { ratchetDecrypt, ratchetEncrypt, ratchetInitInitiator, ratchetInitResponder } from "../../crypto/ratchet.js";
import { encodeRatchetState } from "../../crypto/ratchet-codec.js";
import { x25519KeyPair } from "../../crypto/primitives.js";

const alice = makeParty("alice");
const bob = makeParty("bob");
const rng = seededRng(utf8("x3dh test randomness"));

// Public keys of small order on Curve25519 (RFC 7748 §6.1 warns; these are the usual list).
const LOW_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map((h) => new Uint8Array(Buffer.from(h, "hex")));

describe("X3DH (Signal X3DH §3)", () => {
  for (const withOneTime of [true, false]) {
    test(`both sides agree ${withOneTime ? "with" : "without"} a one-time prekey`, () => {
      const bundle = bundleFor(bob, withOneTime);
      const init = x3dhInitiate(rng, alice.identity, bundle);
      const opk = withOneTime ? bob.oneTimePrekeys.get(init.oneTimePrekeyId!) : undefined;
      const resp = x3dhRespond(bob.identity, bob.signedPrekey, opk, alice.identity.publicKey, init.ephemeral.publicKey);
      expect(bytesEqual(init.sharedSecret, resp.sharedSecret)).toBe(true);
      expect(init.dhOutputs).toHaveLength(withOneTime ? 4 : 3);
      expect(
        bytesEqual(
          init.associatedData,
          concat(identityKey(alice.identity.publicKey), identityKey(bob.identity.publicKey)),
        ),
      ).toBe(true);
      expect(bytesEqual(init.associatedData, resp.associatedData)).toBe(true);
    });
  }

  test("a bundle with a bad signed-prekey signature is refused", () => {
    const good = bundleFor(bob);
    for (let i = 0; i < 64; i += 7) {
      const sig = good.signedPrekey.signature.slice();
      sig[i]! ^= 0x01;
      const bad: PrekeyBundle = { ...good, signedPrekey: { ...good.signedPrekey, signature: sig } };
      expect(() => x3dhInitiate(rng, alice.identity, bad)).toThrow(CryptoVerificationError);
    }
    // A valid signature over a different key, or a different id, is refused too.
    const otherKey = {
      ...good,
      signedPrekey: { ...good.signedPrekey, publicKey: alice.signedPrekey.keyPair.publicKey },
    };
    expect(() => x3dhInitiate(rng, alice.identity, otherKey)).toThrow(CryptoVerificationError);
    const otherId = { ...good, signedPrekey: { ...good.signedPrekey, id: good.signedPrekey.id + 1 } };
    expect(() => x3dhInitiate(rng, alice.identity, otherId)).toThrow(CryptoVerificationError);
  });

  test("a signed prekey signed by someone else's identity is refused", () => {
    const good = bundleFor(bob);
    const mallory = generateIdentity(seededRng(utf8("mallory's identity seed")));
    expect(() => x3dhInitiate(rng, alice.identity, { ...good, identity: mallory.publicKey })).toThrow(
      CryptoVerificationError,
    );
  });

  test("an identity whose dh key is not signed by its signing key is refused", () => {
    const good = bundleFor(bob);
    const forged = { ...good.identity, dhKey: alice.identity.publicKey.dhKey };
    expect(() => x3dhInitiate(rng, alice.identity, { ...good, identity: forged })).toThrow(CryptoVerificationError);
    expect(() =>
      x3dhRespond(
        bob.identity,
        bob.signedPrekey,
        undefined,
        { ...alice.identity.publicKey, dhKey: bob.identity.publicKey.dhKey },
        new Uint8Array(32).fill(9),
      ),
    ).toThrow(CryptoVerificationError);
  });

  test("low-order and all-zero X25519 keys are refused wherever they appear", () => {
    const good = bundleFor(bob);
    for (const bad of LOW_ORDER) {
      // As a one-time prekey (unsigned, so only the DH check stands between it and use).
      expect(() => x3dhInitiate(rng, alice.identity, { ...good, oneTimePrekey: { id: 1, publicKey: bad } })).toThrow(
        CryptoVerificationError,
      );
      // As the initiator's ephemeral key, on the responder's side.
      expect(() => x3dhRespond(bob.identity, bob.signedPrekey, undefined, alice.identity.publicKey, bad)).toThrow(
        CryptoVerificationError,
      );
    }
  });

  test("a low-order ratchet key in a message header is 'could not decrypt' and leaves the state unchanged (§2, §6.7)", () => {
    const setup = seededRng(utf8("low-order header seed"));
    const sk = setup(32);
    const ad = setup(128);
    const bobKey = x25519KeyPair(setup);
    let alice = ratchetInitInitiator(setup, sk, ad, bobKey.publicKey).state;
    const fresh = ratchetInitResponder(sk, ad, bobKey);
    const e0 = ratchetEncrypt(alice, utf8("first"));
    alice = e0.state;
    const e1 = ratchetEncrypt(alice, utf8("second"));
    // Bob before his first message (only his signed prekey) and Bob in a running session.
    const running = ratchetDecrypt(setup, fresh, e0.message).state;
    for (const bob of [fresh, running]) {
      const before = toHex(encodeRatchetState(bob));
      for (const bad of LOW_ORDER) {
        const msg = e1.message.slice();
        msg.set(bad, 1);
        let thrown: unknown;
        try {
          ratchetDecrypt(setup, bob, msg);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(CryptoVerificationError);
        expect((thrown as Error).message).toBe("could not decrypt");
        expect(toHex(encodeRatchetState(bob))).toBe(before);
      }
    }
    expect(new TextDecoder().decode(ratchetDecrypt(setup, running, e1.message).plaintext)).toBe("second");
  });

  test("a wrong identity key makes the two sides disagree", () => {
    const bundle = bundleFor(bob, false);
    const init = x3dhInitiate(rng, alice.identity, bundle);
    const carol = makeParty("carol");
    // Bob believes the message came from Carol: SK and AD both differ, so the first message will not decrypt.
    const resp = x3dhRespond(
      bob.identity,
      bob.signedPrekey,
      undefined,
      carol.identity.publicKey,
      init.ephemeral.publicKey,
    );
    expect(bytesEqual(init.sharedSecret, resp.sharedSecret)).toBe(false);
    expect(bytesEqual(init.associatedData, resp.associatedData)).toBe(false);
    // Alice holding a stale bundle of Bob's (another identity) also disagrees with the real Bob.
    const bob2 = makeParty("bob", 2);
    const init2 = x3dhInitiate(rng, alice.identity, bundleFor(bob2, false));
    const resp2 = x3dhRespond(
      bob.identity,
      bob.signedPrekey,
      undefined,
      alice.identity.publicKey,
      init2.ephemeral.publicKey,
    );
    expect(bytesEqual(init2.sharedSecret, resp2.sharedSecret)).toBe(false);
  });
});
