/**
 * Reader (crypto/bytes.ts) reads big-endian integers in place: the values u32be / u16be wrote,
 * from any offset of any array (a Node Buffer's slice of a shared pool too), and a read past
 * the end is CodecError "truncated" without moving on.
 */
import { describe, expect, test } from "vitest";
import { Reader, concat, u16be, u32be } from "../../crypto/bytes.js";
import { CodecError } from "../../crypto/errors.js";

const U32S = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x01020304];
const U16S = [0, 1, 0xff, 0x100, 0x7fff, 0x8000, 0xffff];

describe("Reader", () => {
  test("u8, u16 and u32 read back what u16be / u32be wrote, at an odd offset of a Buffer from the pool", () => {
    const bytes = concat(new Uint8Array([9]), ...U32S.map(u32be), ...U16S.map(u16be), new Uint8Array([200]));
    const pooled = Buffer.from(bytes); // (small Buffers share one pool: byteOffset is not 0)
    for (const buf of [bytes, pooled]) {
      const r = new Reader(buf, "test");
      expect(r.u8()).toBe(9);
      expect(U32S.map(() => r.u32())).toEqual(U32S);
      expect(U16S.map(() => r.u16())).toEqual(U16S);
      expect(r.u8()).toBe(200);
      r.end();
    }
  });

  test("a read past the end throws 'truncated' and leaves the position where it was", () => {
    const r = new Reader(new Uint8Array([1, 2, 3]), "thing");
    expect(() => r.u32()).toThrow(new CodecError("thing: truncated"));
    expect(r.u16()).toBe(0x0102);
    expect(() => r.u16()).toThrow(CodecError);
    expect(r.u8()).toBe(3);
    expect(() => r.u8()).toThrow(CodecError);
  });
});
