/**
 * test/vectors/login-proof.json: the passphrase login proof and the relay's decoy records
 * (SECURITY.md §18.4, §18.5). Per case, from a login seed, a username and a handshake hash: the
 * login public key, the signed bytes and the signature, then the verification table: the genuine
 * proof and proofs that must be refused (another connection, another username, another key, a
 * changed bit, S + L, the signature made under §10.4's label, a short signature). Per decoy, from
 * the relay's decoy secret and a username: the salt and login public key the relay answers with.
 *
 * The verification table (ids, comments, changes) is part of the suite; the file's inputs are each
 * case's login_seed, username and handshake_hash, and each decoy's decoy_secret and username.
 */
import { toHex, utf8 } from "../bytes.js";
import { CodecError } from "../errors.js";
import { HANDSHAKE_HASH_BYTES } from "../login-proof.js";
import { DECOY_SECRET_BYTES, passphraseDecoy } from "../passphrase-decoy.js";
import { ed25519FromSeed, ed25519Sign } from "../primitives.js";
import { seededRng } from "../rng.js";
import { relayLoginMessage } from "../signed-messages.js";
import { Inputs } from "./inputs.js";
import { THIS_IMPLEMENTATION, type VectorImplementation, type VectorSuite } from "./suite.js";

const FILE = "login-proof.json";

/** The group order L of edwards25519 (§2.1), for the non-canonical S case. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;

interface Check {
  readonly id: string;
  readonly comment: string;
  /** What the relay verifies differs from what the client signed. */
  readonly handshake_hash_xor?: number;
  readonly other_username?: string;
  readonly other_key?: true;
  readonly signature_xor?: { readonly offset: number; readonly mask: number };
  readonly s_plus_l?: true;
  readonly relay_login_label?: true;
  readonly truncate?: number;
}

const CHECKS: readonly Check[] = [
  { id: "genuine", comment: "§18.4: the login key's signature over this connection's h and the username verifies" },
  {
    id: "other-connection",
    comment: "§18.4: a proof made for one connection (h) is refused on another: no replay, no relaying",
    handshake_hash_xor: 1,
  },
  {
    id: "other-username",
    comment: "§18.4: the username is signed: a proof for one account fails for another",
    other_username: "alicf",
  },
  {
    id: "other-login-key",
    comment: "§18.4: verified against another account's (or an old) verifier, the proof fails",
    other_key: true,
  },
  { id: "r-bit", comment: "§18.4: a changed bit of R fails", signature_xor: { offset: 0, mask: 1 } },
  { id: "s-bit", comment: "§18.4: a changed bit of S fails", signature_xor: { offset: 40, mask: 0x10 } },
  {
    id: "s-plus-l",
    comment: "§2.1 rule 1: S + L (the same signature, S not reduced) is refused by strict verification",
    s_plus_l: true,
  },
  {
    id: "relay-login-label",
    comment:
      "§3, §18.4: the login key's signature over §10.4's L(\"SMSG-v1 relay login\") || h is not a passphrase login proof",
    relay_login_label: true,
  },
  { id: "short-signature", comment: "§18.4: a 63-byte signature is refused", truncate: 63 },
];

const DESCRIPTION =
  "The passphrase login proof (SECURITY.md §18.4) and the relay's decoy records (§18.5). Per case: login_public = Ed25519 " +
  'public key of login_seed; signed_message = "SMSG-v1 passphrase login proof" || handshake_hash || u32be(len username) || ' +
  "username; signature = Ed25519-Sign(login_seed, signed_message). Each check gives what the relay verifies (verified_public_key, " +
  "verified_handshake_hash, verified_username, verified_signature) and the strict (§2.1) verdict. " +
  "Per decoy: out = HKDF-SHA256(decoy_secret, empty " +
  'salt, "SMSG-v1 passphrase decoy" || u32be(len username) || username, 48); salt = out[0..16], login_public = Ed25519 ' +
  "public key of out[16..48].";

function sPlusL(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  s += L;
  const out = signature.slice();
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

function computeCase(c: Inputs, impl: VectorImplementation) {
  const loginSeed = c.hex("login_seed", 32);
  const username = c.string("username");
  if (username.length === 0) throw new CodecError(`${FILE}: username: must not be empty`);
  const h = c.hex("handshake_hash", HANDSHAKE_HASH_BYTES);
  const login = ed25519FromSeed(loginSeed);
  const signedMessage = impl.passphraseLoginMessage(h, username);
  const signature = ed25519Sign(login.privateKey, signedMessage);
  const otherSeed = loginSeed.slice();
  otherSeed[31]! ^= 1;
  const otherPublic = ed25519FromSeed(otherSeed).publicKey;
  const checks = CHECKS.map((k) => {
    const vh = h.slice();
    if (k.handshake_hash_xor !== undefined) vh[31]! ^= k.handshake_hash_xor;
    const vUser = k.other_username ?? username;
    const vKey = k.other_key ? otherPublic : login.publicKey;
    let sig = k.relay_login_label ? ed25519Sign(login.privateKey, relayLoginMessage(h)) : signature.slice();
    if (k.signature_xor) sig[k.signature_xor.offset]! ^= k.signature_xor.mask;
    if (k.s_plus_l) sig = sPlusL(sig);
    if (k.truncate !== undefined) sig = sig.slice(0, k.truncate);
    const ok =
      sig.length === 64 && vKey.length === 32 && impl.ed25519Verify(vKey, impl.passphraseLoginMessage(vh, vUser), sig);
    const { id, comment, ...changes } = k;
    return {
      id,
      comment,
      ...changes,
      verified_public_key: toHex(vKey),
      verified_handshake_hash: toHex(vh),
      verified_username: vUser,
      verified_signature: toHex(sig),
      result: ok ? "valid" : "invalid",
    };
  });
  return {
    login_seed: toHex(loginSeed),
    username,
    handshake_hash: toHex(h),
    login_public: toHex(login.publicKey),
    signed_message: toHex(signedMessage),
    signature: toHex(signature),
    checks,
  };
}

/** The login-proof vector suite (SECURITY.md §18.4, §18.5). */
export const loginProofVectors: VectorSuite = {
  file: FILE,

  recompute(file: unknown, impl: VectorImplementation = THIS_IMPLEMENTATION) {
    const f = new Inputs(file, FILE);
    return {
      suite: "login-proof",
      description: DESCRIPTION,
      spec: "SECURITY.md §18.4, §18.5 (passphrase log-in)",
      cases: f.list("cases").map((c) => computeCase(c, impl)),
      decoys: f.list("decoys").map((d) => {
        const secret = d.hex("decoy_secret", DECOY_SECRET_BYTES);
        const username = d.string("username");
        if (username.length === 0) throw new CodecError(`${FILE}: username: must not be empty`);
        const decoy = passphraseDecoy(secret, username);
        return {
          decoy_secret: toHex(secret),
          username,
          salt: toHex(decoy.salt),
          login_public: toHex(decoy.loginPublicKey),
        };
      }),
    };
  },

  /** The fixed inputs, from seededRng("SMSG-v1 vectors login proof"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors login proof"));
    const secret = toHex(rng(32));
    return this.recompute({
      cases: [
        { login_seed: toHex(rng(32)), username: "alice", handshake_hash: toHex(rng(32)) },
        { login_seed: toHex(rng(32)), username: "zoe.b-2", handshake_hash: toHex(rng(32)) },
      ],
      decoys: [
        { decoy_secret: secret, username: "alice" },
        { decoy_secret: secret, username: "nobody" },
      ],
    });
  },
};
