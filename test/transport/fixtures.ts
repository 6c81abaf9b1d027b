/** Test fixtures for the relay transport: fixed relay keys and a sans-I/O session pair. */
import { x25519Base, type X25519KeyPair } from "../../crypto/primitives.js";
import { seededRng, type Rng } from "../../crypto/rng.js";
import { RelayHandshake, type SecureSession } from "../../src/transport/index.js";

export const seed = (n: number) => new Uint8Array(32).fill(n);

function keyPair(n: number): X25519KeyPair {
  const privateKey = seededRng(seed(n))(32);
  return { privateKey, publicKey: x25519Base(privateKey) };
}

/** The relay's static key pair. */
export const RELAY_KEYS = keyPair(2);
/** Another relay's key pair: what a client that pinned the wrong key talks to. */
export const OTHER_KEYS = keyPair(3);

/** A fresh deterministic Rng. */
export const rngFor = (n: number): Rng => seededRng(seed(100 + n));

/** A client (initiator) handshake against RELAY_KEYS, or `relayKey`. */
export function clientSide(n = 1, relayKey = RELAY_KEYS.publicKey): RelayHandshake {
  return new RelayHandshake({ role: "initiator", relayStaticKey: relayKey, rng: rngFor(n) });
}

/** A relay (responder) handshake with RELAY_KEYS, or `keys`. */
export function relaySide(n = 2, keys = RELAY_KEYS): RelayHandshake {
  return new RelayHandshake({ role: "responder", staticPrivateKey: keys.privateKey, rng: rngFor(n) });
}

/** Runs a whole handshake in memory: the client's and the relay's sessions. */
export function sessionPair(n = 1): { client: SecureSession; relay: SecureSession } {
  const c = clientSide(n);
  const r = relaySide(n + 1000);
  const s1 = r.receive(c.start());
  const s2 = c.receive(s1.send);
  if (!s1.session || !s2.session) throw new Error("handshake did not complete");
  return { client: s2.session, relay: s1.session };
}
