/** A token bucket: `rate` tokens per second, at most `burst` saved up. Time is passed in. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `n` tokens if there are that many, else none; `now` in milliseconds. */
  take(now: number, n = 1): boolean {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`a token bucket takes a whole number ≥ 0, not ${n}`);
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}
