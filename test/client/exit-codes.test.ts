/**
 * README.md "Exit codes" lists exactly the codes of src/exit-codes.ts; every error code of
 * src/errors.ts (ERROR_CODES, LOCAL_ERROR_CODES) has its exit code in EXIT_BY_CODE, and errors
 * exit with it; storage failures (disk full, read-only, damaged database) get their own code and
 * a sentence that says what to do.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { errorSentence, exitCodeOf } from "../../client/commands/exit.js";
import { ChatClosedError, KeyChangedError, QueuedOfflineError } from "../../client/engine/errors.js";
import { ProfileNotFoundError } from "../../client/profile/errors.js";
import { AmbiguousChatError } from "../../client/store/errors.js";
import {
  CodecError,
  ConnectionClosedError,
  CryptoVerificationError,
  ERROR_CODES,
  InternalError,
  LOCAL_ERROR_CODES,
  LimitError,
  RemoteError,
  SmsgError,
  TimeoutError,
  UsageError,
  isSmsgCode,
} from "../../src/errors.js";
import { EXIT, EXIT_BY_CODE } from "../../src/exit-codes.js";
import { packageRoot } from "../../src/paths.js";

const readme = readFileSync(join(packageRoot(), "README.md"), "utf8");

/** The codes in the table after README's "Exit codes" heading. */
function readmeCodes(): number[] {
  const start = readme.search(/^## Exit codes/m);
  expect(start, 'README.md has no section "Exit codes"').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf("\n## ", start + 1);
  const rows = readme
    .slice(start, end === -1 ? undefined : end)
    .split("\n")
    .filter((l) => /^\| \d+ \|/.test(l));
  return rows.map((l) => Number(/^\| (\d+) \|/.exec(l)![1]));
}

describe("exit codes", () => {
  test("README's table lists exactly the codes of src/exit-codes.ts", () => {
    expect(readmeCodes()).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });

  test("every mapped error code exits with a listed code", () => {
    const codes = new Set<number>(Object.values(EXIT));
    for (const [code, exit] of Object.entries(EXIT_BY_CODE)) expect(codes.has(exit), code).toBe(true);
  });

  test("EXIT_BY_CODE names exactly the codes of ERROR_CODES and LOCAL_ERROR_CODES, which do not overlap", () => {
    const wire = Object.keys(ERROR_CODES);
    const local = Object.keys(LOCAL_ERROR_CODES);
    expect(wire.filter((c) => local.includes(c))).toEqual([]);
    expect(Object.keys(EXIT_BY_CODE).sort()).toEqual([...wire, ...local].sort());
    expect(isSmsgCode("SEND_FAILED")).toBe(true);
    expect(isSmsgCode("SEND_FAILD")).toBe(false);
  });

  test("the fixed codes of the crypto core's and the transport's errors are in the table", () => {
    const fixed = [
      new CryptoVerificationError(),
      new CodecError("x"),
      new UsageError("x"),
      new LimitError("x"),
      new InternalError("x"),
      new TimeoutError("x"),
      new ConnectionClosedError("x"),
    ];
    for (const e of fixed) expect(isSmsgCode(e.code), e.code).toBe(true);
  });

  test("the exit codes of the error codes are those README documents (none changed when the table became typed)", () => {
    // Every code not listed here exits with 1 (EXIT.failure).
    const specific: Record<string, number> = {
      USAGE: 2,
      PROFILE_NOT_FOUND: 4,
      NOT_JOINED: 4,
      PROFILE_EXISTS: 5,
      WRONG_PASSPHRASE: 6,
      PASSPHRASE_REQUIRED: 7,
      RELAY_UNREACHABLE: 8,
      QUEUED_OFFLINE: 8,
      JOIN_UNCONFIRMED: 8,
      CONNECTION_CLOSED: 8,
      TIMEOUT: 8,
      SHUTTING_DOWN: 8,
      UNAVAILABLE: 8,
      LOGIN_FAILED: 9,
      AUTH_FAILED: 9,
      DEVICE_REMOVED: 9,
      ACCOUNT_DISABLED: 10,
      INVITE_INVALID: 11,
      LINK_UNKNOWN: 11,
      USERNAME_TAKEN: 12,
      USERNAME_INVALID: 12,
      USER_UNKNOWN: 13,
      USER_DISABLED: 13,
      DEVICE_UNKNOWN: 13,
      CHAT_NOT_FOUND: 14,
      CHAT_AMBIGUOUS: 14,
      CHAT_UNKNOWN: 14,
      CHAT_CLOSED: 15,
      NOT_A_MEMBER: 16,
      NOT_CHAT_ADMIN: 16,
      KEY_CHANGED: 17,
      RATE_LIMITED: 18,
      NOT_SUPPORTED: 19,
      STORE_TOO_NEW: 19,
      RELAY_KEY_MISMATCH: 21,
      HANDSHAKE_REFUSED: 21,
    };
    for (const [code, exit] of Object.entries(EXIT_BY_CODE)) expect(exit, code).toBe(specific[code] ?? EXIT.failure);
  });

  test("errors exit with the code of their kind", () => {
    expect(exitCodeOf(new ProfileNotFoundError("/p"))).toBe(EXIT.noProfile);
    expect(exitCodeOf(new QueuedOfflineError("h", 1, 3))).toBe(EXIT.relayUnreachable);
    expect(exitCodeOf(new KeyChangedError("bob"))).toBe(EXIT.keyChanged);
    expect(exitCodeOf(new ChatClosedError(4))).toBe(EXIT.chatClosed);
    expect(exitCodeOf(new AmbiguousChatError("x", [1, 2]))).toBe(EXIT.chatNotFound);
    expect(exitCodeOf(new RemoteError("NOT_CHAT_ADMIN", "no"))).toBe(EXIT.notAMember);
    expect(exitCodeOf(new SmsgError("SEND_FAILED", "refused"))).toBe(EXIT.failure);
    expect(exitCodeOf(new CryptoVerificationError())).toBe(EXIT.failure);
    expect(exitCodeOf(new UsageError("bad"))).toBe(EXIT.usage);
    expect(exitCodeOf(new Error("plain"))).toBe(EXIT.failure);
  });

  test("storage failures: a sentence to act on and exit code 20; other errors are not taken for them", () => {
    const fail = (code: string, message = "x") => Object.assign(new Error(message), { code });
    expect(errorSentence(fail("SQLITE_FULL", "database or disk is full"))).toMatch(
      /disk holding the profile is full: what was being written was not stored/,
    );
    expect(errorSentence(fail("ENOSPC"))).toMatch(/is full/);
    expect(errorSentence(fail("SQLITE_BUSY_SNAPSHOT"))).toMatch(/another smsg process kept the profile locked/);
    expect(errorSentence(fail("SQLITE_READONLY"))).toMatch(/cannot be written/);
    expect(errorSentence(fail("SQLITE_CORRUPT"))).toMatch(/is damaged: restore the profile from an export/);
    expect(errorSentence(fail("SQLITE_IOERR_WRITE"))).toMatch(/input\/output error/);
    for (const c of ["SQLITE_FULL", "ENOSPC", "SQLITE_BUSY", "SQLITE_READONLY", "SQLITE_NOTADB", "SQLITE_IOERR_FSYNC"])
      expect(exitCodeOf(fail(c)), c).toBe(EXIT.storage);
    expect(exitCodeOf(fail("ECONNRESET"))).toBe(EXIT.failure);
    expect(errorSentence(fail("ECONNRESET", "socket hang up"))).toBe("unexpected error: socket hang up");
  });
});
