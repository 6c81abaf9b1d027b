/**
 * Noise protocol names (Noise Protocol Framework, revision 34, §8): building and parsing
 * "Noise_<pattern>_<DH>_<cipher>_<hash>" for the one DH (25519, §12.1) and the one cipher
 * (ChaChaPoly, §12.3) implemented here, and the protocol SocketMessenger's relay uses.
 */
import { UsageError } from "../../crypto/errors.js";
import { noiseHashByName, type NoiseHash, type NoiseHashName } from "./noise-hash.js";
import { patternByName, type HandshakePattern } from "./noise-patterns.js";

/**
 * The relay transport protocol (SECURITY.md §10): NK, so the client, which pinned the relay's
 * static key from its invite, stays anonymous at the transport level and logs in inside the
 * channel; X25519, ChaCha20-Poly1305, SHA-256.
 */
export const RELAY_PROTOCOL = "Noise_NK_25519_ChaChaPoly_SHA256";

/** A parsed protocol name (Noise §8). */
export interface NoiseProtocol {
  /** The full name, the input of InitializeSymmetric (Noise §5.2). */
  readonly name: string;
  readonly pattern: HandshakePattern;
  readonly dh: "25519";
  readonly cipher: "ChaChaPoly";
  readonly hash: NoiseHash;
}

/** Builds "Noise_<pattern>_25519_ChaChaPoly_<hash>" (Noise §8). */
export function buildProtocolName(pattern: string, hash: NoiseHashName): string {
  return `Noise_${pattern}_25519_ChaChaPoly_${hash}`;
}

/**
 * Parses a protocol name (Noise §8). Throws UsageError for a malformed name, or a pattern,
 * modifier, DH, cipher or hash this module does not implement.
 */
export function parseProtocolName(name: string): NoiseProtocol {
  const parts = name.split("_");
  if (parts.length !== 5 || parts[0] !== "Noise") throw new UsageError(`malformed Noise protocol name: ${name}`);
  const [, patternName, dh, cipher, hashName] = parts as [string, string, string, string, string];
  if (dh !== "25519") throw new UsageError(`unsupported Noise DH: ${dh}`);
  if (cipher !== "ChaChaPoly") throw new UsageError(`unsupported Noise cipher: ${cipher}`);
  const hash = noiseHashByName(hashName);
  const pattern = patternByName(patternName);
  return { name, pattern, dh, cipher, hash };
}
