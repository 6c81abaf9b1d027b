/**
 * Taking and giving back the terminal: the alternate screen and a hidden cursor on start; on
 * restore (quit, or the process exiting for any reason: its `exit` handler) the cursor shown,
 * the alternate screen left, raw mode off; once only.
 */
import { describe, expect, test } from "vitest";
import { takeTerminal } from "../../../client/tui/terminal.js";

function fakeTerminal() {
  const written: string[] = [];
  const raw: boolean[] = [];
  return {
    written,
    raw,
    streams: {
      stdin: { isTTY: true, setRawMode: (on: boolean) => raw.push(on) },
      stdout: { write: (d: string) => written.push(d) > 0 },
    },
  };
}

describe("takeTerminal", () => {
  test("enters the alternate screen; restore gives everything back once, and is the exit handler until then", () => {
    const t = fakeTerminal();
    const before = process.listeners("exit").length;
    const restore = takeTerminal(t.streams);
    expect(t.written.join("")).toBe("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
    const handler = process.listeners("exit").at(-1);
    expect(process.listeners("exit")).toHaveLength(before + 1);
    // The process exiting (a crash, process.exit anywhere) runs the same restore.
    (handler as () => void)();
    expect(t.written.slice(1).join("")).toBe("\x1b[?25h\x1b[?1049l");
    expect(t.raw).toEqual([false]);
    expect(process.listeners("exit")).toHaveLength(before);
    restore();
    expect(t.written).toHaveLength(2);
  });

  test("a closed stdout does not make restoring throw", () => {
    const t = fakeTerminal();
    const restore = takeTerminal({
      stdin: t.streams.stdin,
      stdout: {
        write: (d: string) => {
          if (d.includes("1049l")) throw new Error("EPIPE");
          return true;
        },
      },
    });
    expect(() => restore()).not.toThrow();
    expect(t.raw).toEqual([false]);
  });
});
