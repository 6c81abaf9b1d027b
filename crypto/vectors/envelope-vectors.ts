/**
 * test/vectors/envelopes.json: what a responder does with a 1:1 envelope (SECURITY.md §6.5):
 * a PREKEY envelope without a one-time prekey (has_opk = 0) and one with, that Bob accepts, and
 * Wycheproof-shaped cases derived from them that must fail: to parse (a codec error: empty,
 * unknown type, has_opk other than 0 or 1, truncated) or to decrypt (trailing bytes, a flag
 * that does not match the bytes, a bad identity signature, unknown prekeys, a wrong header
 * version). The case table is part of the suite; the file's inputs are the two parties'
 * secrets, Bob's prekeys, Alice's draws and the plaintext.
 */
import { concat, toHex, u32be, utf8 } from "../bytes.js";
import { SmsgError } from "../errors.js";
import { identityFromSecrets, type IdentityKeyPair } from "../identity.js";
import { label } from "../labels.js";
import { bundleOf, type OneTimePrekey, type SignedPrekey } from "../prekeys.js";
import { ed25519Sign, x25519Base } from "../primitives.js";
import { type Rng, replayRng, seededRng } from "../rng.js";
import { type Envelope, acceptSession, initiateSession, sessionEncrypt } from "../session.js";
import { Inputs, clamp } from "./inputs.js";
import { THIS_IMPLEMENTATION, type VectorImplementation, type VectorSuite } from "./suite.js";

const FILE = "envelopes.json";

/** Offsets in a PREKEY envelope (§6.5). */
const SPK_ID_AT = 1 + 128 + 32;
const FLAG_AT = SPK_ID_AT + 4;

type Base = "without_opk" | "with_opk";
type Change =
  | { readonly set: { readonly offset: number; readonly hex: string } }
  | { readonly xor: { readonly offset: number; readonly mask: number } }
  | { readonly truncate: number }
  | { readonly append: string };

interface Case {
  readonly id: string;
  readonly comment: string;
  /** Which valid envelope the case starts from, or "none" for one given whole. */
  readonly base: Base | "none";
  readonly changes: readonly Change[];
  /** For base "none": the envelope's bytes. */
  readonly hex?: string;
  /** Bob has accepted a first message with this envelope's (signed prekey id, EK) before. */
  readonly acceptedBefore?: boolean;
}

const CASES: readonly Case[] = [
  {
    id: "prekey-without-one-time-prekey",
    comment: "§5, §6.5: a PREKEY envelope with has_opk = 0 (X3DH with DH1..DH3 only) is accepted",
    base: "without_opk",
    changes: [],
  },
  {
    id: "prekey-with-one-time-prekey",
    comment: "§5, §6.5: a PREKEY envelope with has_opk = 1 and the one-time prekey id is accepted",
    base: "with_opk",
    changes: [],
  },
  { id: "empty", comment: "§6.5 parsing: an empty envelope is a codec error", base: "none", changes: [], hex: "" },
  {
    id: "unknown-type",
    comment: "§6.5 parsing: an envelope type other than 0x01 and 0x02 is a codec error",
    base: "without_opk",
    changes: [{ set: { offset: 0, hex: "03" } }],
  },
  {
    id: "type-zero",
    comment: "§6.5 parsing: type 0x00 is a codec error",
    base: "without_opk",
    changes: [{ set: { offset: 0, hex: "00" } }],
  },
  {
    id: "has-opk-two",
    comment:
      "§6.5 parsing: has_opk = 2 (an unknown flag) is a codec error, even though the rest would decrypt as has_opk = 1",
    base: "with_opk",
    changes: [{ set: { offset: FLAG_AT, hex: "02" } }],
  },
  {
    id: "has-opk-high-bit",
    comment: "§6.5 parsing: has_opk = 0x81 is a codec error (no bit is ignored)",
    base: "with_opk",
    changes: [{ set: { offset: FLAG_AT, hex: "81" } }],
  },
  {
    id: "truncated-in-identity",
    comment: "§6.5 parsing: a PREKEY envelope cut inside its IdentityPublic is a codec error",
    base: "without_opk",
    changes: [{ truncate: 100 }],
  },
  {
    id: "truncated-before-flag",
    comment: "§6.5 parsing: a PREKEY envelope that ends before has_opk is a codec error",
    base: "without_opk",
    changes: [{ truncate: FLAG_AT }],
  },
  {
    id: "truncated-one-time-prekey-id",
    comment: "§6.5 parsing: has_opk = 1 but fewer than 4 bytes follow is a codec error",
    base: "with_opk",
    changes: [{ truncate: FLAG_AT + 3 }],
  },
  {
    id: "message-too-short",
    comment: "§6.5 parsing: a PREKEY envelope whose message is shorter than 41 + 16 bytes (here 56) is a codec error",
    base: "without_opk",
    changes: [{ truncate: FLAG_AT + 1 + 56 }],
  },
  {
    id: "message-shortest-parses",
    comment:
      "§6.5 parsing: a message of exactly 41 + 16 bytes parses (the length rule is not stricter); it then fails to decrypt",
    base: "without_opk",
    changes: [{ truncate: FLAG_AT + 1 + 57 }],
  },
  {
    id: "message-envelope-too-short",
    comment: "§6.5 parsing: a MESSAGE envelope shorter than 1 + 41 + 16 bytes is a codec error",
    base: "none",
    changes: [],
    hex: "01" + "00".repeat(56),
  },
  {
    id: "trailing-bytes",
    comment:
      "§6.5: the message runs to the end, so a byte appended is part of the ciphertext: the envelope parses and fails to decrypt",
    base: "without_opk",
    changes: [{ append: "00" }],
  },
  {
    id: "flag-cleared-with-id-present",
    comment: "§6.5: has_opk = 0 while the id is present: its 4 bytes are read as the message, which fails to decrypt",
    base: "with_opk",
    changes: [{ set: { offset: FLAG_AT, hex: "00" } }],
  },
  {
    id: "flag-set-without-id",
    comment: "§6.5 step 2: has_opk = 1 where no id was written names an unknown one-time prekey: could not decrypt",
    base: "without_opk",
    changes: [{ set: { offset: FLAG_AT, hex: "01" } }],
  },
  {
    id: "bad-identity-signature",
    comment: "§4.1, §6.5: a carried IdentityPublic whose signature does not verify is could not decrypt",
    base: "without_opk",
    changes: [{ xor: { offset: 1 + 127, mask: 1 } }],
  },
  {
    id: "first-message-replayed",
    comment:
      "§6.5 step 2: a first message whose (signed prekey id, EK) Bob accepted before is could not decrypt, even " +
      "without a one-time prekey to stop it",
    base: "without_opk",
    changes: [],
    acceptedBefore: true,
  },
  {
    id: "unknown-signed-prekey",
    comment: "§6.5 step 2: an unknown signed prekey id is could not decrypt (nothing consumed)",
    base: "without_opk",
    changes: [{ xor: { offset: SPK_ID_AT + 3, mask: 1 } }],
  },
  {
    id: "wrong-ratchet-header-version",
    comment: "§6.7 step 1: the message's header must start with 0x01: could not decrypt",
    base: "without_opk",
    changes: [{ set: { offset: FLAG_AT + 1, hex: "02" } }],
  },
];

const DESCRIPTION =
  "The responder's handling of 1:1 envelopes (SECURITY.md §6.5). Inputs: both parties' identity secrets, Bob's signed " +
  "and one-time prekeys, Alice's draws for each of her two sessions (the ephemeral key, then the first ratchet key), " +
  "Bob's ratchet key drawn on accepting, and the plaintext (unpadded; padded as §8 inside). Outputs: the two valid PREKEY " +
  "envelopes (without and with a one-time prekey), then per case the `envelope` bytes (derived from one of them), " +
  "`result` (valid or invalid), the `error` (CODEC: does not parse; CRYPTO_VERIFICATION: could not decrypt) or what Bob " +
  "decrypts, and for an envelope that parses, what it carries (`parsed`).";

function applyChanges(bytes: Uint8Array, changes: readonly Change[]): Uint8Array {
  let out: Uint8Array = bytes.slice();
  for (const ch of changes) {
    if ("truncate" in ch) out = out.slice(0, ch.truncate);
    else if ("append" in ch) out = concat(out, hexBytes(ch.append));
    else if ("xor" in ch) out[ch.xor.offset]! ^= ch.xor.mask;
    else out.set(hexBytes(ch.set.hex), ch.set.offset);
  }
  return out;
}

function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
}

function recompute(file: unknown, impl: VectorImplementation) {
  const f = new Inputs(file, FILE);
  const alice = identityFromSecrets(
    f.hex("alice_identity_signing_seed", 32),
    f.x25519Private("alice_identity_dh_private"),
  );
  const bob: IdentityKeyPair = identityFromSecrets(
    f.hex("bob_identity_signing_seed", 32),
    f.x25519Private("bob_identity_dh_private"),
  );
  const spkId = f.u32("bob_signed_prekey_id");
  const spkPrivate = f.x25519Private("bob_signed_prekey_private");
  const spkPublic = x25519Base(spkPrivate);
  const spk: SignedPrekey = {
    id: spkId,
    keyPair: { privateKey: spkPrivate, publicKey: spkPublic },
    signature: ed25519Sign(bob.signing.privateKey, concat(label("signedPrekey"), u32be(spkId), spkPublic)),
  };
  const opkId = f.u32("bob_one_time_prekey_id");
  const opkPrivate = f.x25519Private("bob_one_time_prekey_private");
  const opk: OneTimePrekey = { id: opkId, keyPair: { privateKey: opkPrivate, publicKey: x25519Base(opkPrivate) } };
  const plaintext = f.hex("plaintext");
  const bobRatchet = f.x25519Private("bob_ratchet_private");
  const draws = {
    without_opk: [f.x25519Private("alice_ephemeral_private_1"), f.x25519Private("alice_ratchet_private_1")],
    with_opk: [f.x25519Private("alice_ephemeral_private_2"), f.x25519Private("alice_ratchet_private_2")],
  };
  const envelope = (base: Base) => {
    const bundle = base === "with_opk" ? bundleOf(bob, spk, opk) : bundleOf(bob, spk);
    const { session } = initiateSession(replayRng(draws[base]), alice, bundle);
    return sessionEncrypt(session, alice.publicKey, plaintext).envelope;
  };
  const bases: Record<Base, Uint8Array> = { without_opk: envelope("without_opk"), with_opk: envelope("with_opk") };

  const cases = CASES.map((c) => {
    const bytes = c.base === "none" ? hexBytes(c.hex ?? "") : applyChanges(bases[c.base], c.changes);
    const store = {
      signedPrekey: (id: number) => (id === spkId ? spk : undefined),
      oneTimePrekey: (id: number) => (id === opkId ? opk : undefined),
      acceptedBefore: (id: number, ek: Uint8Array) =>
        c.acceptedBefore === true && id === spkId && toHex(ek) === toHex(bytes.subarray(1 + 128, 1 + 128 + 32)),
    };
    // Bob draws his first sending ratchet key on a DH step; a rejected one discards it.
    let drawn = false;
    const rng: Rng = (n) => {
      if (drawn || n !== 32) return clamp(new Uint8Array(32).fill(0x55)).slice(0, n);
      drawn = true;
      return bobRatchet.slice();
    };
    const common = {
      id: c.id,
      comment: c.comment,
      base: c.base,
      changes: c.changes,
      ...(c.acceptedBefore ? { accepted_before: true } : {}),
      envelope: toHex(bytes),
    };
    let parsed: Envelope;
    try {
      parsed = impl.parseEnvelope(bytes);
    } catch (err) {
      if (!(err instanceof SmsgError) || err.code === "USAGE") throw err;
      return { ...common, result: "invalid", error: err.code };
    }
    const carried =
      parsed.type === "prekey"
        ? {
            type: "prekey",
            signed_prekey_id: parsed.signedPrekeyId,
            one_time_prekey_id: parsed.oneTimePrekeyId ?? null,
            message: toHex(parsed.message),
          }
        : { type: "message", message: toHex(parsed.message) };
    try {
      const accepted = acceptSession(rng, bob, store, parsed);
      return {
        ...common,
        parsed: carried,
        result: "valid",
        bob_decrypted: toHex(accepted.plaintext),
        used_one_time_prekey_id: accepted.usedOneTimePrekeyId ?? null,
      };
    } catch (err) {
      if (!(err instanceof SmsgError) || err.code === "USAGE" || err.code === "CODEC") throw err;
      return { ...common, parsed: carried, result: "invalid", error: err.code };
    }
  });
  return {
    suite: "envelopes",
    description: DESCRIPTION,
    spec: "SECURITY.md §6.5 (envelopes)",
    alice_identity_signing_seed: toHex(alice.signing.privateKey.subarray(0, 32)),
    alice_identity_dh_private: toHex(alice.dh.privateKey),
    bob_identity_signing_seed: toHex(bob.signing.privateKey.subarray(0, 32)),
    bob_identity_dh_private: toHex(bob.dh.privateKey),
    bob_signed_prekey_id: spkId,
    bob_signed_prekey_private: toHex(spkPrivate),
    bob_one_time_prekey_id: opkId,
    bob_one_time_prekey_private: toHex(opkPrivate),
    alice_ephemeral_private_1: toHex(draws.without_opk[0]!),
    alice_ratchet_private_1: toHex(draws.without_opk[1]!),
    alice_ephemeral_private_2: toHex(draws.with_opk[0]!),
    alice_ratchet_private_2: toHex(draws.with_opk[1]!),
    bob_ratchet_private: toHex(bobRatchet),
    plaintext: toHex(plaintext),
    envelope_without_opk: toHex(bases.without_opk),
    envelope_with_opk: toHex(bases.with_opk),
    cases,
  };
}

export const envelopeVectors: VectorSuite = {
  file: FILE,
  recompute(file: unknown, impl: VectorImplementation = THIS_IMPLEMENTATION) {
    return recompute(file, impl);
  },
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors envelopes"));
    const k = () => toHex(rng(32));
    const x = () => toHex(clamp(rng(32)));
    return recompute(
      {
        alice_identity_signing_seed: k(),
        alice_identity_dh_private: x(),
        bob_identity_signing_seed: k(),
        bob_identity_dh_private: x(),
        bob_signed_prekey_id: 7,
        bob_signed_prekey_private: x(),
        bob_one_time_prekey_id: 4242,
        bob_one_time_prekey_private: x(),
        alice_ephemeral_private_1: x(),
        alice_ratchet_private_1: x(),
        alice_ephemeral_private_2: x(),
        alice_ratchet_private_2: x(),
        bob_ratchet_private: x(),
        plaintext: toHex(utf8("Hello Bob, no one-time prekey was left.")),
      },
      THIS_IMPLEMENTATION,
    );
  },
};
