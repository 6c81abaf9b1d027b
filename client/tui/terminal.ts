/**
 * Taking the terminal for the full-screen UI and giving it back as it was: the alternate screen
 * (the shell's screen comes back untouched) with the cursor hidden (the input line draws its
 * own), then the cursor visible again, raw mode off (echo and
 * line editing back). `restore` is idempotent and synchronous, so it also runs from an `exit`
 * handler: a crash, an uncaught exception or process.exit anywhere leaves a usable terminal.
 */

/** The streams the UI takes. */
export interface TerminalStreams {
  readonly stdin: Pick<NodeJS.ReadStream, "isTTY"> & { setRawMode?: (on: boolean) => unknown };
  readonly stdout: Pick<NodeJS.WriteStream, "write">;
}

const ENTER_ALT_SCREEN = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
const LEAVE_ALT_SCREEN = "\x1b[?1049l";
const SHOW_CURSOR = "\x1b[?25h";
/** Clears the screen and homes the cursor (after a resize, before a full redraw). */
export const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/** Takes the terminal; returns the function that gives it back (also run at process exit). */
export function takeTerminal(t: TerminalStreams): () => void {
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off("exit", restore);
    try {
      if (t.stdin.isTTY) t.stdin.setRawMode?.(false);
    } catch {
      // stdin already closed: nothing to give back
    }
    try {
      t.stdout.write(SHOW_CURSOR + LEAVE_ALT_SCREEN);
    } catch {
      // stdout closed (the terminal went away): nothing to write to
    }
  };
  process.on("exit", restore);
  t.stdout.write(ENTER_ALT_SCREEN);
  return restore;
}
