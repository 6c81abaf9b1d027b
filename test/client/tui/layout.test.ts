/**
 * The terminal UI's layout and cell widths: wide characters, emoji, combining marks and
 * right-to-left text never make a row wider or narrower than the terminal; wrapping never
 * splits a grapheme cluster; the key decoder turns terminal input into keys and drops what it
 * does not know.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { decodeKeys } from "../../../client/tui/keys.js";
import { screen } from "../../../client/tui/layout.js";
import { cellWidth, fitCells, graphemes, truncateCells, wrapCells } from "../../../client/tui/text-width.js";
import { message, openWith, stored, threeChats } from "./fixtures.js";

describe("cell widths and wrapping", () => {
  test("widths of wide characters, emoji, combining marks, RTL", () => {
    expect(cellWidth("abc")).toBe(3);
    expect(cellWidth("世界")).toBe(4);
    expect(cellWidth("👍🏽")).toBe(2);
    expect(cellWidth("e\u0301")).toBe(1);
    expect(cellWidth("👨‍👩‍👧")).toBe(2);
    expect(cellWidth("שלום")).toBe(4);
    expect(graphemes("e\u0301👨‍👩‍👧🇫🇷")).toEqual(["e\u0301", "👨‍👩‍👧", "🇫🇷"]);
  });

  test("wraps at spaces, breaks long words, moves a wide character that does not fit whole", () => {
    expect(wrapCells("hello wide world", 10)).toEqual(["hello wide", "world"]);
    expect(wrapCells("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
    expect(wrapCells("ab世界", 3)).toEqual(["ab", "世", "界"]);
    expect(wrapCells("one\ntwo", 10)).toEqual(["one", "two"]);
    expect(wrapCells("", 5)).toEqual([""]);
    expect(wrapCells("e\u0301e\u0301e\u0301", 2)).toEqual(["e\u0301e\u0301", "e\u0301"]);
  });

  test("truncate and fit", () => {
    expect(truncateCells("abcdef", 4)).toBe("abc…");
    expect(truncateCells("世界世界", 5)).toBe("世界…");
    expect(fitCells("世界世界", 5)).toBe("世界…");
    expect(cellWidth(fitCells("世界世界", 6))).toBe(6);
    expect(fitCells("ab", 4)).toBe("ab  ");
  });

  // Text mixing every kind of character the layout must measure.
  const pieces = [
    "a",
    "word",
    " ",
    "世",
    "界",
    "👍",
    "👍🏽",
    "👨‍👩‍👧",
    "e\u0301",
    "\u0301",
    "ש",
    "مرحبا",
    "🇫🇷",
    "\u200b",
    "\n",
  ];
  const mixed = fc.array(fc.constantFrom(...pieces), { maxLength: 60 }).map((a) => a.join(""));

  test("property: wrapped lines are never wider than the width and keep every grapheme, in order", () => {
    fc.assert(
      fc.property(mixed, fc.integer({ min: 2, max: 40 }), (text, width) => {
        const lines = wrapCells(text, width);
        for (const l of lines) expect(cellWidth(l)).toBeLessThanOrEqual(width);
        const kept = lines.flatMap((l) => graphemes(l)).filter((g) => g !== " " && g !== "\n");
        const all = graphemes(text).filter((g) => g !== " " && g !== "\n");
        expect(kept).toEqual(all);
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  test("property: every screen row is exactly as wide as the terminal, at any size, whatever the messages say", () => {
    fc.assert(
      fc.property(
        fc.array(mixed, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 140 }),
        fc.integer({ min: 1, max: 50 }),
        mixed,
        (bodies, cols, rows, typed) => {
          const d = openWith(threeChats(cols, rows), 1, [stored(1, "bob", "start")]);
          bodies.forEach((b, i) => d.act({ type: "engine", event: message(i % 2 === 0 ? 1 : 4, 100 + i, "bob", b) }));
          d.act({ type: "key", key: { name: "text", text: typed } });
          const s = screen(d.state);
          expect(s).toHaveLength(rows);
          for (const row of s) expect(cellWidth(row.map((seg) => seg.text).join(""))).toBe(cols);
        },
      ),
      { seed: 12, numRuns: 200 },
    );
  });
});

describe("key decoding", () => {
  test("escape sequences, control characters and text runs", () => {
    expect(decodeKeys("\x1b[A\x1bOB\x1b[5~\x1b[6~\x1bOP\x1b[11~\x1b\r\x1ba")).toEqual(
      ["up", "down", "pageUp", "pageDown", "help", "help", "newline", "nextUnread"].map((name) => ({ name })),
    );
    expect(decodeKeys("hi\r")).toEqual([{ name: "text", text: "hi" }, { name: "enter" }]);
    expect(decodeKeys("\x0e\x10\x03\x04\t\x7f\n")).toEqual(
      ["down", "up", "interrupt", "eof", "tab", "backspace", "newline"].map((name) => ({ name })),
    );
    expect(decodeKeys("\x1b[1;5A")).toEqual([{ name: "up" }]);
    expect(decodeKeys("\x1b")).toEqual([{ name: "escape" }]);
  });

  test("unknown sequences and unbound controls are dropped, never typed", () => {
    expect(decodeKeys("\x1b[200~paste\x1b[201~")).toEqual([{ name: "text", text: "paste" }]);
    expect(decodeKeys("a\x00b\x1c\x9bc")).toEqual([{ name: "text", text: "abc" }]);
    expect(decodeKeys("\x1b[99;99x")).toEqual([]);
  });
});
