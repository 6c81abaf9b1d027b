/**
 * `smsg relay restore` checks what the `messages` table's foreign keys used to check
 * (migrations/0004_…sql, relay/store/integrity.ts): a backup holding a message whose chat or
 * sender it does not hold is refused with one sentence, and leaves nothing behind.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { CLI, freePort, startRelayProcess } from "../../bench/relay-process.js";

const run = promisify(execFile);
const smsg = (...args: string[]) =>
  run(process.execPath, [CLI, ...args], { env: { ...process.env, SMSG_LOG_LEVEL: "silent" } });

/** A temporary folder the embedded PostgreSQL's user may pass through (README, Storage). */
function passableTemp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

describe("relay restore and orphan messages", () => {
  test("a backup with a message of a chat and sender it does not hold is refused", async () => {
    const source = passableTemp("smsg-orphan-src-");
    const relay = await startRelayProcess(source, await freePort());
    const dir = passableTemp("smsg-orphan-");
    const file = join(dir, "ok.smsgbak");
    try {
      await smsg("relay", "backup", file, "--data", source);
    } finally {
      relay.child.kill("SIGTERM");
      await relay.exited;
    }
    // The same backup with one message added whose chat 4242 and sender 4243 do not exist.
    const lines = gunzipSync(readFileSync(file)).toString().trimEnd().split("\n");
    const header = lines.findIndex((l) => l.startsWith('{"table":"messages"'));
    expect(header).toBeGreaterThan(0);
    const columns = (JSON.parse(lines[header]!) as { columns: string[] }).columns;
    const values: Record<string, unknown> = {
      id: 1,
      chat_id: 4242,
      sender_id: 4243,
      sender_device: 1,
      recipient_id: null,
      idem: `\\x${"ab".repeat(16)}`,
      envelope: "\\x00",
      created_at: "2030-01-01T00:00:00+00:00",
    };
    const row = JSON.stringify(Object.fromEntries(columns.map((c) => [c, values[c] ?? null])));
    const trailer = JSON.parse(lines[lines.length - 1]!) as { end: true; rows: Record<string, number> };
    trailer.rows["messages"] = (trailer.rows["messages"] ?? 0) + 1;
    const bad = [...lines.slice(0, header + 1), row, ...lines.slice(header + 1, -1), JSON.stringify(trailer)];
    const orphaned = join(dir, "orphan.smsgbak");
    writeFileSync(orphaned, gzipSync(bad.join("\n") + "\n"));

    const target = join(dir, "target");
    const r = await smsg("relay", "restore", orphaned, "--data", target).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.stderr).toMatch(
      /not a usable relay backup: 1 of its messages belong to a chat or account it does not hold/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.code).toBe(1);
    expect(existsSync(target)).toBe(false);
  }, 120_000);
});
