/**
 * What `smsg` does when the reader of its output goes away: `smsg history bob | head -1` closes
 * the pipe after one line, and the next write fails with EPIPE. That is a normal way to stop
 * reading, so the command stops quietly, as Unix tools do (README "Exit codes": exit 0, or the
 * code of a failure that happened before). Every command writes through process.stdout, so one
 * listener here covers them all. Stopping at once loses nothing: every write to the profile is
 * one SQLite transaction, and what was not acknowledged to the relay is fetched again.
 */
import { EXIT } from "./exit-codes.js";

/** How the process ends; process.exit in production, replaced by tests. */
type Exit = (code: number) => void;

/**
 * Installs the listeners on `out` and `err` (process.stdout and process.stderr): a closed stdout
 * ends the process quietly; any other stdout failure (a full disk under a redirect) ends it with
 * one sentence and EXIT.failure; a failing stderr is ignored (nobody reads the errors either).
 */
export function handleClosedOutput(
  out: NodeJS.EventEmitter = process.stdout,
  err: NodeJS.EventEmitter & { write(s: string): unknown } = process.stderr,
  exit: Exit = (code) => process.exit(code),
): void {
  let ended = false;
  out.on("error", (e: NodeJS.ErrnoException) => {
    if (ended) return;
    ended = true;
    if (e.code === "EPIPE") {
      exit(typeof process.exitCode === "number" ? process.exitCode : EXIT.ok);
      return;
    }
    try {
      err.write(`smsg: cannot write the output (${e.code ?? e.message}); stopped\n`);
    } catch {
      // stderr is gone too: the exit code is all that is left
    }
    exit(EXIT.failure);
  });
  err.on("error", () => undefined);
}
