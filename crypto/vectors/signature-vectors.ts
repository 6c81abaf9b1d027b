/**
 * test/vectors/signatures.json: strict Ed25519 verification (SECURITY.md §2) at every place the
 * protocol checks a signature: the identity's dh-key signature (§4.1), the signed prekey
 * (§4.2), sender-key messages (§7.4, §7.5), group states (§15.4.1) and the relay login
 * (§10.4). For each place, one genuine signature and signatures that a lax verifier accepts
 * but strict verification must refuse: a small-order key, a non-canonical key, a small-order R,
 * a non-canonical S, a mixed-order key with and without the cofactorless equation holding, and
 * a mixed-order R. They are crafted with the group arithmetic of edwards25519.ts from one
 * signing seed; the case table is part of the suite.
 */
import { concat, toHex, u32be, utf8 } from "../bytes.js";
import { CodecError, SmsgError } from "../errors.js";
import { ed25519FromSeed, ed25519Sign, sha512, x25519Base, xchachaEncrypt } from "../primitives.js";
import {
  SENDER_KEY_RULES,
  type SenderKeyContext,
  senderChainStep,
  senderDecryptUnderRules,
  senderMessageAd,
  senderMessageHeader,
  senderMessageKeys,
  senderSignatureInput,
} from "../sender-keys.js";
import {
  type GroupStateFields,
  groupStateSignedBytes,
  identityDhKeyMessage,
  relayLoginMessage,
  signedPrekeyMessage,
} from "../signed-messages.js";
import { seededRng } from "../rng.js";
import * as E from "./edwards25519.js";
import { Inputs } from "./inputs.js";
import { THIS_IMPLEMENTATION, type VectorImplementation, type VectorSuite } from "./suite.js";

const FILE = "signatures.json";

const PLACES = ["identity", "signed_prekey", "sender_key_message", "group_state", "relay_login"] as const;
type Place = (typeof PLACES)[number];

interface Kind {
  readonly kind: string;
  readonly result: "valid" | "invalid";
  readonly comment: string;
}

const KINDS: readonly Kind[] = [
  { kind: "genuine", result: "valid", comment: "a signature made by RFC 8032 signing verifies" },
  {
    kind: "small-order-key",
    result: "invalid",
    comment:
      "A is a point of order 8; with S = r and [k]A = 0 the cofactorless and cofactored equations both hold: " +
      "only the small-order check on A refuses it",
  },
  {
    kind: "non-canonical-key",
    result: "invalid",
    comment:
      "A is eeff..ff7f, y = p + 1, a non-canonical encoding of the identity; with S = r both equations hold: " +
      "refused as a non-canonical (and small-order) A",
  },
  {
    kind: "small-order-r",
    result: "invalid",
    comment:
      "R is the identity (0100..00) and S = k·a, so both equations hold under the genuine key: only the small-order check on R refuses it",
  },
  {
    kind: "non-canonical-s",
    result: "invalid",
    comment:
      "the genuine signature with S + L in place of S (S ≥ L): a verifier that reduces S accepts it; strict refuses S ≥ L",
  },
  {
    kind: "mixed-order-key-equation-fails",
    result: "invalid",
    comment:
      "A = a·B + T (T of order 8) and k mod 8 ≠ 0: the cofactored equation holds, the cofactorless one does not, so it is refused",
  },
  {
    kind: "mixed-order-key-equation-holds",
    result: "valid",
    comment:
      "A = a·B + T (T of order 8) and k ≡ 0 mod 8: the cofactorless equation holds and A is not of small order, " +
      "so it verifies (A is not required to be in the prime-order subgroup)",
  },
  {
    kind: "mixed-order-r",
    result: "invalid",
    comment:
      "R = r·B + T (T of order 8) under the genuine key: the cofactored equation holds, the cofactorless one does not " +
      "(the recomputed R differs), so it is refused",
  },
];

const DESCRIPTION =
  "Strict Ed25519 verification (SECURITY.md §2) at each place a signature is checked. Inputs: signing_seed and each " +
  "place's signed fields (`places`). Per case: the place and kind, the `public_key` and `signature` (crafted from " +
  "signing_seed where the kind says so: nonces r_i = SHA-512(signing_seed || u32be(i)) mod L, i = 0, 1, … until the kind's " +
  "condition on k = SHA-512(R || A || M) mod L holds), the exact `signed_message` M the place builds, and `result`: " +
  "valid or invalid. For sender_key_message the case also gives the whole group `message` (header || ciphertext || " +
  "signature) and, when valid, the `plaintext` a receiver holding `chain_key` and `public_key` decrypts.";

interface PlaceFields {
  identity: { dh_key: Uint8Array };
  signed_prekey: { prekey_id: number; prekey_public: Uint8Array };
  sender_key_message: {
    group_id: Uint8Array;
    sender_id: string;
    key_id: number;
    chain_key: Uint8Array;
    plaintext: Uint8Array;
  };
  group_state: GroupStateFields;
  relay_login: { handshake_hash: Uint8Array };
}

function placeFields(f: Inputs): PlaceFields {
  const id = f.list("places");
  if (id.length !== PLACES.length) throw new CodecError(`${FILE}: places: expected ${PLACES.length}`);
  const at = (place: Place) => {
    const i = PLACES.indexOf(place);
    const o = id[i]!;
    if (o.string("place") !== place) throw new CodecError(`${FILE}: places[${i}].place: expected "${place}"`);
    return o;
  };
  const gs = at("group_state");
  const names = (o: Inputs, name: string) => o.list(name).map((x) => x.string("name"));
  return {
    identity: { dh_key: at("identity").hex("dh_key", 32) },
    signed_prekey: {
      prekey_id: at("signed_prekey").u32("prekey_id"),
      prekey_public: at("signed_prekey").hex("prekey_public", 32),
    },
    sender_key_message: {
      group_id: at("sender_key_message").hex("group_id"),
      sender_id: at("sender_key_message").string("sender_id"),
      key_id: at("sender_key_message").u32("key_id"),
      chain_key: at("sender_key_message").hex("chain_key", 32),
      plaintext: at("sender_key_message").hex("plaintext"),
    },
    group_state: {
      chat: gs.u32("chat"),
      epoch: gs.u32("epoch"),
      name: gs.string("name"),
      members: names(gs, "members"),
      admins: names(gs, "admins"),
      by: gs.string("by"),
      ts: gs.u32("ts"),
    },
    relay_login: { handshake_hash: at("relay_login").hex("handshake_hash", 32) },
  };
}

function placesOutput(p: PlaceFields) {
  const list = (xs: readonly string[]) => xs.map((name) => ({ name }));
  return [
    { place: "identity", dh_key: toHex(p.identity.dh_key) },
    {
      place: "signed_prekey",
      prekey_id: p.signed_prekey.prekey_id,
      prekey_public: toHex(p.signed_prekey.prekey_public),
    },
    {
      place: "sender_key_message",
      group_id: toHex(p.sender_key_message.group_id),
      sender_id: p.sender_key_message.sender_id,
      key_id: p.sender_key_message.key_id,
      chain_key: toHex(p.sender_key_message.chain_key),
      plaintext: toHex(p.sender_key_message.plaintext),
    },
    {
      place: "group_state",
      chat: p.group_state.chat,
      epoch: p.group_state.epoch,
      name: p.group_state.name,
      members: list(p.group_state.members),
      admins: list(p.group_state.admins),
      by: p.group_state.by,
      ts: p.group_state.ts,
    },
    { place: "relay_login", handshake_hash: toHex(p.relay_login.handshake_hash) },
  ];
}

/** The sender-key message's parts at iteration 0 (§7.4): the signature covers L || ad || ciphertext. */
function senderParts(p: PlaceFields["sender_key_message"]) {
  const context: SenderKeyContext = { groupId: p.group_id, senderId: p.sender_id };
  const header = senderMessageHeader(p.key_id, 0);
  const ad = senderMessageAd(context, header);
  const { key, nonce } = senderMessageKeys(senderChainStep(p.chain_key).messageKey);
  const ciphertext = xchachaEncrypt(key, nonce, p.plaintext, ad);
  return { context, header, ciphertext, signed: senderSignatureInput(ad, ciphertext) };
}

function signedMessage(place: Place, p: PlaceFields): Uint8Array {
  switch (place) {
    case "identity":
      return identityDhKeyMessage(p.identity.dh_key);
    case "signed_prekey":
      return signedPrekeyMessage(p.signed_prekey.prekey_id, p.signed_prekey.prekey_public);
    case "sender_key_message":
      return senderParts(p.sender_key_message).signed;
    case "group_state":
      return groupStateSignedBytes(p.group_state);
    case "relay_login":
      return relayLoginMessage(p.relay_login.handshake_hash);
  }
}

/** A nonce r_i = SHA-512(seed || u32be(i)) mod L, its point r_i·B and that point's encoding R. */
interface Nonce {
  readonly r: bigint;
  readonly point: E.Point;
  readonly R: Uint8Array;
}

/**
 * The signing seed's key pair, secret scalar a and A = a·B, and its nonces, each computed once
 * per recompute: every place and kind draws from the same nonces, and these BigInt scalar
 * multiplications are what makes this file slow to verify.
 */
interface Signer {
  readonly pair: ReturnType<typeof ed25519FromSeed>;
  readonly a: bigint;
  readonly A: E.Point;
  nonce(i: number): Nonce;
}

function signerOf(seed: Uint8Array): Signer {
  const a = E.secretScalar(seed) % E.L;
  const nonces: Nonce[] = [];
  return {
    pair: ed25519FromSeed(seed),
    a,
    A: E.multiply(E.BASE, a),
    nonce(i) {
      let n = nonces[i];
      if (!n) {
        const r = E.scalarFrom(sha512(concat(seed, u32be(i))));
        const point = E.multiply(E.BASE, r);
        n = { r, point, R: E.encode(point) };
        nonces[i] = n;
      }
      return n;
    },
  };
}

/** The first nonce r_i (i = 0, 1, …) that satisfies `ok`. */
function nonceWhere(signer: Signer, ok: (n: Nonce) => boolean): Nonce {
  for (let i = 0; i < 256; i++) {
    const n = signer.nonce(i);
    if (ok(n)) return n;
  }
  throw new CodecError(`${FILE}: no nonce satisfies the condition in 256 tries`);
}

/** The public key and signature of one kind over `m`, from the signer's seed. */
function craft(kind: string, signer: Signer, m: Uint8Array): { publicKey: Uint8Array; signature: Uint8Array } {
  const { pair, a, A } = signer;
  switch (kind) {
    case "genuine":
      return { publicKey: pair.publicKey, signature: ed25519Sign(pair.privateKey, m) };
    case "small-order-key": {
      const pk = E.encode(E.TORSION_8);
      const { r, R } = nonceWhere(signer, ({ R }) => E.challenge(R, pk, m) % 8n === 0n);
      return { publicKey: pk, signature: E.signatureBytes(R, r) };
    }
    case "non-canonical-key": {
      const pk = E.rawEncoding(E.P + 1n, 0);
      const { r, R } = nonceWhere(signer, () => true);
      return { publicKey: pk, signature: E.signatureBytes(R, r) };
    }
    case "small-order-r": {
      const R = E.encode(E.IDENTITY);
      return {
        publicKey: pair.publicKey,
        signature: E.signatureBytes(R, (E.challenge(R, pair.publicKey, m) * a) % E.L),
      };
    }
    case "non-canonical-s": {
      const sig = ed25519Sign(pair.privateKey, m);
      return { publicKey: pair.publicKey, signature: E.signatureBytes(sig.slice(0, 32), E.signatureS(sig) + E.L) };
    }
    case "mixed-order-key-equation-fails":
    case "mixed-order-key-equation-holds": {
      const pk = E.encode(E.add(A, E.TORSION_8));
      const holds = kind.endsWith("holds");
      const { r, R } = nonceWhere(signer, ({ R }) => (E.challenge(R, pk, m) % 8n === 0n) === holds);
      return { publicKey: pk, signature: E.signatureBytes(R, (r + E.challenge(R, pk, m) * a) % E.L) };
    }
    case "mixed-order-r": {
      const { r, point } = nonceWhere(signer, () => true);
      const R = E.encode(E.add(point, E.TORSION_8));
      return {
        publicKey: pair.publicKey,
        signature: E.signatureBytes(R, (r + E.challenge(R, pair.publicKey, m) * a) % E.L),
      };
    }
  }
  throw new CodecError(`${FILE}: unknown kind ${kind}`);
}

function recompute(file: unknown, impl: VectorImplementation) {
  const f = new Inputs(file, FILE);
  const seed = f.hex("signing_seed", 32);
  const signer = signerOf(seed);
  const places = placeFields(f);
  const cases = PLACES.flatMap((place) =>
    KINDS.map((k) => {
      const m = signedMessage(place, places);
      const { publicKey, signature } = craft(k.kind, signer, m);
      let valid: boolean;
      let extra = {};
      if (place === "sender_key_message") {
        // Through the receiving code itself (§7.5), with the signature check under test.
        const p = places.sender_key_message;
        const parts = senderParts(p);
        const message = concat(parts.header, parts.ciphertext, signature);
        const receiver = {
          kind: "receiver" as const,
          keyId: p.key_id,
          iteration: 0,
          chainKey: p.chain_key,
          signingPublic: publicKey,
          skipped: new Map<number, Uint8Array>(),
        };
        try {
          const out = senderDecryptUnderRules(
            { ...SENDER_KEY_RULES, verify: impl.ed25519Verify },
            receiver,
            parts.context,
            message,
          );
          valid = true;
          extra = { message: toHex(message), plaintext: toHex(out.plaintext) };
        } catch (e) {
          if (!(e instanceof SmsgError) || e.code !== "CRYPTO_VERIFICATION") throw e;
          valid = false;
          extra = { message: toHex(message) };
        }
      } else {
        valid = impl.ed25519Verify(publicKey, m, signature);
      }
      return {
        id: `${place}/${k.kind}`,
        comment: k.comment,
        place,
        kind: k.kind,
        public_key: toHex(publicKey),
        signed_message: toHex(m),
        signature: toHex(signature),
        ...extra,
        result: valid ? "valid" : "invalid",
      };
    }),
  );
  return {
    suite: "signatures",
    description: DESCRIPTION,
    spec: "SECURITY.md §2 (strict Ed25519 verification), §4.1, §4.2, §7.5, §10.4, §15.4.1",
    signing_seed: toHex(seed),
    places: placesOutput(places),
    cases,
  };
}

/** The kinds and their expected results, for the tests that check each place's own code. */
export const SIGNATURE_KINDS = KINDS;

export const signatureVectors: VectorSuite = {
  file: FILE,
  recompute(file: unknown, impl: VectorImplementation = THIS_IMPLEMENTATION) {
    return recompute(file, impl);
  },
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors signatures"));
    const seed = toHex(rng(32));
    const dhKey = toHex(x25519Base(rng(32)));
    const prekey = toHex(x25519Base(rng(32)));
    const chainKey = toHex(rng(32));
    const hash = toHex(rng(32));
    const names = (xs: string[]) => xs.map((name) => ({ name }));
    return recompute(
      {
        signing_seed: seed,
        places: [
          { place: "identity", dh_key: dhKey },
          { place: "signed_prekey", prekey_id: 12, prekey_public: prekey },
          {
            place: "sender_key_message",
            group_id: toHex(utf8("42")),
            sender_id: "alice",
            key_id: 77,
            chain_key: chainKey,
            plaintext: toHex(utf8("group message")),
          },
          {
            place: "group_state",
            chat: 42,
            epoch: 3,
            name: "team",
            members: names(["alice", "bob", "carol"]),
            admins: names(["alice"]),
            by: "alice",
            ts: 1700000000,
          },
          { place: "relay_login", handshake_hash: hash },
        ],
      },
      THIS_IMPLEMENTATION,
    );
  },
};
