/**
 * The sync progress bar, or "syncing… N messages" without a total (client/commands/output.ts syncProgress): on a terminal
 * it is redrawn in place per page and erased at the end; with --json or without a terminal
 * nothing is written. The same for export and import's step bar (withSteps).
 */
import { describe, expect, test } from "vitest";
import { withSteps } from "../../client/commands/export.js";
import { syncProgress } from "../../client/commands/output.js";

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
