/** The validator combinators (SECURITY.md §14.4): what each accepts, refuses and says. */
import { describe, expect, expectTypeOf, test } from "vitest";
import { ProtocolError, UsageError } from "../../src/errors.js";
import {
  type Infer,
  arrayOf,
  bin,
  bool,
  literal,
  obj,
  oneOf,
  optional,
  str,
  u32,
  uint53,
  sanitizeText,
  utf8Length,
} from "../../src/wire/index.js";

/** The BAD_MESSAGE text `parse` throws. */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe("BAD_MESSAGE");
    return (e as ProtocolError).message;
  }
  throw new Error("accepted");
}

describe("str", () => {
  const s = str({ min: 2, max: 5 });
  test("bounds are UTF-8 bytes", () => {
    expect(s.parse("ab", "p")).toBe("ab");
    expect(s.parse("héé", "p")).toBe("héé"); // 5 bytes
    expect(refusal(() => s.parse("hééé", "m.f"))).toBe("m.f: expected a string of 2..5 bytes, got a string of 7 bytes");
    expect(refusal(() => s.parse("a", "p"))).toContain("got a string of 1 bytes");
    expect(refusal(() => s.parse("\u{1f600}\u{1f600}", "p"))).toContain("8 bytes");
    expect(refusal(() => s.parse(5, "m.f"))).toBe("m.f: expected a string of 2..5 bytes, got an integer");
  });

  test("control characters, bidi overrides and lone surrogates are refused", () => {
    const t = str({ max: 100 });
    for (const bad of [
      "a\u0000",
      "\u001b[31mred",
      "tab\t",
      "del\u007f",
      "c1\u009b",
      "rtl\u202e",
      "iso\u2066",
      "x\ud800",
    ]) {
      expect(refusal(() => t.parse(bad, "p"))).toBe("p: expected a string without control characters");
    }
    expect(t.parse("ünïcödé ✓ 日本", "p")).toBe("ünïcödé ✓ 日本");
  });

  test("pattern", () => {
    const hexName = str({ max: 8, pattern: /^[0-9a-f]+$/, patternName: "lowercase hex" });
    expect(hexName.parse("c0ffee", "p")).toBe("c0ffee");
    expect(refusal(() => hexName.parse("C0FFEE", "x.y"))).toBe("x.y: expected lowercase hex");
    expect(() => str({ max: 3, pattern: /a/g })).toThrow(UsageError);
  });

  test("the refusal never repeats the string", () => {
    expect(refusal(() => str({ max: 3 }).parse("SECRET", "p"))).not.toContain("SECRET");
  });
});

describe("bin", () => {
  test("exact length", () => {
    const b = bin({ len: 4 });
    expect(b.parse(new Uint8Array(4), "p")).toEqual(new Uint8Array(4));
    expect(refusal(() => b.parse(new Uint8Array(5), "join.invite"))).toBe("join.invite: expected 4 bytes, got 5 bytes");
    expect(refusal(() => b.parse("abcd", "p"))).toBe("p: expected 4 bytes, got a string of 4 bytes");
    expect(refusal(() => b.parse([1, 2, 3, 4], "p"))).toContain("got an array of 4");
  });

  test("range, and the path of the refusal", () => {
    const b = bin({ min: 1, max: 65536 });
    expect(refusal(() => b.parse(new Uint8Array(70_000), "send.envelope"))).toBe(
      "send.envelope: expected bytes of 1..65536, got 70000 bytes",
    );
    expect(refusal(() => bin({ max: 65536 }).parse(new Uint8Array(70_000), "send.envelope"))).toBe(
      "send.envelope: expected bytes of at most 65536, got 70000 bytes",
    );
    expect(() => b.parse(new Uint8Array(0), "p")).toThrow(ProtocolError);
  });

  test("returns a plain Uint8Array over the same memory", () => {
    const buffer = Buffer.from([1, 2, 3]);
    const out = bin({ len: 3 }).parse(buffer, "p");
    expect(out.constructor).toBe(Uint8Array);
    expect(out.buffer).toBe(buffer.buffer);
    expect(out.byteOffset).toBe(buffer.byteOffset);
  });

  test("bad bounds are UsageError", () => {
    expect(() => bin({ min: 3, max: 2 })).toThrow(UsageError);
    expect(() => bin({ len: -1 })).toThrow(UsageError);
  });
});

describe("integers", () => {
  test("u32 accepts numbers, bigints and integral floats in range", () => {
    const n = u32();
    expect(n.parse(0, "p")).toBe(0);
    expect(n.parse(0xffffffff, "p")).toBe(0xffffffff);
    expect(n.parse(7n, "p")).toBe(7);
    expect(n.parse(3.0, "p")).toBe(3);
    expect(Object.is(n.parse(-0, "p"), 0)).toBe(true);
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN, Infinity, "1", 2n ** 32n, -1n, null, true]) {
      expect(refusal(() => n.parse(bad, "ping.n"))).toMatch(/^ping\.n: expected a u32/);
    }
    expect(refusal(() => n.parse(-1, "ping.n"))).toBe("ping.n: expected a u32, got an integer out of range");
    expect(refusal(() => n.parse(1.5, "ping.n"))).toBe("ping.n: expected a u32, got a non-integer number");
  });

  test("u32 bounds", () => {
    const limit = u32({ min: 1, max: 1000 });
    expect(limit.parse(1000, "p")).toBe(1000);
    expect(refusal(() => limit.parse(1001, "sync.limit"))).toBe(
      "sync.limit: expected a u32 in 1..1000, got an integer out of range",
    );
    expect(refusal(() => limit.parse(0, "p"))).toContain("1..1000");
    expect(() => u32({ max: 2 ** 32 })).toThrow(UsageError);
  });

  test("uint53 is a safe non-negative integer, as a number", () => {
    const n = uint53();
    expect(n.parse(Number.MAX_SAFE_INTEGER, "p")).toBe(Number.MAX_SAFE_INTEGER);
    expect(n.parse(2n ** 40n, "p")).toBe(2 ** 40);
    for (const bad of [2 ** 53, 2n ** 53n, -1, 0.5, "5"]) {
      expect(refusal(() => n.parse(bad, "msg.chat"))).toMatch(/^msg\.chat: expected a uint53/);
    }
  });
});

describe("bool, literal, oneOf", () => {
  test("bool", () => {
    expect(bool().parse(false, "p")).toBe(false);
    expect(refusal(() => bool().parse(0, "sent.duplicate"))).toBe("sent.duplicate: expected a boolean, got an integer");
  });

  test("literal", () => {
    expect(literal(1).parse(1, "p")).toBe(1);
    expect(literal("a").parse("a", "p")).toBe("a");
    expect(refusal(() => literal(1).parse(2, "hello.v"))).toBe("hello.v: expected 1");
  });

  test("oneOf never repeats the refused value", () => {
    const kind = oneOf(["direct", "group"]);
    expect(kind.parse("group", "p")).toBe("group");
    expect(refusal(() => kind.parse("SECRET", "chat.kind"))).toBe('chat.kind: expected one of "direct", "group"');
    expectTypeOf(kind.parse).returns.toEqualTypeOf<"direct" | "group">();
  });
});

describe("arrayOf", () => {
  const a = arrayOf(u32(), { max: 3 });
  test("bounds and item paths", () => {
    expect(a.parse([1, 2, 3], "p")).toEqual([1, 2, 3]);
    expect(refusal(() => a.parse([1, 2, 3, 4], "join.one_time_prekeys"))).toBe(
      "join.one_time_prekeys: expected an array of at most 3 items, got an array of 4",
    );
    expect(refusal(() => a.parse([1, "x"], "m.list"))).toBe("m.list[1]: expected a u32, got a string of 1 bytes");
    expect(refusal(() => a.parse({ 0: 1 }, "p"))).toContain("got a map");
    expect(refusal(() => arrayOf(u32(), { min: 1, max: 2 }).parse([], "p"))).toContain("1..2 items");
  });
});

describe("obj", () => {
  const inner = obj({ key_id: u32(), public_key: bin({ len: 2 }) });
  const o = obj({ a: u32(), b: optional(str({ max: 4 })), c: arrayOf(inner, { max: 2 }) });

  test("accepts exactly its fields and returns a new object of them", () => {
    const value = { a: 1, c: [{ key_id: 2, public_key: new Uint8Array(2) }] };
    const out = o.parse(value, "m");
    expect(out).toEqual(value);
    expect(out).not.toBe(value);
    expect("b" in out).toBe(false);
    expect(o.parse({ ...value, b: "x" }, "m").b).toBe("x");
    expect(o.parse(Object.assign(Object.create(null), value), "m")).toEqual(value);
  });

  test("missing, unknown and wrong fields name their path", () => {
    expect(refusal(() => o.parse({ c: [] }, "m"))).toBe("m.a: missing (expected a u32)");
    expect(refusal(() => o.parse({ a: 1, c: [], zz: 1 }, "m"))).toBe('m: unknown field "zz"');
    expect(refusal(() => o.parse({ a: 1, c: [], "\u001b[2J": 1 }, "m"))).toBe("m: unknown field");
    expect(refusal(() => o.parse({ a: 1, c: [{ key_id: 1, public_key: new Uint8Array(3) }] }, "m"))).toBe(
      "m.c[0].public_key: expected 2 bytes, got 3 bytes",
    );
    expect(refusal(() => o.parse({ a: 1, c: [{ key_id: 1 }] }, "m"))).toBe(
      "m.c[0].public_key: missing (expected 2 bytes)",
    );
    expect(refusal(() => o.parse({ a: 1, b: null, c: [] }, "m"))).toBe(
      "m.b: expected a string of at most 4 bytes, got nil",
    );
  });

  test("refuses non-maps", () => {
    for (const bad of [null, [], new Uint8Array(1), "x", 1, new Date(0)]) {
      expect(refusal(() => o.parse(bad, "m"))).toMatch(/^m: expected a map/);
    }
  });

  test("types: optional fields are optional, the rest required", () => {
    expectTypeOf<Infer<typeof o>>().toEqualTypeOf<{
      a: number;
      c: { key_id: number; public_key: Uint8Array }[];
      b?: string;
    }>();
  });
});

test("utf8Length matches TextEncoder", () => {
  for (const s of ["", "a", "é", "€", "\u{1f600}", "a\ud800b", "\udc00", "mixé€\u{1f600}"]) {
    expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
  }
});

test("sanitizeText makes any text acceptable to str({ max })", () => {
  expect(sanitizeText("plain", 10)).toBe("plain");
  expect(sanitizeText("\u001b[2Jx\u202e", 10)).toBe("?[2Jx?");
  expect(sanitizeText("a".repeat(5000), 1024)).toBe("a".repeat(1024));
  const cutPair = sanitizeText(`a${"\u{1f600}".repeat(10)}`, 4); // the cut splits a surrogate pair
  expect(str({ max: 4 }).parse(cutPair, "p")).toBe(cutPair);
  for (const text of ["é".repeat(700), "\u{1f600}".repeat(700), "x\ud800".repeat(600)]) {
    const out = sanitizeText(text, 1024);
    expect(str({ max: 1024 }).parse(out, "p")).toBe(out);
    expect(utf8Length(out)).toBeGreaterThan(1000);
  }
});
