/**
 * scanMsgpack checks ASCII strings and builds short ASCII map keys itself, without TextDecoder
 * (src/wire/msgpack.ts): it must accept and refuse exactly what the strict UTF-8 decoder does,
 * and see duplicate keys and "__proto__" whichever way a key was read.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { ProtocolError } from "../../src/errors.js";
import { decodeMsgpack, scanMsgpack } from "../../src/wire/index.js";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function validUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A msgpack str (str 8, so any length up to 255) holding `bytes`. */
function str8(bytes: Uint8Array): number[] {
  return [0xd9, bytes.length, ...bytes];
}

function accepts(bytes: Uint8Array): boolean {
  try {
    scanMsgpack(bytes);
    return true;
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return false;
  }
}

/** Mostly ASCII, sometimes any byte: valid and invalid UTF-8, ASCII-only and mixed. */
const text = fc.uint8Array({ maxLength: 60 }).chain((raw) =>
  fc.constantFrom(
    raw,
    raw.map((b) => b & 0x7f),
    new TextEncoder().encode(Buffer.from(raw).toString("latin1")),
  ),
);

describe("scanMsgpack strings", () => {
  test("a string value is accepted exactly when it is valid UTF-8", () => {
    fc.assert(
      fc.property(text, (bytes) => {
        expect(accepts(Uint8Array.from(str8(bytes)))).toBe(validUtf8(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  test("a map key likewise, and the decoded key is the UTF-8 text", () => {
    fc.assert(
      fc.property(text, (bytes) => {
        const frame = Uint8Array.from([0x81, ...str8(bytes), 0xc0]);
        const valid = validUtf8(bytes) && strictUtf8.decode(bytes) !== "__proto__";
        expect(accepts(frame)).toBe(valid);
        if (valid) expect(Object.keys(decodeMsgpack(frame) as object)).toEqual([strictUtf8.decode(bytes)]);
      }),
      { numRuns: 2000 },
    );
  });

  test("duplicate keys are refused, short or long, ASCII or not", () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        if (!validUtf8(a) || !validUtf8(b)) return;
        const ka = strictUtf8.decode(a);
        const kb = strictUtf8.decode(b);
        if (ka === "__proto__" || kb === "__proto__") return;
        const frame = Uint8Array.from([0x82, ...str8(a), 0x01, ...str8(b), 0x02]);
        expect(accepts(frame)).toBe(ka !== kb);
      }),
      { numRuns: 2000 },
    );
    for (const key of ["t", "a".repeat(32), "b".repeat(33), "é", "x".repeat(40) + "é"]) {
      const k = new TextEncoder().encode(key);
      expect(accepts(Uint8Array.from([0x82, ...str8(k), 0x01, ...str8(k), 0x02]))).toBe(false);
    }
    expect(accepts(Uint8Array.from([0x81, ...str8(new TextEncoder().encode("__proto__")), 0x01]))).toBe(false);
  });
});
