/**
 * The sync progress bar, or "syncing… N messages" without a total (client/commands/output.ts syncProgress): on a terminal
 * it is redrawn in place per page and erased at the end; with --json or without a terminal
 * nothing is written. The same for export and import's step bar (withSteps).
 */
import { describe, expect, test } from "vitest";
import { withSteps } from "../../client/commands/export.js";
import { fitStatusLine, syncProgress } from "../../client/commands/output.js";

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, written, write: (s: string | Uint8Array) => (written.push(String(s)), true) };
}

describe("syncProgress", () => {
  test("on a terminal: one line redrawn per page, erased at the end", () => {
    const out = stream(true);
    const p = syncProgress(false, out);
    p.onSyncProgress(500);
    p.onSyncProgress(1000);
    p.done();
    expect(out.written).toEqual(["\r\x1b[Ksyncing… 500 messages", "\r\x1b[Ksyncing… 1000 messages", "\r\x1b[K"]);
  });

  test("with the relay's total: a bar, filled by the share fetched, never past full", () => {
    const out = stream(true);
    const p = syncProgress(false, out);
    p.onSyncProgress(500, 2000);
    p.onSyncProgress(2100, 2000); // more arrived meanwhile
    p.done();
    expect(out.written).toEqual([
      `\r\x1b[Ksyncing [${"#".repeat(6)}${"·".repeat(18)}] 500/2000 messages`,
      `\r\x1b[Ksyncing [${"#".repeat(24)}] 2100/2100 messages`,
      "\r\x1b[K",
    ]);
  });

  test("a sync of one page shows nothing, and done() erases nothing", () => {
    const out = stream(true);
    syncProgress(false, out).done();
    expect(out.written).toEqual([]);
  });

  test("nothing with --json or when stderr is not a terminal", () => {
    for (const [json, tty] of [
      [true, true],
      [false, false],
      [true, false],
    ] as const) {
      const out = stream(tty);
      const p = syncProgress(json, out);
      p.onSyncProgress(500);
      p.done();
      expect(out.written).toEqual([]);
    }
  });
});

describe("withSteps (export / import)", () => {
  test("on a terminal: a step bar redrawn before each step and erased at the end; nothing otherwise", () => {
    const out = stream(true);
    const r = withSteps(
      false,
      "import",
      (onStep) => {
        onStep(1, 2, "decrypting");
        onStep(2, 2, "writing");
        return 42;
      },
      out,
    );
    expect(r).toBe(42);
    expect(out.written).toEqual([
      `\r\x1b[2Ksmsg: import [${"·".repeat(12)}] 1/2 decrypting…`,
      `\r\x1b[2Ksmsg: import [${"#".repeat(6)}${"·".repeat(6)}] 2/2 writing…`,
      "\r\x1b[2K",
    ]);
    for (const [json, tty] of [
      [true, true],
      [false, false],
    ] as const) {
      const quiet = stream(tty);
      withSteps(json, "export", (onStep) => onStep(1, 1, "x"), quiet);
      expect(quiet.written).toEqual([]);
    }
  });

  test("the bar is erased when a step fails", () => {
    const out = stream(true);
    expect(() =>
      withSteps(
        false,
        "import",
        (onStep) => {
          onStep(1, 4, "decrypting");
          throw new Error("wrong passphrase");
        },
        out,
      ),
    ).toThrow("wrong passphrase");
    expect(out.written.at(-1)).toBe("\r\x1b[2K");
  });
});

describe("status lines never wrap (a wrapped row is not erased and stays on screen)", () => {
  /** The visible text of each redraw (after "\r" and the erase sequence). */
  const erase = (w: string) => w.replace("\r\x1b[2K", "").replace("\r\x1b[K", "");
  const drawn = (written: string[]) => written.map(erase).filter((t) => t !== "");

  test("export's step bar on a 60-column terminal: every redraw fits in 59 columns, then it is erased", () => {
    const out = { ...stream(true), columns: 60 };
    withSteps(
      false,
      "export",
      (onStep) => {
        onStep(1, 3, "reading the profile");
        onStep(2, 3, "deriving the key from the passphrase and encrypting");
        onStep(3, 3, "writing the file");
      },
      out,
    );
    const lines = drawn(out.written);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(59);
    expect(lines[1]).toMatch(/^smsg: export \[####·+\] 2\/3 deriving the key.*…$/);
    expect(out.written.at(-1)).toBe("\r\x1b[2K");
  });

  test("the sync bar on a 30-column terminal fits too; an 80-column default when the width is unknown", () => {
    const narrow = { ...stream(true), columns: 30 };
    const p = syncProgress(false, narrow);
    p.onSyncProgress(500, 2000);
    p.done();
    for (const l of drawn(narrow.written)) expect([...l].length, l).toBeLessThanOrEqual(29);
    expect(fitStatusLine("x".repeat(200), stream(true))).toHaveLength(79);
    expect(fitStatusLine("short", { ...stream(true), columns: 80 })).toBe("short");
  });
});
