/**
 * The relay key's fingerprint for people: BLAKE2b-160 of the relay's static X25519 public key,
 * in 5 groups of 8 hex digits. The relay prints it at start, `smsg whoami` shows the pinned
 * one, and a key mismatch names it, so an operator and a user can compare them by eye.
 */
import { blake2b } from "../crypto/primitives.js";

/** `c4bf55c0 9e8aca89 62b56c78 feb813fa 1ba4bc4c` for a 32-byte key. */
export function relayKeyFingerprint(publicKey: Uint8Array): string {
  const hex = Buffer.from(blake2b(publicKey, 20)).toString("hex");
  return hex.match(/.{8}/g)!.join(" ");
}
