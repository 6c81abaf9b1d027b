/**
 * Vitest global setup: every temporary folder the suites make (profiles, stores, relay data,
 * e2e worlds: all under os.tmpdir()) goes into one folder for this run, removed at the end, so
 * repeated runs on one machine (CI runs on the session's machine) do not fill its disk. Set
 * through TMPDIR before the workers start: they, and the smsg and relay processes the suites
 * spawn, inherit it.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const previous = process.env["TMPDIR"];
  const root = mkdtempSync(join(tmpdir(), "smsg-test-run-"));
  // Passable (not listable) by others: when the tests run as root, the relays' embedded
  // PostgreSQL runs as the unprivileged postgres user and must reach data folders in here.
  chmodSync(root, 0o711);
  process.env["TMPDIR"] = root;
  return () => {
    if (previous === undefined) delete process.env["TMPDIR"];
    else process.env["TMPDIR"] = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
