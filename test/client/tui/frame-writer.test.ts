/** The frame writer sends only the rows that changed, each as "go to row, erase, text". */
import { describe, expect, test } from "vitest";
import { FrameWriter } from "../../../client/tui/frame-writer.js";

function writer() {
  const out: string[] = [];
  return { w: new FrameWriter({ write: (d: string) => out.push(d) }), out };
}

describe("FrameWriter", () => {
  test("the first frame whole, then only changed rows; an unchanged frame writes nothing", () => {
    const { w, out } = writer();
    w.draw("a\nb\nc");
    expect(out).toEqual(["\x1b[1;1H\x1b[2Ka\x1b[2;1H\x1b[2Kb\x1b[3;1H\x1b[2Kc\x1b[0m"]);
    w.draw("a\nB\nc");
    expect(out[1]).toBe("\x1b[2;1H\x1b[2KB\x1b[0m");
    w.draw("a\nB\nc");
    expect(out).toHaveLength(2);
    expect(w.bytes).toBe(Buffer.byteLength(out.join("")));
  });

  test("a shorter frame erases the rows it no longer has; reset draws everything again", () => {
    const { w, out } = writer();
    w.draw("a\nb\nc");
    w.draw("a");
    expect(out[1]).toBe("\x1b[2;1H\x1b[2K\x1b[3;1H\x1b[2K\x1b[0m");
    w.reset();
    w.draw("a");
    expect(out[2]).toBe("\x1b[1;1H\x1b[2Ka\x1b[0m");
  });
});
