/**
 * The relay's static Noise key (SECURITY.md §10): created on first start in the data folder as
 * `relay.key` (32 raw private bytes, mode 0600), read on every later start. Clients pin the
 * public half from their invite link, so losing this file strands every client.
 */
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type X25519KeyPair, x25519Base } from "../crypto/primitives.js";
import type { Rng } from "../crypto/rng.js";
import { SmsgError } from "../src/errors.js";

export const RELAY_KEY_FILE = "relay.key";

/** Loads the relay key from `dataDir`, creating it (with `rng`) if absent. `created` says which. */
export function loadOrCreateRelayKey(dataDir: string, rng: Rng): { keyPair: X25519KeyPair; created: boolean } {
  const path = join(dataDir, RELAY_KEY_FILE);
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) chmodSync(path, 0o600); // never leave it readable by others
    const privateKey = new Uint8Array(readFileSync(path));
    if (privateKey.length !== 32)
      throw new SmsgError("CONFIG", `${path} is not a relay key (expected 32 bytes, found ${privateKey.length})`);
    return { keyPair: { privateKey, publicKey: x25519Base(privateKey) }, created: false };
  }
  const privateKey = rng(32);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, privateKey, { mode: 0o600, flag: "wx" });
  renameSync(tmp, path);
  return { keyPair: { privateKey, publicKey: x25519Base(privateKey) }, created: true };
}

/** A short fingerprint of the relay key for humans (src/relay-key-fingerprint.ts). */
export { relayKeyFingerprint } from "../src/relay-key-fingerprint.js";
