/**
 * Puts ink's frames on the terminal, rewriting only the rows that changed. ink lays out and
 * styles the screen (app.ts: one <Text> per row, so a frame's lines are the screen's rows) and
 * renders each frame, whole, into a ScreenStream; this writer compares it row by row with the
 * frame before and sends, for each changed row, "go to the first changed cell, the rest of the
 * row". An incoming message so costs the cells it changes (the chat pane's rows right of the
 * chat list, the list's entry), never a full-screen repaint. ink's own incremental mode is not used: in ink 6.8 it draws each
 * frame after the first one row too low when the frame ends with a newline.
 */
import { EventEmitter } from "node:events";
import stringWidth from "string-width";

/** Where frames go: the terminal. */
export interface TerminalOut {
  write(data: string): unknown;
}

/** An SGR sequence (colours, bold, inverse): the only escape sequences ink puts in a frame. */
// eslint-disable-next-line no-control-regex -- matching the ESC that starts the sequence is the point
const SGR = /\x1b\[[0-9;]*m/y;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** A row cut into SGR sequences and grapheme clusters (so a common prefix never ends inside either). */
function tokens(row: string): string[] {
  const out: string[] = [];
  let i = 0;
  let text = "";
  const flush = () => {
    for (const g of segmenter.segment(text)) out.push(g.segment);
    text = "";
  };
  while (i < row.length) {
    SGR.lastIndex = i;
    const m = row[i] === "\x1b" ? SGR.exec(row) : null;
    if (m) {
      flush();
      out.push(m[0]);
      i += m[0].length;
    } else text += row[i++];
  }
  flush();
  return out;
}

/** Writes changed rows of successive frames (see the file comment). */
export class FrameWriter {
  private previous: string[] = [];
  /** Bytes written to the terminal so far (bench/RESULTS.md reports them per message). */
  bytes = 0;

  constructor(private readonly out: TerminalOut) {}

  /**
   * Draws `frame` (rows separated by "\n"), sending only what differs from the frame before:
   * for a changed row, from its first changed cell on (with the styles in force there), and an
   * erase to the end of the row when the new one is shorter. A row drawn for the first time
   * is erased first and written whole.
   */
  draw(frame: string): void {
    const rows = frame.split("\n");
    let data = "";
    for (let i = 0; i < Math.max(rows.length, this.previous.length); i++) {
      const row = rows[i] ?? "";
      const old = this.previous[i];
      if (row === old || (row === "" && old === undefined)) continue;
      data += old === undefined ? `\x1b[${i + 1};1H\x1b[2K${row}\x1b[0m` : this.rowChange(i, old, row);
    }
    this.previous = rows;
    if (data === "") return;
    this.bytes += Buffer.byteLength(data);
    this.out.write(data);
  }

  /** The bytes that turn row `i` from `old` into `row` on the screen. */
  private rowChange(i: number, old: string, row: string): string {
    const a = tokens(old);
    const b = tokens(row);
    let k = 0;
    while (k < a.length && k < b.length && a[k] === b[k]) k++;
    let col = 0;
    let styles = "";
    for (const t of b.slice(0, k)) {
      if (t.startsWith("\x1b")) styles += t;
      else col += stringWidth(t);
    }
    let oldWidth = 0;
    for (const t of a) if (!t.startsWith("\x1b")) oldWidth += stringWidth(t);
    let newWidth = col;
    for (const t of b.slice(k)) if (!t.startsWith("\x1b")) newWidth += stringWidth(t);
    // Erase only what the old row had beyond the new one: a new row as wide as the terminal
    // leaves the cursor in the last column, where an erase would wipe that column's character.
    const erase = newWidth < oldWidth ? "\x1b[K" : "";
    return `\x1b[${i + 1};${col + 1}H\x1b[0m${styles}${b.slice(k).join("")}\x1b[0m${erase}`;
  }

  /** Forgets what is on the screen: the next frame is drawn whole (after the screen was cleared). */
  reset(): void {
    this.previous = [];
  }
}

/**
 * The stdout ink renders into: it reports the terminal's size (set by the caller) and hands
 * every frame to a FrameWriter. Not a TTY to ink, which renders each frame whole into it
 * (debug mode).
 */
export class ScreenStream extends EventEmitter {
  columns: number;
  rows: number;
  readonly isTTY = false;

  constructor(
    private readonly writer: FrameWriter,
    size: { cols: number; rows: number },
  ) {
    super();
    this.columns = size.cols;
    this.rows = size.rows;
  }

  write(frame: string): boolean {
    this.writer.draw(frame);
    return true;
  }

  /** A new terminal size: ink lays out again at it. */
  resize(cols: number, rows: number): void {
    this.columns = cols;
    this.rows = rows;
    this.emit("resize");
  }
}
