/**
 * The msgpack profile (SECURITY.md §14.3): the scan refuses deep nesting, extensions, trailing
 * bytes, impossible lengths, bad UTF-8 and odd keys, without recursion; what it accepts,
 * msgpackr decodes; encodeMsgpack writes only what the scan accepts.
 */
import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, test } from "vitest";
import { ProtocolError, UsageError } from "../../src/errors.js";
import {
  DEFAULT_MSGPACK_LIMITS,
  MAX_MSGPACK_DEPTH,
  MAX_MSGPACK_ELEMENTS,
  decodeMsgpack,
  encodeMsgpack,
  scanMsgpack,
} from "../../src/wire/index.js";

const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));

function scanError(bytes: Uint8Array): ProtocolError {
  try {
    scanMsgpack(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe("BAD_FRAME");
    return e as ProtocolError;
  }
  throw new Error("scan accepted it");
}

/** `depth` nested one-element arrays around nil. */
const nestedArrays = (depth: number) => {
  const b = new Uint8Array(depth + 1).fill(0x91);
  b[depth] = 0xc0;
  return b;
};

describe("scanMsgpack", () => {
  // How fast the refusal is (it stops at the depth limit): bench/wire.ts.
  test("100,000 nested arrays are refused without recursion", () => {
    expect(scanError(nestedArrays(100_000)).message).toContain(`nesting deeper than ${MAX_MSGPACK_DEPTH}`);
    expect(() => decodeMsgpack(nestedArrays(100_000))).toThrow(ProtocolError);
    // Nested maps, with a key at each level.
    const maps = new Uint8Array(100_000 * 3 + 1);
    for (let i = 0; i < 100_000; i++) maps.set([0x81, 0xa1, 0x61], i * 3);
    maps[maps.length - 1] = 0xc0;
    expect(scanError(maps).message).toContain("nesting deeper");
  });

  test("a scan with limits beyond the stack still never recurses", () => {
    // With no depth limit the iterative scan walks 100,000 levels fine.
    expect(() => scanMsgpack(nestedArrays(100_000), { maxDepth: 200_000, maxElements: 200_000 })).not.toThrow();
  });

  test("nesting up to the limit is accepted, one more is refused", () => {
    expect(decodeMsgpack(nestedArrays(MAX_MSGPACK_DEPTH))).toBeDefined();
    scanError(nestedArrays(MAX_MSGPACK_DEPTH + 1));
    // An empty container counts as a level too.
    const b = nestedArrays(MAX_MSGPACK_DEPTH + 1);
    b[MAX_MSGPACK_DEPTH] = 0x90;
    scanError(b.subarray(0, MAX_MSGPACK_DEPTH + 1));
  });

  test("every extension type is refused, at the top or nested", () => {
    const exts = [
      "d4 01 00", // fixext 1
      "d5 01 0000", // fixext 2
      "d6 ff 00000001", // fixext 4: timestamp 32
      "d7 ff 0000000000000001", // fixext 8: timestamp 64
      "d8 01 00000000000000000000000000000000", // fixext 16
      "c7 01 01 00", // ext 8
      "c8 0001 01 00", // ext 16
      "c9 00000001 01 00", // ext 32
      "c7 0c ff 000000000000000000000001", // ext 8: timestamp 96
      "d4 72 00", // msgpackr record
      "d4 00 00", // msgpackr undefined
    ];
    for (const e of exts) {
      expect(scanError(hex(e)).message).toContain("extension");
      expect(scanError(hex(`81 a1 61 ${e}`)).message).toContain("extension");
      expect(scanError(hex(`92 c0 ${e}`)).message).toContain("extension");
    }
    // msgpackr itself would have decoded the timestamp to a Date.
    expect(new Packr().unpack(hex("d6 ff 00000001"))).toBeInstanceOf(Date);
  });

  test("trailing bytes after the value are refused", () => {
    expect(scanError(hex("81 a1 74 a1 78 c0")).message).toContain("1 trailing byte");
    scanError(hex("c0 c0"));
    scanError(hex("90 00"));
  });

  test("every truncation of a valid value is refused", () => {
    const full = encodeMsgpack({ t: "x", a: [1, 300, 70_000, 2 ** 40], b: new Uint8Array(20), s: "héllo", f: 1.5 });
    expect(() => scanMsgpack(full)).not.toThrow();
    for (let n = 0; n < full.length; n++) scanError(full.subarray(0, n));
  });

  test("declared lengths past the end are refused before anything is allocated", () => {
    for (const h of [
      "dd ffffffff",
      "df ffffffff",
      "dc ffff c0",
      "c6 ffffffff 00",
      "db ffffffff 61",
      "c5 0010 00",
      "da 0002 61",
    ]) {
      scanError(hex(h));
    }
  });

  test("the unused byte 0xc1 is refused", () => {
    scanError(hex("c1"));
    scanError(hex("91 c1"));
  });

  test("map keys must be unique UTF-8 strings, and not __proto__", () => {
    expect(scanError(hex("81 01 c0")).message).toContain("not a string");
    expect(scanError(hex("81 c4 01 61 c0")).message).toContain("not a string");
    expect(scanError(hex("82 a1 61 01 a1 61 02")).message).toContain("duplicate");
    expect(scanError(hex("81 a9 5f5f70726f746f5f5f 01")).message).toContain("__proto__");
    // The same key in two different maps is fine.
    expect(decodeMsgpack(hex("82 a1 61 81 a1 61 01 a1 62 81 a1 61 02"))).toEqual({ a: { a: 1 }, b: { a: 2 } });
  });

  test("duplicate keys are found in small maps (a list of keys) and large ones (a set), at any position", () => {
    // map 16 headers, so a size past 15 keys is written the same way as a small one.
    const mapOf = (keys: string[]) =>
      new Uint8Array([0xde, 0, keys.length, ...keys.flatMap((k) => [0xa0 | k.length, ...Buffer.from(k), 0xc0])]);
    for (const size of [2, 16, 17, 40]) {
      const keys = Array.from({ length: size }, (_, i) => `k${i}`);
      expect(() => scanMsgpack(mapOf(keys))).not.toThrow();
      for (const at of [1, size - 1]) {
        const dup = [...keys];
        dup[at] = keys[0]!;
        expect(scanError(mapOf(dup)).message, `${size} keys, repeat at ${at}`).toContain("duplicate");
      }
    }
  });

  test("invalid UTF-8 is refused in keys and values", () => {
    for (const s of ["a2 c328", "a2 c080", "a3 eda080", "a1 ff", "a4 f4908080"]) {
      scanError(hex(s));
      scanError(hex(`81 ${s} c0`));
    }
    expect(decodeMsgpack(hex("a4 f09f9880"))).toBe("\u{1f600}");
    expect(decodeMsgpack(hex("a3 efbbbf"))).toBe("\ufeff"); // a BOM is kept, not stripped
  });

  test(`more than ${MAX_MSGPACK_ELEMENTS} values are refused`, () => {
    const array = (n: number) => {
      const b = new Uint8Array(3 + n).fill(0xc0);
      b.set([0xdc, n >> 8, n & 0xff]);
      return b;
    };
    expect(() => scanMsgpack(array(MAX_MSGPACK_ELEMENTS - 1))).not.toThrow();
    expect(scanError(array(MAX_MSGPACK_ELEMENTS)).message).toContain(`more than ${MAX_MSGPACK_ELEMENTS} values`);
    // Counted across nested containers too.
    const nested = new Uint8Array(1 + 2 * (2 + 5001)).fill(0xc0);
    nested[0] = 0x92;
    nested.set([0xdc, 5001 >> 8, 5001 & 0xff], 1);
    nested.set([0xdc, 5001 >> 8, 5001 & 0xff], 1 + 3 + 5001);
    scanError(nested.subarray(0, 1 + 2 * (3 + 5001)));
    expect(DEFAULT_MSGPACK_LIMITS.maxElements).toBe(MAX_MSGPACK_ELEMENTS);
  });

  test("every standard type is accepted", () => {
    const all = hex(`
      dc 0013
        00 7f e0 ff c0 c2 c3
        cc ff cd ffff ce ffffffff cf ffffffffffffffff
        d0 80 d1 8000 d2 80000000 d3 8000000000000000
        ca 3fc00000 cb 3ff8000000000000
        c4 01 01 d9 01 61`);
    expect(decodeMsgpack(all)).toEqual([
      0,
      127,
      -32,
      -1,
      null,
      false,
      true,
      255,
      65535,
      4294967295,
      2n ** 64n - 1n,
      -128,
      -32768,
      -2147483648,
      -(2n ** 63n),
      1.5,
      1.5,
      new Uint8Array([1]),
      "a",
    ]);
  });

  test("fixints 0x40..0x7f are numbers (not msgpackr record references)", () => {
    const arr = hex("dc 0040");
    const body = new Uint8Array(64).map((_, i) => 0x40 + i);
    expect(decodeMsgpack(new Uint8Array([...arr, ...body]))).toEqual([...body]);
  });

  test("decodes a view at an offset inside a larger buffer, and copies bin out of it", () => {
    const inner = encodeMsgpack({ k: new Uint8Array([1, 2, 3]), n: 2 ** 40 });
    const outer = new Uint8Array(inner.length + 10).fill(0xc1);
    outer.set(inner, 5);
    const view = outer.subarray(5, 5 + inner.length);
    const value = decodeMsgpack(view) as { k: Uint8Array; n: bigint };
    expect(value).toEqual({ k: new Uint8Array([1, 2, 3]), n: 2n ** 40n });
    expect(value.k.buffer).not.toBe(outer.buffer);
  });
});

describe("encodeMsgpack", () => {
  test("writes integers beyond 32 bits as 64-bit integers and drops undefined fields", () => {
    expect(Buffer.from(encodeMsgpack(2 ** 40)).toString("hex")).toBe("d30000010000000000");
    expect(Buffer.from(encodeMsgpack(-(2 ** 40))).toString("hex")).toBe("d3ffffff0000000000");
    expect(Buffer.from(encodeMsgpack(0xffffffff)).toString("hex")).toBe("ceffffffff");
    expect(Buffer.from(encodeMsgpack({ a: 1, b: undefined })).toString("hex")).toBe("81a16101");
    expect(encodeMsgpack(new Uint8Array([1])).constructor).toBe(Uint8Array);
  });

  test("refuses what the scan would refuse", () => {
    const refused: unknown[] = [
      undefined,
      [undefined],
      new Date(0),
      new Map(),
      new Set(),
      new Uint16Array(1),
      () => 0,
      Symbol("s"),
      2n ** 64n,
      -(2n ** 63n) - 1n,
      JSON.parse('{"__proto__": 1}'),
      new (class X {})(),
    ];
    for (const value of refused) expect(() => encodeMsgpack(value)).toThrow(UsageError);
    let deep: unknown = null;
    for (let i = 0; i < MAX_MSGPACK_DEPTH; i++) deep = [deep];
    expect(() => encodeMsgpack(deep)).not.toThrow();
    expect(() => encodeMsgpack([deep])).toThrow(UsageError);
  });

  /** Plain data as the profile allows it. */
  const plain: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
      fc.string({ unit: "binary" }),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(tie("value"), { maxLength: 5 }),
      fc.dictionary(
        fc.string().filter((k) => k !== "__proto__"),
        tie("value"),
        { maxKeys: 5 },
      ),
    ),
  })).value;

  /** What decoding gives back for `v`: integers beyond 32 bits become bigint. */
  function expected(v: unknown): unknown {
    if (typeof v === "number" && Number.isSafeInteger(v) && (v > 0xffffffff || v < -0x80000000)) return BigInt(v);
    if (typeof v === "number" && Object.is(v, -0)) return 0;
    if (Array.isArray(v)) return v.map(expected);
    if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expected(x)]));
    }
    return v;
  }

  test("round-trips plain data through the scan and msgpackr", () => {
    fc.assert(
      fc.property(plain, (v) => {
        const bytes = encodeMsgpack(v);
        expect(decodeMsgpack(bytes, { maxDepth: 64, maxElements: 1e6 })).toEqual(expected(v));
      }),
      { numRuns: 500 },
    );
  });

  test("whatever the scan accepts, msgpackr decodes (random bytes and random msgpackr output)", () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.anything().map((v) => {
        try {
          return new Uint8Array(packr.pack(v));
        } catch {
          return new Uint8Array([0xc1]);
        }
      }),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        try {
          decodeMsgpack(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect((e as ProtocolError).cause).toBeUndefined(); // refused by the scan, not by msgpackr
        }
      }),
      { numRuns: 2000 },
    );
  });
});
