/**
 * When `smsg relay serve` should stop: SIGTERM or SIGINT to the relay itself, or the end of
 * the package-manager wrapper that started it.
 *
 * `npm start`, `npm exec` (`npx smsg …`), pnpm and yarn run the command through `sh -c`. A
 * supervisor stopping such a service signals the process it started, npm; npm passes SIGTERM
 * to its shell, the shell dies without passing it on, npm exits, and the relay was left
 * running with parent 1. npm never exits before its child otherwise, so a relay that a
 * package manager ran (it sets npm_lifecycle_event and npm_lifecycle_script) treats its parent
 * going away as a stop request. Started any other way (systemd, a container, `nohup … &`) a changed parent means
 * nothing, and is ignored: a service manager signals the relay itself.
 */
import type { Logger } from "./logger.js";

/** How often the parent is checked: one getppid(2) call, well below the shutdown timeout. */
const PARENT_POLL_MS = 500;

export interface StopWatchOptions {
  readonly log: Logger;
  /** The environment, to tell whether a package manager started the process. */
  readonly env?: NodeJS.ProcessEnv;
  /** The parent's pid now (process.ppid); injected by tests. */
  readonly ppid?: () => number;
}

/**
 * True when npm, pnpm or yarn ran this relay as the command itself: `npx`/`npm exec` (event
 * "npx"), or a script whose command is `… relay serve …` (`npm start`). Not when the variables
 * were only inherited, e.g. by a relay a test suite under `npm test` starts.
 */
export function startedByPackageManager(env: NodeJS.ProcessEnv): boolean {
  const event = env["npm_lifecycle_event"];
  if (!event) return false;
  return event === "npx" || /\brelay\s+serve\b/.test(env["npm_lifecycle_script"] ?? "");
}

/**
 * Resolves with the reason ("SIGTERM", "SIGINT", "parent exited") once the relay should stop.
 * Install it before anything starts, so a stop during start-up is clean too.
 */
export function whenStopRequested(options: StopWatchOptions): Promise<string> {
  const { log } = options;
  const env = options.env ?? process.env;
  const ppid = options.ppid ?? (() => process.ppid);
  return new Promise<string>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = (reason: string) => {
      if (timer) clearInterval(timer);
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      // A second signal while stopping must not kill the relay mid-commit: the shutdown timeout bounds the wait.
      process.on("SIGINT", again);
      process.on("SIGTERM", again);
      log.info({ reason }, "stopping");
      resolve(reason);
    };
    const again = (signal: string) => log.info({ signal }, "already stopping");
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    if (startedByPackageManager(env)) {
      const parent = ppid();
      timer = setInterval(() => {
        if (ppid() !== parent) stop("parent exited");
      }, PARENT_POLL_MS);
      timer.unref();
    }
  });
}

/**
 * Bounds a stop: if `stopping` has not settled after `timeoutMs`, logs it and exits 1 (what is
 * left is unacknowledged, so nothing a client was told is stored can be lost).
 */
export async function withShutdownTimeout(stopping: Promise<void>, timeoutMs: number, log: Logger): Promise<void> {
  const timer = setTimeout(() => {
    log.error({ timeoutMs }, "the relay did not stop within its shutdown timeout; exiting");
    process.exit(1);
  }, timeoutMs);
  try {
    await stopping;
  } finally {
    clearTimeout(timer);
  }
}
