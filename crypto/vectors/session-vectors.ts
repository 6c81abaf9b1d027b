/**
 * test/vectors/session.json: the envelopes of a first contact (SECURITY.md §6.5, §8): Alice's
 * PREKEY envelope built from Bob's bundle, Bob's reply, and Alice's next (plain) envelope, with
 * the padded plaintexts. It shows how X3DH, padding and the ratchet fit together on the wire.
 */
import { toHex, utf8 } from "../bytes.js";
import { identityFromSecrets } from "../identity.js";
import { pad } from "../padding.js";
import { bundleOf } from "../prekeys.js";
import { concat, u32be } from "../bytes.js";
import { label } from "../labels.js";
import { ed25519Sign, x25519Base } from "../primitives.js";
import { replayRng, seededRng } from "../rng.js";
import { acceptSession, initiateSession, parseEnvelope, sessionDecrypt, sessionEncrypt } from "../session.js";
import { Inputs, clamp } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

const DESCRIPTION =
  "First contact on the wire: Alice starts a session from Bob's bundle and sends a PREKEY envelope, Bob " +
  "accepts it and replies, Alice answers with a plain MESSAGE envelope. Inputs: all private keys and the " +
  "plaintexts. Outputs: the padded plaintexts and the exact envelope bytes.";

/** The random draws, in the order the two parties make them. */
const RANDOM_INPUTS = [
  "alice_ephemeral_private",
  "alice_ratchet_private_1",
  "alice_ratchet_private_2",
  "bob_ratchet_private_1",
  "bob_ratchet_private_2",
];

export const sessionVectors: VectorSuite = {
  file: "session.json",
  recompute(file: unknown) {
    const f = new Inputs(file, "session.json");
    const alice = identityFromSecrets(
      f.hex("alice_identity_signing_seed", 32),
      f.x25519Private("alice_identity_dh_private"),
    );
    const bob = identityFromSecrets(f.hex("bob_identity_signing_seed", 32), f.x25519Private("bob_identity_dh_private"));
    const spkId = f.u32("bob_signed_prekey_id");
    const spkPrivate = f.x25519Private("bob_signed_prekey_private");
    const spkPublic = x25519Base(spkPrivate);
    const spk = {
      id: spkId,
      keyPair: { privateKey: spkPrivate, publicKey: spkPublic },
      signature: ed25519Sign(bob.signing.privateKey, concat(label("signedPrekey"), u32be(spkId), spkPublic)),
    };
    const opkId = f.u32("bob_one_time_prekey_id");
    const opkPrivate = f.x25519Private("bob_one_time_prekey_private");
    const opk = { id: opkId, keyPair: { privateKey: opkPrivate, publicKey: x25519Base(opkPrivate) } };
    const p1 = f.hex("alice_plaintext_1");
    const p2 = f.hex("bob_plaintext_2");
    const p3 = f.hex("alice_plaintext_3");
    const aliceRng = replayRng([
      f.x25519Private("alice_ephemeral_private"),
      f.x25519Private("alice_ratchet_private_1"),
      f.x25519Private("alice_ratchet_private_2"),
    ]);
    const bobRng = replayRng([f.x25519Private("bob_ratchet_private_1"), f.x25519Private("bob_ratchet_private_2")]);

    let a = initiateSession(aliceRng, alice, bundleOf(bob, spk, opk)).session;
    const e1 = sessionEncrypt(a, alice.publicKey, p1);
    a = e1.session;
    const store = {
      signedPrekey: (id: number) => (id === spkId ? spk : undefined),
      oneTimePrekey: (id: number) => (id === opkId ? opk : undefined),
      acceptedBefore: () => false, // Bob's first contact: nothing accepted yet
    };
    const accepted = acceptSession(bobRng, bob, store, parseEnvelope(e1.envelope));
    const e2 = sessionEncrypt(accepted.session, bob.publicKey, p2);
    a = sessionDecrypt(aliceRng, a, parseEnvelope(e2.envelope)).session;
    const e3 = sessionEncrypt(a, alice.publicKey, p3);
    const b3 = sessionDecrypt(bobRng, e2.session, parseEnvelope(e3.envelope));
    return {
      suite: "session",
      description: DESCRIPTION,
      spec: "SECURITY.md §6.5 (envelopes) and §8 (padding)",
      alice_identity_signing_seed: toHex(alice.signing.privateKey.subarray(0, 32)),
      alice_identity_dh_private: toHex(alice.dh.privateKey),
      bob_identity_signing_seed: toHex(bob.signing.privateKey.subarray(0, 32)),
      bob_identity_dh_private: toHex(bob.dh.privateKey),
      bob_signed_prekey_id: spkId,
      bob_signed_prekey_private: toHex(spkPrivate),
      bob_one_time_prekey_id: opkId,
      bob_one_time_prekey_private: toHex(opkPrivate),
      // Every input shows up in an output: a private key through its public key.
      ...Object.fromEntries(
        RANDOM_INPUTS.flatMap((name) => {
          const priv = f.x25519Private(name);
          return [
            [name, toHex(priv)],
            [name.replace("_private", "_public"), toHex(x25519Base(priv))],
          ];
        }),
      ),
      alice_plaintext_1: toHex(p1),
      bob_plaintext_2: toHex(p2),
      alice_plaintext_3: toHex(p3),
      padded_1: toHex(pad(p1)),
      padded_2: toHex(pad(p2)),
      padded_3: toHex(pad(p3)),
      envelope_1_prekey: toHex(e1.envelope),
      envelope_2_message: toHex(e2.envelope),
      envelope_3_message: toHex(e3.envelope),
      bob_decrypted_1: toHex(accepted.plaintext),
      bob_decrypted_3: toHex(b3.plaintext),
    };
  },
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors session"));
    const k = () => toHex(rng(32));
    const x = () => toHex(clamp(rng(32)));
    return this.recompute({
      alice_identity_signing_seed: k(),
      alice_identity_dh_private: x(),
      bob_identity_signing_seed: k(),
      bob_identity_dh_private: x(),
      bob_signed_prekey_id: 3,
      bob_signed_prekey_private: x(),
      bob_one_time_prekey_id: 1001,
      bob_one_time_prekey_private: x(),
      alice_ephemeral_private: x(),
      alice_ratchet_private_1: x(),
      alice_ratchet_private_2: x(),
      bob_ratchet_private_1: x(),
      bob_ratchet_private_2: x(),
      alice_plaintext_1: toHex(utf8("Hi Bob, it's Alice. Are you there?")),
      bob_plaintext_2: toHex(utf8("Yes!")),
      alice_plaintext_3: toHex(
        utf8("Great. This one is a plain MESSAGE envelope: Alice heard back, so no X3DH data any more."),
      ),
    });
  },
};
