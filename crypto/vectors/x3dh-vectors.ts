/** test/vectors/x3dh.json: X3DH with and without a one-time prekey (SECURITY.md §4, §5). */
import { toHex, utf8 } from "../bytes.js";
import { InternalError } from "../errors.js";
import { encodeIdentityPublic, identityFromSecrets } from "../identity.js";
import { type PrekeyBundle } from "../prekeys.js";
import { ed25519Sign, x25519Base } from "../primitives.js";
import { concat, u32be } from "../bytes.js";
import { label } from "../labels.js";
import { replayRng, seededRng } from "../rng.js";
import { x3dhInitiate, x3dhRespond } from "../x3dh.js";
import { Inputs, clamp } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

const DESCRIPTION =
  "X3DH key agreement. Inputs: every private key (Ed25519 seeds, X25519 private scalars) and prekey id. " +
  "Outputs: public keys, signatures, DH1..DH4, the shared secret SK and the associated data AD, computed by both sides.";

function computeCase(c: Inputs) {
  const alice = identityFromSecrets(
    c.hex("alice_identity_signing_seed", 32),
    c.x25519Private("alice_identity_dh_private"),
  );
  const bob = identityFromSecrets(c.hex("bob_identity_signing_seed", 32), c.x25519Private("bob_identity_dh_private"));
  const spkId = c.u32("bob_signed_prekey_id");
  const spkPrivate = c.x25519Private("bob_signed_prekey_private");
  const spkPublic = x25519Base(spkPrivate);
  const spkSignature = ed25519Sign(bob.signing.privateKey, concat(label("signedPrekey"), u32be(spkId), spkPublic));
  const opkId = c.optionalU32("bob_one_time_prekey_id");
  const opkPrivate = opkId !== undefined ? c.x25519Private("bob_one_time_prekey_private") : undefined;
  const opk =
    opkId !== undefined && opkPrivate
      ? { id: opkId, keyPair: { privateKey: opkPrivate, publicKey: x25519Base(opkPrivate) } }
      : undefined;
  const ephemeralPrivate = c.x25519Private("alice_ephemeral_private");
  const bundle: PrekeyBundle = {
    identity: bob.publicKey,
    signedPrekey: { id: spkId, publicKey: spkPublic, signature: spkSignature },
    ...(opk ? { oneTimePrekey: { id: opk.id, publicKey: opk.keyPair.publicKey } } : {}),
  };
  const init = x3dhInitiate(replayRng([ephemeralPrivate]), alice, bundle);
  const resp = x3dhRespond(
    bob,
    { id: spkId, keyPair: { privateKey: spkPrivate, publicKey: spkPublic }, signature: spkSignature },
    opk,
    alice.publicKey,
    init.ephemeral.publicKey,
  );
  if (
    toHex(init.sharedSecret) !== toHex(resp.sharedSecret) ||
    toHex(init.associatedData) !== toHex(resp.associatedData)
  ) {
    throw new InternalError("x3dh vectors: the two sides disagree");
  }
  return {
    name: opk ? "with a one-time prekey" : "without a one-time prekey",
    alice_identity_signing_seed: toHex(alice.signing.privateKey.subarray(0, 32)),
    alice_identity_dh_private: toHex(alice.dh.privateKey),
    bob_identity_signing_seed: toHex(bob.signing.privateKey.subarray(0, 32)),
    bob_identity_dh_private: toHex(bob.dh.privateKey),
    bob_signed_prekey_id: spkId,
    bob_signed_prekey_private: toHex(spkPrivate),
    ...(opk ? { bob_one_time_prekey_id: opk.id, bob_one_time_prekey_private: toHex(opk.keyPair.privateKey) } : {}),
    alice_ephemeral_private: toHex(ephemeralPrivate),
    alice_identity_public: toHex(encodeIdentityPublic(alice.publicKey)),
    bob_identity_public: toHex(encodeIdentityPublic(bob.publicKey)),
    bob_signed_prekey_public: toHex(spkPublic),
    bob_signed_prekey_signature: toHex(spkSignature),
    ...(opk ? { bob_one_time_prekey_public: toHex(opk.keyPair.publicKey) } : {}),
    alice_ephemeral_public: toHex(init.ephemeral.publicKey),
    dh_outputs: init.dhOutputs.map(toHex),
    ikm: toHex(concat(new Uint8Array(32).fill(0xff), ...init.dhOutputs)),
    shared_secret: toHex(init.sharedSecret),
    associated_data: toHex(init.associatedData),
  };
}

export const x3dhVectors: VectorSuite = {
  file: "x3dh.json",
  recompute(file: unknown) {
    const f = new Inputs(file, "x3dh.json");
    return {
      suite: "x3dh",
      description: DESCRIPTION,
      spec: "SECURITY.md §4 (keys) and §5 (X3DH)",
      cases: f.list("cases").map(computeCase),
    };
  },
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors x3dh"));
    const x = () => toHex(clamp(rng(32)));
    const keys = () => ({
      alice_identity_signing_seed: toHex(rng(32)),
      alice_identity_dh_private: x(),
      bob_identity_signing_seed: toHex(rng(32)),
      bob_identity_dh_private: x(),
      bob_signed_prekey_id: 1,
      bob_signed_prekey_private: x(),
    });
    return this.recompute({
      cases: [
        {
          name: "with a one-time prekey",
          ...keys(),
          bob_one_time_prekey_id: 42,
          bob_one_time_prekey_private: x(),
          alice_ephemeral_private: x(),
        },
        { name: "without a one-time prekey", ...keys(), alice_ephemeral_private: x() },
      ],
    });
  },
};
