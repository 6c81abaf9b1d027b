/**
 * Backoff after failed logins and joins, per key (a remote address: relay/handlers/auth.ts).
 * Once a key has `free` failures it must wait `baseMs` before its next attempt, and each
 * further failure doubles the wait, up to `maxMs`. Entries expire so the map cannot grow
 * without bound.
 */
export class LoginBackoff {
  private readonly entries = new Map<string, { failures: number; until: number; touched: number }>();

  constructor(
    private readonly opts: { free: number; baseMs: number; maxMs: number; maxEntries: number } = {
      free: 3,
      baseMs: 1000,
      maxMs: 5 * 60_000,
      maxEntries: 100_000,
    },
  ) {}

  /** Milliseconds until `key` may try again (0 = now). */
  waitMs(key: string, now: number): number {
    const e = this.entries.get(key);
    return e ? Math.max(0, e.until - now) : 0;
  }

  fail(key: string, now: number): void {
    const e = this.entries.get(key) ?? { failures: 0, until: 0, touched: now };
    e.failures += 1;
    e.touched = now;
    const over = e.failures - this.opts.free;
    e.until = over >= 0 ? now + Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** over) : 0;
    this.entries.delete(key);
    this.entries.set(key, e); // re-insert: Map order is then least-recently-failed first
    if (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Drops entries idle for longer than the longest backoff. */
  sweep(now: number): void {
    for (const [k, e] of this.entries) if (now - e.touched > this.opts.maxMs && e.until <= now) this.entries.delete(k);
  }
}
