/**
 * Record framing (SECURITY.md §10 "Framing"): u16be length || message, cut at every offset,
 * byte by byte and at random, refusing short lengths before allocating.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { concat, toHex } from "../../crypto/bytes.js";
import { CodecError, UsageError } from "../../crypto/errors.js";
import { RECORD_MAX_BYTES, RECORD_MIN_BYTES, RecordDecoder, encodeRecord } from "../../src/transport/index.js";

const body = (len: number, fill: number) => new Uint8Array(len).map((_, i) => (i * 7 + fill) & 0xff);
const hexes = (xs: Uint8Array[]) => xs.map(toHex);

describe("encodeRecord", () => {
  test("prefixes the big-endian length", () => {
    expect(toHex(encodeRecord(body(16, 1)))).toBe("0010" + toHex(body(16, 1)));
    const max = encodeRecord(body(RECORD_MAX_BYTES, 2));
    expect([max[0], max[1], max.length]).toEqual([0xff, 0xff, RECORD_MAX_BYTES + 2]);
  });

  test("refuses what a decoder would refuse", () => {
    expect(() => encodeRecord(body(RECORD_MIN_BYTES - 1, 0))).toThrow(UsageError);
    expect(() => encodeRecord(new Uint8Array(0))).toThrow(UsageError);
    expect(() => encodeRecord(body(RECORD_MAX_BYTES + 1, 0))).toThrow(UsageError);
  });
});

describe("RecordDecoder", () => {
  const records = [body(16, 1), body(48, 2), body(300, 3), body(17, 4), body(RECORD_MAX_BYTES, 5)];
  const stream = concat(...records.map(encodeRecord));

  function decodeInPieces(cuts: number[]): Uint8Array[] {
    const d = new RecordDecoder();
    const out: Uint8Array[] = [];
    let prev = 0;
    for (const cut of [...cuts, stream.length]) {
      out.push(...d.push(stream.subarray(prev, cut)));
      prev = cut;
    }
    expect(d.bufferedBytes).toBe(0);
    return out;
  }

  test("one push holding every record returns them all, as views", () => {
    const out = new RecordDecoder().push(stream);
    expect(hexes(out)).toEqual(hexes(records));
    expect(out[0]!.buffer).toBe(stream.buffer);
  });

  test("split in two at every offset", () => {
    const small = concat(...records.slice(0, 4).map(encodeRecord));
    for (let cut = 0; cut <= small.length; cut++) {
      const d = new RecordDecoder();
      const out = [...d.push(small.subarray(0, cut)), ...d.push(small.subarray(cut))];
      expect(hexes(out), `cut ${cut}`).toEqual(hexes(records.slice(0, 4)));
    }
  });

  test("byte by byte", () => {
    const d = new RecordDecoder();
    const out: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i++) {
      out.push(...d.push(stream.subarray(i, i + 1)));
      if (i === 0) expect(d.bufferedBytes).toBe(1);
    }
    expect(hexes(out)).toEqual(hexes(records));
  });

  test("empty pushes change nothing", () => {
    const d = new RecordDecoder();
    expect(d.push(new Uint8Array(0))).toEqual([]);
    expect(d.push(stream.subarray(0, 1))).toEqual([]);
    expect(d.push(new Uint8Array(0))).toEqual([]);
    expect(hexes(d.push(stream.subarray(1, 18)))).toEqual(hexes(records.slice(0, 1)));
  });

  test("arbitrary chunking yields the same records", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
        expect(hexes(decodeInPieces(cuts.sort((a, b) => a - b)))).toEqual(hexes(records));
      }),
    );
  });

  test("a record that was assembled across pushes does not change when the chunk is reused", () => {
    const d = new RecordDecoder();
    const chunk = encodeRecord(body(20, 9));
    expect(d.push(chunk.subarray(0, 10))).toEqual([]);
    const [rec] = d.push(chunk.subarray(10));
    chunk.fill(0);
    expect(toHex(rec!)).toBe(toHex(body(20, 9)));
  });

  test("a length under 16 is a CodecError, and the decoder is dead afterwards", () => {
    for (const len of [0, 1, 15]) {
      const d = new RecordDecoder();
      expect(() => d.push(new Uint8Array([0, len, ...body(len, 0)]))).toThrow(CodecError);
      expect(() => d.push(encodeRecord(body(16, 0)))).toThrow(UsageError);
    }
    // refused as soon as the second length byte arrives, split or not
    const d = new RecordDecoder();
    expect(d.push(new Uint8Array([0]))).toEqual([]);
    expect(() => d.push(new Uint8Array([15]))).toThrow(CodecError);
  });

  test("random input: whole records or a CodecError, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (bytes, step) => {
        const d = new RecordDecoder();
        try {
          for (let i = 0; i < bytes.length; i += step) {
            for (const r of d.push(bytes.subarray(i, i + step)))
              expect(r.length).toBeGreaterThanOrEqual(RECORD_MIN_BYTES);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError);
        }
        expect(d.bufferedBytes).toBeLessThanOrEqual(RECORD_MAX_BYTES + 2);
      }),
    );
  });
});
