/**
 * SecureSession (SECURITY.md §10 "After the handshake", "Framing", "Failures"): a byte stream
 * of plaintext over framed transport records; any chunking of the records gives the same
 * stream; a tampered, replayed, reordered or truncated record kills the session.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { concat, toHex, utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import {
  CipherState,
  NOISE_MAX_PLAINTEXT_BYTES,
  RecordDecoder,
  SecureSession,
  encodeRecord,
} from "../../src/transport/index.js";
import { sessionPair } from "./fixtures.js";

const bytes = (len: number, fill = 0) => new Uint8Array(len).map((_, i) => (i * 31 + fill) & 0xff);

describe("SecureSession", () => {
  test("both sides hold the same 32-byte handshake hash, as a copy", () => {
    const { client, relay } = sessionPair();
    expect(client.handshakeHash.length).toBe(32);
    expect(toHex(client.handshakeHash)).toBe(toHex(relay.handshakeHash));
    client.handshakeHash.fill(0);
    expect(toHex(client.handshakeHash)).toBe(toHex(relay.handshakeHash));
  });

  test("seal then open, both directions", () => {
    const { client, relay } = sessionPair();
    expect(relay.open(client.seal(utf8("hello relay")))).toEqual([utf8("hello relay")]);
    expect(client.open(relay.seal(utf8("hello client")))).toEqual([utf8("hello client")]);
    // the two directions use different keys: a record is not accepted back by its sender
    const { client: c2 } = sessionPair(2);
    expect(() => c2.open(c2.seal(utf8("reflected")))).toThrow(CryptoVerificationError);
  });

  test("splits plaintext into records of at most 65519 bytes", () => {
    const { client, relay } = sessionPair();
    for (const [len, count] of [
      [1, 1],
      [NOISE_MAX_PLAINTEXT_BYTES, 1],
      [NOISE_MAX_PLAINTEXT_BYTES + 1, 2],
      [3 * NOISE_MAX_PLAINTEXT_BYTES, 3],
      [1_000_000, 16],
    ] as const) {
      const pt = bytes(len, len);
      const sealed = client.seal(pt);
      const records = new RecordDecoder().push(sealed);
      expect(records.length, `${len} bytes`).toBe(count);
      expect(records.every((r) => r.length <= 65535)).toBe(true);
      expect(sealed.length).toBe(len + count * 18);
      expect(toHex(concat(...relay.open(sealed)))).toBe(toHex(pt));
    }
  });

  test("an empty plaintext sends nothing; an empty-payload record is accepted and yields nothing", () => {
    const { client } = sessionPair();
    expect(client.seal(new Uint8Array(0)).length).toBe(0);
    const k1 = bytes(32, 1);
    const k2 = bytes(32, 2);
    const relay = new SecureSession({ send: new CipherState(k2), recv: new CipherState(k1) }, bytes(32));
    const peer = new CipherState(k1);
    const empty = encodeRecord(peer.encryptWithAd(new Uint8Array(0), new Uint8Array(0)));
    expect(empty.length).toBe(18);
    const next = encodeRecord(peer.encryptWithAd(new Uint8Array(0), utf8("after")));
    expect(relay.open(concat(empty, next))).toEqual([utf8("after")]);
  });

  test("arbitrary chunking of the record stream yields the same plaintext stream", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 200 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
        (writes, steps) => {
          const { client, relay } = sessionPair();
          const wire = concat(...writes.map((w) => client.seal(w)));
          const got: Uint8Array[] = [];
          for (let off = 0, i = 0; off < wire.length; i++) {
            const step = steps[i % steps.length]!;
            got.push(...relay.open(wire.subarray(off, off + step)));
            off += step;
          }
          expect(toHex(concat(...got))).toBe(toHex(concat(...writes)));
          expect(relay.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("split at every offset, and byte by byte", () => {
    const { client } = sessionPair(4);
    const writes = [utf8("a"), bytes(40, 1), utf8("third write")];
    const wire = concat(...writes.map((w) => client.seal(w)));
    const expected = toHex(concat(...writes));
    for (let cut = 0; cut <= wire.length; cut++) {
      const { relay } = sessionPair(4);
      const out = [...relay.open(wire.subarray(0, cut)), ...relay.open(wire.subarray(cut))];
      expect(toHex(concat(...out)), `cut ${cut}`).toBe(expected);
    }
    const { relay } = sessionPair(4);
    const out: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) out.push(...relay.open(wire.subarray(i, i + 1)));
    expect(toHex(concat(...out))).toBe(expected);
  });

  test("a flipped bit anywhere in a record: could not decrypt, then the session is dead", () => {
    const { client } = sessionPair(5);
    const record = client.seal(utf8("tamper with me"));
    for (let i = 2; i < record.length; i++) {
      const { relay } = sessionPair(5);
      const t = record.slice();
      t[i]! ^= 0x01;
      expect(() => relay.open(t)).toThrow(new CryptoVerificationError("could not decrypt"));
      expect(relay.isDead).toBe(true);
      expect(() => relay.open(record)).toThrow(UsageError);
      expect(() => relay.seal(utf8("x"))).toThrow(UsageError);
    }
  });

  test("a replayed record is rejected", () => {
    const { client, relay } = sessionPair(6);
    const record = client.seal(utf8("once"));
    expect(relay.open(record)).toEqual([utf8("once")]);
    expect(() => relay.open(record)).toThrow(CryptoVerificationError);
  });

  test("reordered records are rejected", () => {
    const { client, relay } = sessionPair(7);
    const first = client.seal(utf8("first"));
    const second = client.seal(utf8("second"));
    expect(() => relay.open(second)).toThrow(CryptoVerificationError);
    expect(() => relay.open(first)).toThrow(UsageError);
  });

  test("a record shorter than 16 bytes is a CodecError and kills the session", () => {
    const { relay } = sessionPair(8);
    expect(() => relay.open(new Uint8Array([0, 15, ...bytes(15)]))).toThrow(CodecError);
    expect(relay.isDead).toBe(true);
  });

  test("destroy wipes the session; later calls throw", () => {
    const { client } = sessionPair(9);
    client.destroy();
    client.destroy();
    expect(() => client.seal(utf8("x"))).toThrow(UsageError);
    expect(() => new SecureSession({ send: undefined!, recv: undefined! }, new Uint8Array(0))).toThrow(UsageError);
  });
});
