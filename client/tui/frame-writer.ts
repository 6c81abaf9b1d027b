/**
 * Puts ink's frames on the terminal, rewriting only the rows that changed. ink lays out and
 * styles the screen (app.ts: one <Text> per row, so a frame's lines are the screen's rows) and
 * renders each frame, whole, into a ScreenStream; this writer compares it row by row with the
 * frame before and sends, for each changed row, "go to row N, erase it, the row's text". An
 * incoming message so costs the rows it changes (the chat pane's rows, the list's entry), never
 * a full-screen repaint. ink's own incremental mode is not used: in ink 6.8 it draws each
 * frame after the first one row too low when the frame ends with a newline.
 */
import { EventEmitter } from "node:events";

/** Where frames go: the terminal. */
export interface TerminalOut {
  write(data: string): unknown;
}

/** Writes changed rows of successive frames (see the file comment). */
export class FrameWriter {
  private previous: string[] = [];
  /** Bytes written to the terminal so far (bench/RESULTS.md reports them per message). */
  bytes = 0;

  constructor(private readonly out: TerminalOut) {}

  /** Draws `frame` (rows separated by "\n"), sending only the rows that differ from the last one drawn. */
  draw(frame: string): void {
    const rows = frame.split("\n");
    let data = "";
    for (let i = 0; i < Math.max(rows.length, this.previous.length); i++) {
      const row = rows[i] ?? "";
      if (row === this.previous[i] || (row === "" && this.previous[i] === undefined)) continue;
      // Erase first, then write: a row as wide as the terminal leaves the cursor in the last
      // column, where an erase after it would wipe that column's character.
      data += `\x1b[${i + 1};1H\x1b[2K${row}`;
    }
    this.previous = rows;
    if (data === "") return;
    data += "\x1b[0m";
    this.bytes += Buffer.byteLength(data);
    this.out.write(data);
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
