/**
 * The suites' one polling helper. Some things a test waits for have no event to await (a row in
 * the relay's database, a line a child process printed, a cursor that moves after a sync), so
 * the test checks again every few milliseconds until the condition holds. The timeout is a hang
 * guard, not an assertion about speed: it is generous so that a busy 2-core machine does not
 * fail a correct run, and when it does expire the error says what was awaited and what was seen.
 */

/** Options of waitFor. */
export interface WaitOptions {
  /** What is awaited, for the failure message ("bob's listener printed msg 3"). */
  readonly what: string;
  /** Give up after this long; default 15 s (well under the test timeout in vitest.config.ts). */
  readonly timeoutMs?: number;
  /** Time between two checks; default 20 ms. */
  readonly intervalMs?: number;
  /** Called when giving up: the state worth showing (what a listener printed so far, …). */
  readonly state?: () => string;
  /** Checked after each failed check: a reason to stop waiting at once (a child process exited, …). */
  readonly stopIf?: () => string | undefined;
}

export const DEFAULT_WAIT_MS = 15_000;

/**
 * Resolves with the first truthy value `condition` returns (sync or async), checking it every
 * `intervalMs`; rejects with "timed out after N ms waiting for WHAT" (and the state) otherwise.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  opts: WaitOptions,
): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS;
  const end = Date.now() + timeoutMs;
  const state = () => (opts.state ? `\n${opts.state()}` : "");
  for (;;) {
    const v = await condition();
    if (v) return v as Exclude<T, false | 0 | "" | null | undefined>;
    const stop = opts.stopIf?.();
    if (stop !== undefined) throw new Error(`stopped waiting for ${opts.what}: ${stop}${state()}`);
    if (Date.now() >= end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}${state()}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/** Resolves once `read()` returns `expected` (compared with Object.is); the failure shows the last value read. */
export async function waitForValue<T>(read: () => T | Promise<T>, expected: T, opts: WaitOptions): Promise<void> {
  let last: T | undefined;
  await waitFor(
    async () => {
      last = await read();
      return Object.is(last, expected);
    },
    {
      ...opts,
      state: () => `expected ${String(expected)}, last read ${String(last)}${opts.state ? `\n${opts.state()}` : ""}`,
    },
  );
}
