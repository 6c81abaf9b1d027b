/**
 * The frame decoder (SECURITY.md §14.2): any cut of the stream gives the same frames, oversized
 * lengths are refused from the header alone, and garbage only ever raises ProtocolError.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { ProtocolError, UsageError } from "../../src/errors.js";
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from "../../src/wire/index.js";

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Feeds `stream` cut at `cuts` (sorted offsets) and returns every frame. */
function decodeCut(stream: Uint8Array, cuts: number[], maxFrameBytes?: number): Uint8Array[] {
  const decoder = new FrameDecoder(maxFrameBytes === undefined ? {} : { maxFrameBytes });
  const frames: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, stream.length]) {
    frames.push(...decoder.push(stream.subarray(start, cut)));
    start = cut;
  }
  expect(decoder.bufferedBytes).toBe(0);
  return frames;
}

/** Fast equality of frame lists (vitest's toEqual walks typed arrays element by element). */
function expectFrames(got: Uint8Array[], want: Uint8Array[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Buffer.from(got[i]!).equals(Buffer.from(want[i]!))) expect(got[i]).toEqual(want[i]);
  }
}

const payloads = [
  new Uint8Array([1]),
  new Uint8Array(300).map((_, i) => i & 0xff),
  new Uint8Array([0, 0, 0, 0]),
  new Uint8Array(3_000).fill(9),
  new Uint8Array([0xff, 0xfe]),
];
const stream = concat(payloads.map((p) => encodeFrame(p)));
/** Small frames, for the exhaustive cuts. */
const small = [
  new Uint8Array([1]),
  new Uint8Array(40).map((_, i) => i),
  new Uint8Array([0, 0, 0, 0]),
  new Uint8Array([9, 9]),
];
const smallStream = concat(small.map((p) => encodeFrame(p)));

describe("FrameDecoder", () => {
  test("one push of the whole stream gives every frame", () => {
    expectFrames(decodeCut(stream, []), payloads);
  });

  test("split in two at every offset gives the same frames", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const frames = decodeCut(stream, [cut]);
      expectFrames(frames, payloads);
    }
    for (let cut = 0; cut <= smallStream.length; cut++) expectFrames(decodeCut(smallStream, [cut]), small);
  });

  test("a frame longer than 65535 bytes, cut anywhere in its header or payload", () => {
    const big = new Uint8Array(70_000).map((_, i) => i * 7);
    const s = concat([encodeFrame(new Uint8Array([1])), encodeFrame(big, 80_000), encodeFrame(new Uint8Array([2]))]);
    for (const cut of [0, 3, 5, 6, 7, 8, 9, 100, 65_540, 70_008, 70_009, 70_010, s.length - 1]) {
      expectFrames(decodeCut(s, [cut], 80_000), [new Uint8Array([1]), big, new Uint8Array([2])]);
    }
  });

  test("split in three at every pair of offsets gives the same frames", () => {
    for (let a = 0; a <= smallStream.length; a++) {
      for (let b = a; b <= smallStream.length; b++) expectFrames(decodeCut(smallStream, [a, b]), small);
    }
  });

  test("fed byte by byte gives the same frames, each as soon as its last byte arrives", () => {
    const decoder = new FrameDecoder();
    const got: Uint8Array[] = [];
    const boundaries = new Set<number>();
    let end = 0;
    for (const p of payloads) boundaries.add((end += 4 + p.length));
    for (let i = 0; i < stream.length; i++) {
      const frames = decoder.push(stream.subarray(i, i + 1));
      expect(frames.length).toBe(boundaries.has(i + 1) ? 1 : 0);
      got.push(...frames);
    }
    expectFrames(got, payloads);
  });

  test("random chunking round-trips random frames", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, rawCuts) => {
          const s = concat(frames.map((f) => encodeFrame(f)));
          const cuts = [...new Set(rawCuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
          expectFrames(decodeCut(s, cuts), frames);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a frame inside one chunk is a view of it; a split frame is copied once", () => {
    const one = encodeFrame(new Uint8Array([1, 2, 3]));
    const [view] = new FrameDecoder().push(one);
    expect(view!.buffer).toBe(one.buffer);
    const decoder = new FrameDecoder();
    expect(decoder.push(one.subarray(0, 5))).toEqual([]);
    const [copy] = decoder.push(one.subarray(5));
    expect(copy).toEqual(new Uint8Array([1, 2, 3]));
    expect(copy!.buffer).not.toBe(one.buffer);
  });

  test("a 2^31 length is refused from the 4 header bytes alone", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    expect(decoder.push(new Uint8Array([0x80, 0, 0]))).toEqual([]);
    let error: unknown;
    try {
      decoder.push(new Uint8Array([0]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe("FRAME_TOO_LARGE");
    expect((error as ProtocolError).message).toContain("2147483648");
    // The decoder stays failed: the stream cannot be resynchronised.
    expect(() => decoder.push(encodeFrame(new Uint8Array([1])))).toThrow(error as Error);
  });

  test("the limit is inclusive, and applies to every frame of a stream", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 10 });
    expect(decoder.push(encodeFrame(new Uint8Array(10), 10))).toHaveLength(1);
    const header = new Uint8Array([0, 0, 0, 11]);
    expect(() => decoder.push(header)).toThrow(expect.objectContaining({ code: "FRAME_TOO_LARGE" }));
  });

  test("the default limit is DEFAULT_MAX_FRAME_BYTES", () => {
    const decoder = new FrameDecoder();
    expect(decoder.maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, DEFAULT_MAX_FRAME_BYTES + 1);
    expect(() => decoder.push(header)).toThrow(expect.objectContaining({ code: "FRAME_TOO_LARGE" }));
  });

  test("a zero-length frame is BAD_FRAME", () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(new Uint8Array([0, 0, 0, 0, 1]))).toThrow(expect.objectContaining({ code: "BAD_FRAME" }));
  });

  test("empty chunks are ignored", () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(encodeFrame(new Uint8Array([5])))).toEqual([new Uint8Array([5])]);
  });

  test("random bytes in random chunks only ever raise ProtocolError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 1000 }),
        (chunks, maxFrameBytes) => {
          const decoder = new FrameDecoder({ maxFrameBytes });
          try {
            for (const c of chunks) {
              for (const f of decoder.push(c)) expect(f.length).toBeGreaterThan(0);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            expect(["FRAME_TOO_LARGE", "BAD_FRAME"]).toContain((e as ProtocolError).code);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  // That this costs linear time is measured in bench/wire.ts, not asserted here.
  test("a 100,000-byte frame fed one byte at a time is reassembled", () => {
    const big = encodeFrame(new Uint8Array(100_000).fill(3));
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < big.length; i++) frames.push(...decoder.push(big.subarray(i, i + 1)));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.length).toBe(100_000);
    expect(frames[0]!.every((b) => b === 3)).toBe(true);
  });

  test("bad options are UsageError", () => {
    for (const maxFrameBytes of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => new FrameDecoder({ maxFrameBytes })).toThrow(UsageError);
    }
  });
});

describe("encodeFrame", () => {
  test("writes a u32be length then the payload", () => {
    expect(encodeFrame(new Uint8Array([7, 8]))).toEqual(new Uint8Array([0, 0, 0, 2, 7, 8]));
    const big = encodeFrame(new Uint8Array(0x10203));
    expect([...big.subarray(0, 4)]).toEqual([0, 1, 2, 3]);
  });

  test("refuses what a decoder would refuse", () => {
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(UsageError);
    expect(() => encodeFrame(new Uint8Array(DEFAULT_MAX_FRAME_BYTES + 1))).toThrow(UsageError);
    expect(() => encodeFrame(new Uint8Array(11), 10)).toThrow(UsageError);
  });
});
