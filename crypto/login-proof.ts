/**
 * The passphrase login proof (SECURITY.md §18.4): an Ed25519 signature by the login key (derived
 * from the passphrase, §18.2) over the Noise handshake hash of the connection (§10.4) and the
 * username. The relay checks it against the login public key it stores as the verifier, with the
 * project's one strict verification (§2.1), so a proof is good on one connection only.
 */
import { usernameBytes } from "./device-certificate.js";
import { UsageError } from "./errors.js";
import { ED25519_PUBLIC_BYTES, ED25519_SIGNATURE_BYTES, ed25519Sign, ed25519Verify } from "./primitives.js";
import { passphraseLoginMessage } from "./signed-messages.js";

function canonicalUsername(username: string): boolean {
  try {
    usernameBytes(username);
    return true;
  } catch {
    return false;
  }
}

/** Bytes of a Noise handshake hash (SHA-256, §10.4). */
export const HANDSHAKE_HASH_BYTES = 32;

/** The signature a logging-in client sends: Ed25519-Sign(login_sk, L("SMSG-v1 passphrase login proof") || h || lp(utf8(username))). */
export function makeLoginProof(loginPrivateKey: Uint8Array, handshakeHash: Uint8Array, username: string): Uint8Array {
  if (handshakeHash.length !== HANDSHAKE_HASH_BYTES) throw new UsageError("the handshake hash must be 32 bytes");
  usernameBytes(username); // canonical (§14.5)
  return ed25519Sign(loginPrivateKey, passphraseLoginMessage(handshakeHash, username));
}

/**
 * Whether `proof` is the login key's signature for this connection's handshake hash and this
 * username (§18.4). `verify` is the strict verification of §2.1; only the vector mutation tests
 * pass another. False for any wrong length, never an exception.
 */
export function verifyLoginProof(
  loginPublicKey: Uint8Array,
  handshakeHash: Uint8Array,
  username: string,
  proof: Uint8Array,
  verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean = ed25519Verify,
): boolean {
  if (
    loginPublicKey.length !== ED25519_PUBLIC_BYTES ||
    handshakeHash.length !== HANDSHAKE_HASH_BYTES ||
    proof.length !== ED25519_SIGNATURE_BYTES ||
    !canonicalUsername(username)
  )
    return false;
  return verify(loginPublicKey, passphraseLoginMessage(handshakeHash, username), proof);
}
