/**
 * The relay handshake as a sans-I/O machine (SECURITY.md §10 "Protocol", "Framing",
 * "Failures"): 48-byte messages with empty payloads, framed; anything else is refused.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { concat, toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import {
  HandshakeState,
  RELAY_HANDSHAKE_MESSAGE_BYTES,
  RELAY_PROLOGUE_TEXT,
  RELAY_PROTOCOL,
  RelayHandshake,
  encodeRecord,
} from "../../src/transport/index.js";
import { OTHER_KEYS, RELAY_KEYS, clientSide, relaySide, rngFor } from "./fixtures.js";

describe("RelayHandshake", () => {
  test("two 48-byte messages, framed; both sides agree on h and the channel works", () => {
    const c = clientSide();
    const r = relaySide();
    const m1 = c.start();
    expect(m1.length).toBe(2 + RELAY_HANDSHAKE_MESSAGE_BYTES);
    expect([m1[0], m1[1]]).toEqual([0, 48]);
    const s1 = r.receive(m1);
    expect(s1.send.length).toBe(50);
    expect(s1.rest!.length).toBe(0);
    const s2 = c.receive(s1.send);
    expect(s2.send.length).toBe(0);
    expect(toHex(s2.session!.handshakeHash)).toBe(toHex(s1.session!.handshakeHash));
    expect(c.isDone && r.isDone).toBe(true);
    expect(s1.session!.open(s2.session!.seal(utf8("hi")))).toEqual([utf8("hi")]);
  });

  test("is the NK handshake of HandshakeState with the relay prologue and empty payloads", () => {
    const init = new HandshakeState({
      protocolName: RELAY_PROTOCOL,
      initiator: true,
      prologue: utf8(RELAY_PROLOGUE_TEXT),
      remoteStaticPublicKey: RELAY_KEYS.publicKey,
      rng: rngFor(1),
    });
    const m1 = encodeRecord(init.writeMessage());
    expect(toHex(m1)).toBe(toHex(clientSide(1).start()));
    const r = relaySide();
    const step = r.receive(m1);
    init.readMessage(step.send.subarray(2));
    expect(toHex(init.handshakeHash)).toBe(toHex(step.session!.handshakeHash));
  });

  test("byte by byte, with the first transport record in the same bytes", () => {
    const c = clientSide(3);
    const r = relaySide(4);
    const wire = c.start();
    let step;
    for (let i = 0; i < wire.length; i++) {
      step = r.receive(wire.subarray(i, i + 1));
      if (i < wire.length - 1) expect(step.session).toBeUndefined();
    }
    const client = c.receive(step!.send).session!;
    // message 2 followed by a record in one chunk: the record comes back as `rest`
    const c2 = clientSide(5);
    const r2 = relaySide(6);
    const s1 = r2.receive(c2.start());
    const both = concat(s1.send, s1.session!.seal(utf8("first")));
    const s2 = c2.receive(both);
    expect(s2.rest!.length).toBe(2 + 5 + 16);
    expect(s2.session!.open(s2.rest!)).toEqual([utf8("first")]);
    expect(client.handshakeHash.length).toBe(32);
  });

  test("the client pinned another key: the relay cannot decrypt message 1", () => {
    const c = clientSide(1, OTHER_KEYS.publicKey);
    const r = relaySide();
    expect(() => r.receive(c.start())).toThrow(new CryptoVerificationError("could not decrypt"));
    expect(() => r.receive(new Uint8Array(1))).toThrow(UsageError);
  });

  test("an impostor relay cannot read message 1; a reply meant for another handshake fails at the client", () => {
    expect(() => relaySide(2, OTHER_KEYS).receive(clientSide().start())).toThrow(CryptoVerificationError);
    const c = clientSide(7);
    c.start();
    const reply = relaySide(8).receive(clientSide(9).start()).send; // a genuine reply, to another client
    expect(() => c.receive(reply)).toThrow(new CryptoVerificationError("could not decrypt"));
  });

  test("a non-empty payload is refused from its length prefix", () => {
    const init = new HandshakeState({
      protocolName: RELAY_PROTOCOL,
      initiator: true,
      prologue: utf8(RELAY_PROLOGUE_TEXT),
      remoteStaticPublicKey: RELAY_KEYS.publicKey,
      rng: rngFor(1),
    });
    const r = relaySide();
    expect(() => r.receive(encodeRecord(init.writeMessage(utf8("credential"))))).toThrow(CodecError);
  });

  test("wrong lengths are refused as soon as the two length bytes arrive", () => {
    for (const len of [0, 16, 47, 49, 65535]) {
      const r = relaySide();
      expect(r.receive(new Uint8Array([len >>> 8])).send.length).toBe(0);
      expect(() => r.receive(new Uint8Array([len & 0xff]))).toThrow(CodecError);
    }
  });

  test("random bytes: refused (CodecError or could not decrypt), never accepted", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 50, maxLength: 200 }), fc.boolean(), (bytes, realPrefix) => {
        if (realPrefix) bytes.set([0, 48]);
        const r = relaySide();
        let error: unknown;
        try {
          r.receive(bytes);
        } catch (err) {
          error = err;
        }
        if (realPrefix) expect(error).toBeInstanceOf(CryptoVerificationError);
        else expect(error instanceof CodecError || error instanceof CryptoVerificationError, String(error)).toBe(true);
      }),
    );
  });

  test("usage: turns and roles", () => {
    const c = clientSide();
    expect(() => c.receive(new Uint8Array(50))).toThrow(UsageError);
    c.start();
    expect(() => c.start()).toThrow(UsageError);
    expect(() => relaySide().start()).toThrow(UsageError);
    const r = relaySide();
    r.receive(clientSide(2).start());
    expect(() => r.receive(new Uint8Array(1))).toThrow(/feed transport bytes to the session/);
    expect(() => new RelayHandshake({ role: "initiator", relayStaticKey: new Uint8Array(31), rng: rngFor(1) })).toThrow(
      UsageError,
    );
  });
});
