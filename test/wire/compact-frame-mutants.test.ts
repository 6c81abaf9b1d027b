/**
 * test/vectors/compact-frames.json catches a wrong `held` frame (SECURITY.md §14.7 "Held
 * messages", §14.9): `vectors verify` of the committed file fails, naming the first value that
 * differs, when the stub is written with another type byte, when its decoder takes trailing
 * bytes, or when it takes a stub from a client; and passes with the real implementation.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test, vi } from "vitest";
import { verifyVectorText } from "../../crypto/vectors/compare.js";

/** The mutant in force: each test sets one. */
let mutant: "none" | "type byte" | "trailing bytes" | "from a client" = "none";

vi.mock("../../src/wire/compact-frames.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/wire/compact-frames.js")>();
  return {
    ...real,
    encodeCompactHeldFrame: (fields: { chat: number; msg: number }, max?: number) => {
      const out = real.encodeCompactHeldFrame(fields, max);
      if (mutant === "type byte") out[4] = real.COMPACT_TYPE.msgReply;
      return out;
    },
    decodeCompactRelayFrame: (payload: Uint8Array) => {
      if (mutant === "trailing bytes" && payload[0] === real.COMPACT_TYPE.held && payload.length > 3)
        return { t: "held", chat: payload[1], msg: payload[2] };
      return real.decodeCompactRelayFrame(payload);
    },
    decodeCompactClientFrame: (payload: Uint8Array) => {
      if (mutant === "from a client" && payload[0] === real.COMPACT_TYPE.held) return { t: "ack", chat: 1, upto: 1 };
      return real.decodeCompactClientFrame(payload);
    },
  };
});
const { compactFrameVectors } = await import("../../src/wire/compact-frame-vectors.js");

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../vectors/compact-frames.json");
const verify = () => verifyVectorText(compactFrameVectors, readFileSync(file, "utf8"));

describe("compact-frames.json pins the held stub", () => {
  test("the real implementation verifies", () => {
    mutant = "none";
    expect(verify()).toBeNull();
  });

  test.each([
    ["type byte", /frames\[10\]\.bytes/],
    ["trailing bytes", /malformed\[\d+\]\.code/],
    ["from a client", /malformed\[\d+\]\.code/],
  ] as const)("a stub with the wrong %s fails", (which, where) => {
    mutant = which;
    try {
      expect(verify()).toMatch(where);
    } finally {
      mutant = "none";
    }
  });
});
