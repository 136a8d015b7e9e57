/**
 * A token bucket (ARCHITECTURE.md, "Security": bytes/s and stanzas/s per session). Refilled lazily
 * from the clock on each take, so an idle session costs nothing.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `amount` tokens; false when the bucket cannot cover them (the caller disconnects). */
  take(amount: number): boolean {
    const now = this.now();
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
      this.last = now;
    }
    this.tokens -= amount;
    return this.tokens >= 0;
  }
}

/** Open connections per client address, for the per-IP cap. */
export class ConnectionCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts a new connection; false (and not counted) when the address is at its cap. */
  acquire(ip: string): boolean {
    const n = this.counts.get(ip) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(ip, n + 1);
    return true;
  }

  release(ip: string): void {
    const n = this.counts.get(ip) ?? 0;
    if (n <= 1) this.counts.delete(ip);
    else this.counts.set(ip, n - 1);
  }
}

/** At most `max` events per key inside a sliding window (registrations per address per hour). */
export class SlidingWindowLimit {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Records an event for `key` and returns true, or returns false when the key is at its cap. */
  tryRecord(key: string): boolean {
    const now = this.now();
    const horizon = now - this.windowMs;
    const times = (this.events.get(key) ?? []).filter((t) => t > horizon);
    if (times.length >= this.max) {
      this.events.set(key, times);
      return false;
    }
    times.push(now);
    // Re-insert so the Map's iteration order is least-recently-used first for eviction.
    this.events.delete(key);
    this.events.set(key, times);
    while (this.events.size > this.maxKeys) {
      const oldest = this.events.keys().next();
      if (oldest.done === true) break;
      this.events.delete(oldest.value);
    }
    return true;
  }
}
