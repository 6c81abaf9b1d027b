/**
 * The frame writer sends only what changed: a new row whole, a changed row from its first
 * changed cell on (with the styles in force there), an erase only when the row got shorter.
 */
import { describe, expect, test } from "vitest";
import { FrameWriter } from "../../../client/tui/frame-writer.js";

function writer() {
  const out: string[] = [];
  return { w: new FrameWriter({ write: (d: string) => out.push(d) }), out };
}

describe("FrameWriter", () => {
  test("the first frame whole, then only changed cells; an unchanged frame writes nothing", () => {
    const { w, out } = writer();
    w.draw("abc\nb\nc");
    expect(out).toEqual(["\x1b[1;1H\x1b[2Kabc\x1b[0m\x1b[2;1H\x1b[2Kb\x1b[0m\x1b[3;1H\x1b[2Kc\x1b[0m"]);
    w.draw("abX\nb\nc");
    expect(out[1]).toBe("\x1b[1;3H\x1b[0mX\x1b[0m");
    w.draw("abX\nb\nc");
    expect(out).toHaveLength(2);
    expect(w.bytes).toBe(Buffer.byteLength(out.join("")));
  });

  test("the column counts wide characters as two cells and the styles in force are sent again", () => {
    const { w, out } = writer();
    w.draw("世界\x1b[7mab\x1b[27m");
    w.draw("世界\x1b[7maZ\x1b[27m");
    expect(out[1]).toBe("\x1b[1;6H\x1b[0m\x1b[7mZ\x1b[27m\x1b[0m");
  });

  test("a shorter row erases what is left of the old one; rows no longer there are erased; reset draws all", () => {
    const { w, out } = writer();
    w.draw("abcdef\nb\nc");
    w.draw("ab");
    expect(out[1]).toBe("\x1b[1;3H\x1b[0m\x1b[0m\x1b[K\x1b[2;1H\x1b[0m\x1b[0m\x1b[K\x1b[3;1H\x1b[0m\x1b[0m\x1b[K");
    w.reset();
    w.draw("ab");
    expect(out[2]).toBe("\x1b[1;1H\x1b[2Kab\x1b[0m");
  });
});
