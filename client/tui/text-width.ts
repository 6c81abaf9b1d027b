/**
 * Terminal cell widths of text, for a layout that wide characters, emoji, combining marks and
 * right-to-left text cannot break: text is cut into grapheme clusters (Intl.Segmenter: "é" as
 * e + U+0301, a family emoji, a flag are one cluster each) and each cluster measured with
 * string-width (2 cells for East Asian wide characters and emoji, 0 for marks). Every function
 * here works on text already made safe for a terminal (client/protocol/text-rules.ts
 * displayText): no control characters other than "\n".
 */
import stringWidth from "string-width";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** The grapheme clusters of `text`, in order. */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** Cells `text` takes on one terminal line. */
export function cellWidth(text: string): number {
  return stringWidth(text);
}

/** Cells one grapheme cluster takes (at least 1 for anything visible, so the cursor can stand on it). */
function clusterWidth(g: string): number {
  return stringWidth(g);
}

/**
 * `text` wrapped into lines of at most `width` cells: at spaces where it can, inside a word
 * when a word is longer than a line, and never inside a grapheme cluster (a wide character
 * that does not fit goes whole to the next line). "\n" starts a new line. Always at least one
 * line ("" for empty text).
 */
export function wrapCells(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    let lineWidth = 0;
    // The last place the line may be broken at: index in `line` just after a space, and the width there.
    let breakAt = -1;
    let breakWidth = 0;
    for (const g of graphemes(para)) {
      const gw = clusterWidth(g);
      let broke = false;
      while (lineWidth + gw > w && line !== "") {
        broke = true;
        if (breakAt > 0 && g !== " ") {
          out.push(line.slice(0, breakAt).trimEnd());
          line = line.slice(breakAt);
          lineWidth -= breakWidth;
        } else {
          out.push(line.trimEnd());
          line = "";
          lineWidth = 0;
        }
        breakAt = -1;
      }
      if (broke && g === " " && line === "") continue; // a space where the line breaks is eaten by the break
      line += g;
      lineWidth += gw;
      if (g === " ") {
        breakAt = line.length;
        breakWidth = lineWidth;
      }
    }
    out.push(line);
  }
  return out;
}

/** `text` cut to at most `width` cells, ending in "…" when cut. */
export function truncateCells(text: string, width: number): string {
  if (width <= 0) return "";
  if (cellWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const g of graphemes(text)) {
    const gw = clusterWidth(g);
    if (used + gw > width - 1) break;
    out += g;
    used += gw;
  }
  return `${out}…`;
}

/** `text` cut or padded with spaces to exactly `width` cells. */
export function fitCells(text: string, width: number): string {
  const t = truncateCells(text, width);
  return t + " ".repeat(Math.max(0, width - cellWidth(t)));
}
