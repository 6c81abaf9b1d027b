/** When the relay decides to stop: its parent going away counts only under a package manager. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, test, vi } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { createLogger } from "../../relay/logger.js";
import { startedByPackageManager, whenStopRequested } from "../../relay/stop-signals.js";

const log = createLogger("silent");

describe("whenStopRequested", () => {
  afterEach(() => {
    vi.useRealTimers();
    process.removeAllListeners("SIGTERM");
    process.removeAllListeners("SIGINT");
  });

  test("under npm (npm_lifecycle_event set), a changed parent is a stop request", async () => {
    vi.useFakeTimers();
    let parent = 4242;
    const stop = whenStopRequested({
      log,
      env: { npm_lifecycle_event: "start", npm_lifecycle_script: "exec node dist/bin/smsg.js relay serve" },
      ppid: () => parent,
    });
    let reason: string | undefined;
    void stop.then((r) => (reason = r));
    await vi.advanceTimersByTimeAsync(2000);
    expect(reason).toBeUndefined();
    parent = 1;
    await vi.advanceTimersByTimeAsync(600);
    expect(reason).toBe("parent exited");
  });

  test("startedByPackageManager: npx, or a script that is the relay; not variables merely inherited", () => {
    expect(startedByPackageManager({ npm_lifecycle_event: "npx", npm_lifecycle_script: "'smsg'" })).toBe(true);
    expect(startedByPackageManager({ npm_lifecycle_event: "relay", npm_lifecycle_script: "smsg relay serve" })).toBe(
      true,
    );
    expect(startedByPackageManager({ npm_lifecycle_event: "test", npm_lifecycle_script: "tsc && vitest run" })).toBe(
      false,
    );
    expect(startedByPackageManager({})).toBe(false);
  });

  test("started any other way (systemd, nohup, a container), a changed parent is ignored", async () => {
    vi.useFakeTimers();
    let parent = 4242;
    const stop = whenStopRequested({ log, env: {}, ppid: () => parent });
    let reason: string | undefined;
    void stop.then((r) => (reason = r));
    parent = 1;
    await vi.advanceTimersByTimeAsync(5000);
    expect(reason).toBeUndefined();
    process.emit("SIGTERM", "SIGTERM");
    await vi.advanceTimersByTimeAsync(0);
    expect(reason).toBe("SIGTERM");
  });

  test("a stop that outlasts the shutdown timeout exits 1 with one log line; one that finishes does not", () => {
    const mod = pathToFileURL(join(packageRoot(), "dist", "relay", "stop-signals.js")).href;
    const script = (stopping: string) =>
      `import { withShutdownTimeout } from ${JSON.stringify(mod)};
       import { createLogger } from ${JSON.stringify(mod.replace("stop-signals.js", "logger.js"))};
       await withShutdownTimeout(${stopping}, 200, createLogger("info"));
       console.log("stopped in time");`;
    const hung = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", script("new Promise(() => setInterval(() => {}, 1000))")],
      {
        encoding: "utf8",
      },
    );
    expect(hung.status).toBe(1);
    expect(hung.stderr).toContain("the relay did not stop within its shutdown timeout; exiting");
    expect(hung.stdout).toBe("");
    const quick = spawnSync(process.execPath, ["--input-type=module", "-e", script("Promise.resolve()")], {
      encoding: "utf8",
    });
    expect(quick.status).toBe(0);
    expect(quick.stdout).toBe("stopped in time\n");
  });
});
