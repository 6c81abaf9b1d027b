/**
 * Properties of the Noise handshake and transport that the vectors do not show: tampering,
 * wrong keys, replay and reordering, turn-taking, length limits, and that a failed transport
 * decryption leaves the receiving CipherState usable.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import { x25519Base } from "../../crypto/primitives.js";
import { replayRng, seededRng, type Rng } from "../../crypto/rng.js";
import {
  HandshakeState,
  RELAY_PROTOCOL,
  buildProtocolName,
  parseProtocolName,
  type HandshakeOptions,
  type TransportCiphers,
} from "../../src/transport/index.js";

const seed = (n: number) => new Uint8Array(32).fill(n);
const INIT_STATIC = seededRng(seed(1))(32);
const RESP_STATIC = seededRng(seed(2))(32);
const OTHER_STATIC = seededRng(seed(3))(32);
const PSK = seededRng(seed(4))(32);
const PROLOGUE = utf8("SMSG-v1 relay transport");
const PAYLOADS = [utf8("hello"), utf8("relay"), utf8("third")];
const empty = new Uint8Array(0);

const PROTOCOLS = ["NK", "IK", "XX", "NKpsk0", "XXpsk3"].flatMap((p) =>
  (["SHA256", "BLAKE2b"] as const).map((h) => buildProtocolName(p, h)),
);

/** Options for both sides of `protocolName` with the fixed test keys. */
function sides(protocolName: string, rng: Rng, over: Partial<HandshakeOptions> = {}): [HandshakeState, HandshakeState] {
  const { pattern } = parseProtocolName(protocolName);
  const base = pattern.name.replace(/psk.*/, "");
  const psks = pattern.messages.flat().includes("psk") ? [PSK] : undefined;
  const init = new HandshakeState({
    protocolName,
    initiator: true,
    prologue: PROLOGUE,
    staticPrivateKey: base === "NK" ? undefined : INIT_STATIC,
    remoteStaticPublicKey: base === "XX" ? undefined : x25519Base(RESP_STATIC),
    psks,
    rng,
    ...over,
  });
  const resp = new HandshakeState({
    protocolName,
    initiator: false,
    prologue: PROLOGUE,
    staticPrivateKey: RESP_STATIC,
    psks,
    rng,
  });
  return [init, resp];
}

/**
 * Runs the whole handshake, applying `mutate` to message `at` on the wire. Returns where the
 * first error was thrown (the index of the message being read) and the error, or the
 * transport ciphers when it succeeded.
 */
function handshake(
  init: HandshakeState,
  resp: HandshakeState,
  at = -1,
  mutate: (m: Uint8Array) => Uint8Array = (m) => m,
): { failedAt: number; error: unknown } | { i: TransportCiphers; r: TransportCiphers } {
  const count = init.protocol.pattern.messages.length;
  for (let n = 0; n < count; n++) {
    const [w, r] = n % 2 === 0 ? [init, resp] : [resp, init];
    let wire = w.writeMessage(PAYLOADS[n]);
    if (n === at) wire = mutate(wire);
    try {
      r.readMessage(wire);
    } catch (error) {
      return { failedAt: n, error };
    }
  }
  expect(toHex(init.handshakeHash)).toBe(toHex(resp.handshakeHash));
  return { i: init.split(), r: resp.split() };
}

function completed(h: ReturnType<typeof handshake>): { i: TransportCiphers; r: TransportCiphers } {
  if ("error" in h) throw h.error;
  return h;
}

/**
 * Where tampering with message n is detected: the index of the message whose read fails.
 * Every message that ends in an encrypted payload authenticates all of its bytes: the payload
 * is sealed with h as associated data, and h has absorbed every earlier byte of the message
 * (the clear ephemeral key too, so even a flip of its top bit, which X25519 ignores, changes h).
 * The exception is the first XX message (`-> e`): no key exists yet, so its ephemeral key
 * and payload travel unauthenticated; the responder accepts it, but its h then differs, so
 * the initiator's read of message 1 fails. (NK's first message is authenticated at once:
 * `es` gives it a key before its payload.)
 * In a PSK handshake the "e" token also calls MixKey(e) (Noise §9.2), so every payload,
 * XXpsk3's first one included, is sealed and tampering is caught at once. That first key is
 * derived from public values only, so it stops corruption, not an active attacker: the
 * security of XXpsk3's message 0 is the same as XX's.
 */
const DETECTED_AT: Record<string, number[]> = { NK: [0, 1], IK: [0, 1], XX: [1, 1, 2] };

describe("tampering with any byte of any handshake message fails the handshake", () => {
  for (const protocolName of PROTOCOLS) {
    test(protocolName, () => {
      const { pattern } = parseProtocolName(protocolName);
      const base = pattern.name.replace(/psk.*/, "");
      const psk = pattern.name.includes("psk");
      let cases = 0;
      for (let n = 0; n < pattern.messages.length; n++) {
        const expectedAt = psk ? n : DETECTED_AT[base]![n]!;
        const length = (() => {
          const [a, b] = sides(protocolName, seededRng(seed(9)));
          let len = 0;
          handshake(a, b, n, (m) => ((len = m.length), m));
          return len;
        })();
        for (let byte = 0; byte < length; byte++) {
          for (const mask of [0x01, 0x80]) {
            const [init, resp] = sides(protocolName, seededRng(seed(9)));
            const result = handshake(init, resp, n, (m) => {
              const t = m.slice();
              t[byte]! ^= mask;
              return t;
            });
            expect("error" in result, `message ${n} byte ${byte} mask ${mask}`).toBe(true);
            if ("error" in result) {
              expect(result.error).toBeInstanceOf(CryptoVerificationError);
              expect(result.failedAt, `message ${n} byte ${byte}`).toBe(expectedAt);
            }
            cases++;
          }
        }
      }
      expect(cases).toBeGreaterThan(100);
    });
  }

  test("XX message 0 really is unauthenticated when read: the responder accepts a tampered one", () => {
    const [init, resp] = sides(buildProtocolName("XX", "SHA256"), seededRng(seed(9)));
    const m0 = init.writeMessage(utf8("hello"));
    m0[m0.length - 1]! ^= 1;
    expect(new TextDecoder().decode(resp.readMessage(m0))).toBe("helln"); // "o" ^ 1
    const m1 = resp.writeMessage();
    expect(() => init.readMessage(m1)).toThrow(CryptoVerificationError);
  });

  test("appending a byte to a sealed message fails; a truncated message is a CodecError", () => {
    for (const protocolName of PROTOCOLS) {
      const [a, b] = sides(protocolName, seededRng(seed(9)));
      const first = parseProtocolName(protocolName).pattern.name.startsWith("XX") ? 1 : 0;
      const r = handshake(a, b, first, (m) => new Uint8Array([...m, 0]));
      expect("error" in r && r.error instanceof CryptoVerificationError).toBe(true);
    }
    const [init, resp] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    const m0 = init.writeMessage(); // e (32) + tag (16)
    expect(m0.length).toBe(48);
    expect(() => resp.readMessage(m0.subarray(0, 47))).toThrow(CodecError);
    expect(resp.action).toBe("failed");
    const [, resp2] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    expect(() => resp2.readMessage(new Uint8Array(65536))).toThrow(CodecError);
  });

  test("a different prologue on one side fails at the first sealed message", () => {
    const [init] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    const resp = new HandshakeState({
      protocolName: RELAY_PROTOCOL,
      initiator: false,
      prologue: utf8("other"),
      staticPrivateKey: RESP_STATIC,
      rng: seededRng(seed(8)),
    });
    expect(() => resp.readMessage(init.writeMessage())).toThrow(CryptoVerificationError);
  });
});

describe("NK: the initiator only completes with the holder of the pinned static key", () => {
  test("an initiator that pinned the wrong key is rejected by the real relay", () => {
    const [init, resp] = sides(RELAY_PROTOCOL, seededRng(seed(9)), { remoteStaticPublicKey: x25519Base(OTHER_STATIC) });
    expect(() => resp.readMessage(init.writeMessage())).toThrow(CryptoVerificationError);
  });

  test("an impostor relay cannot read message 0 nor forge message 1", () => {
    // The victim pins the real relay key. The impostor holds OTHER_STATIC.
    const victim = sides(RELAY_PROTOCOL, replayRng([seed(20)]))[0];
    const impostor = new HandshakeState({
      protocolName: RELAY_PROTOCOL,
      initiator: false,
      prologue: PROLOGUE,
      staticPrivateKey: OTHER_STATIC,
      rng: seededRng(seed(21)),
    });
    const m0 = victim.writeMessage();
    expect(() => impostor.readMessage(m0)).toThrow(CryptoVerificationError);

    // The best an impostor can do: run a session with a client that pinned ITS key, using the
    // victim's very ephemeral key, and replay its answer to the victim.
    const dupe = new HandshakeState({
      protocolName: RELAY_PROTOCOL,
      initiator: true,
      prologue: PROLOGUE,
      remoteStaticPublicKey: x25519Base(OTHER_STATIC),
      ephemeralPrivateKey: seed(20),
    });
    const impostor2 = new HandshakeState({
      protocolName: RELAY_PROTOCOL,
      initiator: false,
      prologue: PROLOGUE,
      staticPrivateKey: OTHER_STATIC,
      rng: seededRng(seed(21)),
    });
    const d0 = dupe.writeMessage();
    expect(toHex(d0.subarray(0, 32))).toBe(toHex(m0.subarray(0, 32))); // same ephemeral on the wire
    impostor2.readMessage(d0);
    const forged = impostor2.writeMessage();
    expect(() => victim.readMessage(forged)).toThrow(CryptoVerificationError);
    expect(victim.action).toBe("failed");
  });

  test("a low-order remote key is refused (X25519 all-zero output)", () => {
    const [init] = sides(RELAY_PROTOCOL, seededRng(seed(9)), { remoteStaticPublicKey: new Uint8Array(32) });
    expect(() => init.writeMessage()).toThrow(CryptoVerificationError);
    const [, resp] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    const lowOrder = new Uint8Array(48);
    lowOrder[0] = 1; // u = 1, a point of order 4
    expect(() => resp.readMessage(lowOrder)).toThrow(CryptoVerificationError);
    const [, resp2] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    expect(() => resp2.readMessage(lowOrder)).toThrow("could not decrypt"); // never says which check failed
  });
});

describe("HandshakeState API", () => {
  test("RELAY_PROTOCOL is NK / 25519 / ChaChaPoly / SHA256", () => {
    const p = parseProtocolName(RELAY_PROTOCOL);
    expect([p.pattern.name, p.dh, p.cipher, p.hash.name]).toEqual(["NK", "25519", "ChaChaPoly", "SHA256"]);
    expect(buildProtocolName("NK", "SHA256")).toBe(RELAY_PROTOCOL);
  });

  test("both sides learn what the pattern reveals; the hash is HASHLEN bytes", () => {
    for (const protocolName of PROTOCOLS) {
      const [init, resp] = sides(protocolName, seededRng(seed(9)));
      expect(() => init.handshakeHash).toThrow(UsageError);
      completed(handshake(init, resp));
      expect(toHex(init.remoteStatic!)).toBe(toHex(x25519Base(RESP_STATIC)));
      const base = init.protocol.pattern.name.slice(0, 2);
      if (base === "NK") expect(resp.remoteStatic).toBeUndefined();
      else expect(toHex(resp.remoteStatic!)).toBe(toHex(x25519Base(INIT_STATIC)));
      expect(init.handshakeHash.length).toBe(init.protocol.hash.hashLen);
      expect([init.action, resp.action]).toEqual(["done", "done"]);
    }
  });

  test("an injected ephemeral key gives the same bytes as an rng that returns it", () => {
    const a = sides(RELAY_PROTOCOL, replayRng([seed(30)]))[0].writeMessage(utf8("x"));
    const b = sides(RELAY_PROTOCOL, replayRng([]), { ephemeralPrivateKey: seed(30) })[0].writeMessage(utf8("x"));
    expect(toHex(a)).toBe(toHex(b));
  });

  test("calls out of turn throw UsageError and leave the handshake usable", () => {
    const [init, resp] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    expect(() => resp.writeMessage()).toThrow(UsageError);
    expect(() => init.readMessage(new Uint8Array(48))).toThrow(UsageError);
    expect(() => init.split()).toThrow(UsageError);
    const m0 = init.writeMessage();
    expect(() => init.writeMessage()).toThrow(UsageError);
    resp.readMessage(m0);
    expect(() => resp.readMessage(m0)).toThrow(UsageError);
    init.readMessage(resp.writeMessage());
    expect(() => init.writeMessage()).toThrow(UsageError);
    init.split();
    expect(() => init.split()).toThrow(UsageError);
  });

  test("a failed handshake refuses every later call", () => {
    const [init, resp] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    const m0 = init.writeMessage();
    m0[40]! ^= 1;
    expect(() => resp.readMessage(m0)).toThrow(CryptoVerificationError);
    expect(resp.action).toBe("failed");
    expect(() => resp.writeMessage()).toThrow(UsageError);
    expect(() => resp.split()).toThrow(UsageError);
  });

  test("the 65535-byte limit (Noise §3) holds for handshake messages", () => {
    const [init, resp] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    expect(() => init.writeMessage(new Uint8Array(65535 - 48 + 1))).toThrow(UsageError);
    expect(init.action).toBe("write"); // nothing was consumed
    const m0 = init.writeMessage(new Uint8Array(65535 - 48));
    expect(m0.length).toBe(65535);
    expect(resp.readMessage(m0).length).toBe(65535 - 48);
  });

  test("constructor refuses missing, surplus and malformed inputs", () => {
    const rng = seededRng(seed(9));
    const mk = (o: Partial<HandshakeOptions>) => () =>
      new HandshakeState({ protocolName: RELAY_PROTOCOL, initiator: true, rng, ...o });
    expect(mk({})).toThrow(UsageError); // NK initiator needs rs
    expect(mk({ remoteStaticPublicKey: new Uint8Array(31) })).toThrow(UsageError);
    expect(mk({ remoteStaticPublicKey: x25519Base(RESP_STATIC), staticPrivateKey: INIT_STATIC })).toThrow(UsageError);
    expect(mk({ remoteStaticPublicKey: x25519Base(RESP_STATIC), rng: undefined })).toThrow(UsageError);
    expect(mk({ remoteStaticPublicKey: x25519Base(RESP_STATIC), psks: [PSK] })).toThrow(UsageError);
    expect(
      mk({
        protocolName: "Noise_XX_25519_ChaChaPoly_SHA256",
        staticPrivateKey: INIT_STATIC,
        remoteStaticPublicKey: x25519Base(RESP_STATIC),
      }),
    ).toThrow(UsageError);
    expect(
      mk({ protocolName: "Noise_NKpsk0_25519_ChaChaPoly_SHA256", remoteStaticPublicKey: x25519Base(RESP_STATIC) }),
    ).toThrow(UsageError);
    for (const bad of [
      "Noise_NK_448_ChaChaPoly_SHA256",
      "Noise_NK_25519_AESGCM_SHA256",
      "Noise_NK_25519_ChaChaPoly_SHA512",
      "Noise_KK_25519_ChaChaPoly_SHA256",
      "Noise_NKfallback_25519_ChaChaPoly_SHA256",
      "Noise_NKpsk3_25519_ChaChaPoly_SHA256",
      "NK",
    ]) {
      expect(() => parseProtocolName(bad), bad).toThrow(UsageError);
    }
    expect(() => new HandshakeState({ protocolName: RELAY_PROTOCOL, initiator: false, rng })).toThrow(UsageError); // responder needs s
  });
});

describe("transport CipherStates after Split()", () => {
  function session() {
    const [init, resp] = sides(RELAY_PROTOCOL, seededRng(seed(9)));
    return completed(handshake(init, resp));
  }

  test("each side's send pairs with the other's recv", () => {
    const { i, r } = session();
    expect(new TextDecoder().decode(r.recv.decryptWithAd(empty, i.send.encryptWithAd(empty, utf8("up"))))).toBe("up");
    expect(new TextDecoder().decode(i.recv.decryptWithAd(empty, r.send.encryptWithAd(empty, utf8("down"))))).toBe(
      "down",
    );
    // The two directions use different keys: a message cannot be reflected back to its sender.
    expect(() => i.recv.decryptWithAd(empty, i.send.encryptWithAd(empty, utf8("echo")))).toThrow(
      CryptoVerificationError,
    );
  });

  test("replayed and reordered messages fail; the genuine sequence still decrypts", () => {
    const { i, r } = session();
    const m = [0, 1, 2].map((n) => i.send.encryptWithAd(empty, utf8(`m${n}`)));
    expect(() => r.recv.decryptWithAd(empty, m[1]!)).toThrow(CryptoVerificationError); // reordered
    expect(new TextDecoder().decode(r.recv.decryptWithAd(empty, m[0]!))).toBe("m0");
    expect(() => r.recv.decryptWithAd(empty, m[0]!)).toThrow(CryptoVerificationError); // replayed
    expect(new TextDecoder().decode(r.recv.decryptWithAd(empty, m[1]!))).toBe("m1");
    expect(() => r.recv.decryptWithAd(empty, m[1]!)).toThrow(CryptoVerificationError);
    expect(new TextDecoder().decode(r.recv.decryptWithAd(empty, m[2]!))).toBe("m2");
    expect(r.recv.nonce).toBe(3n);
  });

  test("property: any tampered transport message fails and leaves the receiver usable", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (payloads, pick, mask) => {
          const { i, r } = session();
          for (const p of payloads) {
            const ct = i.send.encryptWithAd(empty, p);
            const bad = ct.slice();
            bad[pick % bad.length]! ^= mask;
            const before = r.recv.nonce;
            expect(() => r.recv.decryptWithAd(empty, bad)).toThrow(CryptoVerificationError);
            expect(() => r.recv.decryptWithAd(empty, ct.subarray(0, ct.length - 1))).toThrow(CryptoVerificationError);
            expect(r.recv.nonce).toBe(before);
            expect(toHex(r.recv.decryptWithAd(empty, ct))).toBe(toHex(p));
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});
