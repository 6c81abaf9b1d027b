/** Profile folder resolution (client/profile/paths.ts). */
import { mkdirSync, statSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { mkdtempSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { ensureProfileDir, resolveProfileDir, validateProfileName } from "../../../client/profile/paths.js";
import { UsageError } from "../../../src/errors.js";

describe("resolveProfileDir", () => {
  test("XDG_DATA_HOME, default profile name", () => {
    expect(resolveProfileDir({ env: { XDG_DATA_HOME: "/x/data", HOME: "/home/u" } })).toBe(
      "/x/data/socketmessenger/profiles/default",
    );
  });

  test("~/.local/share when XDG_DATA_HOME is unset, empty or relative", () => {
    const want = "/home/u/.local/share/socketmessenger/profiles/work";
    expect(resolveProfileDir({ profile: "work", env: { HOME: "/home/u" } })).toBe(want);
    expect(resolveProfileDir({ profile: "work", env: { HOME: "/home/u", XDG_DATA_HOME: "" } })).toBe(want);
    expect(resolveProfileDir({ profile: "work", env: { HOME: "/home/u", XDG_DATA_HOME: "rel/dir" } })).toBe(want);
  });

  test("falls back to the OS home when HOME is unset", () => {
    expect(resolveProfileDir({ env: {} })).toBe(join(homedir(), ".local/share/socketmessenger/profiles/default"));
  });

  test("--profile picks the folder under the data dir", () => {
    expect(resolveProfileDir({ profile: "alice.2", env: { XDG_DATA_HOME: "/d" } })).toBe(
      "/d/socketmessenger/profiles/alice.2",
    );
  });

  test("SMSG_HOME is the profile folder itself and wins over --profile", () => {
    expect(resolveProfileDir({ profile: "work", env: { SMSG_HOME: "/p/me", XDG_DATA_HOME: "/d" } })).toBe("/p/me");
    expect(resolveProfileDir({ env: { SMSG_HOME: "rel/me" } })).toBe(resolve("rel/me"));
    expect(resolveProfileDir({ env: { SMSG_HOME: "", XDG_DATA_HOME: "/d" } })).toBe(
      "/d/socketmessenger/profiles/default",
    );
  });

  test("profile names: 1..64 safe characters, no slashes, dots or flags", () => {
    for (const ok of ["a", "default", "Work-2", "x_y.z", "9", "a".repeat(64)]) expect(validateProfileName(ok)).toBe(ok);
    for (const bad of ["", "a/b", "..", ".", ".hidden", "-flag", "a\\b", "a b", "é", "a".repeat(65), "a\0"]) {
      expect(() => validateProfileName(bad), bad).toThrow(UsageError);
      expect(() => resolveProfileDir({ profile: bad, env: { HOME: "/h" } }), bad).toThrow(UsageError);
    }
  });
});

describe("ensureProfileDir", () => {
  test("creates the folder and its parents with mode 0700, and tightens an existing one", () => {
    const root = mkdtempSync(join(tmpdir(), "smsg-paths-"));
    const dir = resolveProfileDir({ env: { XDG_DATA_HOME: root } });
    ensureProfileDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const loose = join(root, "loose");
    mkdirSync(loose, { mode: 0o755 });
    ensureProfileDir(loose);
    expect(statSync(loose).mode & 0o777).toBe(0o700);
  });
});
