/** Display rules (SECURITY.md §15.5): nothing a peer sends reaches the terminal as a control. */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  CLOCK_SKEW_TOLERANCE_MS,
  TAB_WIDTH,
  clockSkewed,
  displayText,
  senderLabel,
} from "../../../client/protocol/text-rules.js";

/** Anything a terminal could act on, other than the newline we keep. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const DANGEROUS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|\p{Cs}/u;

describe("displayText", () => {
  test("keeps text and line breaks, neutralises escapes and bidi overrides", () => {
    expect(displayText("hello\nworld")).toBe("hello\nworld");
    expect(displayText("a\r\nb\rc\u2028d")).toBe("a\nb\nc\nd");
    expect(displayText("\tx")).toBe(" ".repeat(TAB_WIDTH) + "x");
    expect(displayText("\u001b[2J\u001b]0;pwned\u0007")).toBe("?[2J?]0;pwned?");
    expect(displayText("abc\u202edcba\u2066x\u2069")).toBe("abc?dcba?x?");
    expect(displayText("\u0085 C1 next line")).toBe("? C1 next line");
    expect(displayText("emoji 👩‍👩‍👧 and ✓ stay")).toBe("emoji 👩‍👩‍👧 and ✓ stay");
  });

  test("property: the output never holds a control other than newline", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        expect(DANGEROUS.test(displayText(s))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("senderLabel", () => {
  test("always shows the username, so a display name cannot pass for someone else", () => {
    expect(senderLabel("alice")).toBe("@alice");
    expect(senderLabel("alice", "")).toBe("@alice");
    expect(senderLabel("alice", "  ")).toBe("@alice");
    expect(senderLabel("mallory", "Alice")).toBe("Alice (@mallory)");
    expect(senderLabel("mallory", "Bob\u001b[0m")).toBe("Bob?[0m (@mallory)");
  });
});

describe("clockSkewed", () => {
  test("more than the tolerance either way", () => {
    const now = 1_700_000_000_000;
    expect(clockSkewed(now, now)).toBe(false);
    expect(clockSkewed(now - CLOCK_SKEW_TOLERANCE_MS, now)).toBe(false);
    expect(clockSkewed(now - CLOCK_SKEW_TOLERANCE_MS - 1, now)).toBe(true);
    expect(clockSkewed(now + CLOCK_SKEW_TOLERANCE_MS + 1, now)).toBe(true);
    expect(clockSkewed(now + 10, now, 5)).toBe(true);
  });
});
