import { isIP } from 'node:net';

export interface ThrottleLimit {
  /** Failures allowed inside one window; the next attempt is refused until the oldest expires. */
  failures: number;
  windowMs: number;
}

export interface LoginThrottleOptions {
  /** Default 5 failures per minute. */
  perAccount?: ThrottleLimit;
  /** Default 20 failures per minute. */
  perIp?: ThrottleLimit;
  /** Keys kept per table before the least recently failed are forgotten. Default 100 000. */
  maxEntries?: number;
  /** Clock in milliseconds; tests inject one. */
  now?: () => number;
}

export type ThrottleDecision = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Sliding-window log of recent failures per key, bounded as an LRU: a Map iterates in insertion
 * order, so re-inserting on each failure keeps the stalest key first for eviction.
 */
class FailureLog {
  private readonly entries = new Map<string, number[]>();

  constructor(
    private readonly limit: ThrottleLimit,
    private readonly maxEntries: number,
  ) {}

  /** Milliseconds until another attempt is allowed; 0 when allowed now. */
  retryAfter(key: string, now: number): number {
    const times = this.recent(key, now);
    if (times === undefined || times.length < this.limit.failures) return 0;
    // Only the last `failures` timestamps are kept, so the first one is the one that must expire.
    const oldest = times[0] ?? now;
    return Math.max(1, oldest + this.limit.windowMs - now);
  }

  record(key: string, now: number): void {
    const times = this.recent(key, now) ?? [];
    times.push(now);
    if (times.length > this.limit.failures) times.splice(0, times.length - this.limit.failures);
    this.entries.delete(key);
    this.entries.set(key, times);
    while (this.entries.size > this.maxEntries) {
      const stalest = this.entries.keys().next();
      if (stalest.done === true) break;
      this.entries.delete(stalest.value);
    }
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private recent(key: string, now: number): number[] | undefined {
    const times = this.entries.get(key);
    if (times === undefined) return undefined;
    const horizon = now - this.limit.windowMs;
    let expired = 0;
    while (expired < times.length && (times[expired] ?? 0) <= horizon) expired++;
    if (expired === times.length) {
      this.entries.delete(key);
      return undefined;
    }
    if (expired > 0) times.splice(0, expired);
    return times;
  }
}

/**
 * Login throttling per account and per client address (ARCHITECTURE.md, Security). The edge
 * answers `temporary-auth-failure` (RFC 6120 §6.5.12) while `check` refuses. State is local to
 * one edge process: with N edges behind a balancer an attacker gets up to N times the budget,
 * which is accepted rather than adding a Redis round trip to every login.
 */
export class LoginThrottle {
  private readonly accounts: FailureLog;
  private readonly ips: FailureLog;
  private readonly now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000;
    this.accounts = new FailureLog(options.perAccount ?? { failures: 5, windowMs: 60_000 }, maxEntries);
    this.ips = new FailureLog(options.perIp ?? { failures: 20, windowMs: 60_000 }, maxEntries);
    this.now = options.now ?? Date.now;
  }

  /** Whether a login from `ip` (for `account`, once known) may proceed. */
  check(ip: string, account?: string): ThrottleDecision {
    const now = this.now();
    const wait = Math.max(
      this.ips.retryAfter(ipKey(ip), now),
      account === undefined ? 0 : this.accounts.retryAfter(account, now),
    );
    return wait === 0 ? { ok: true } : { ok: false, retryAfterMs: wait };
  }

  recordFailure(ip: string, account?: string): void {
    const now = this.now();
    this.ips.record(ipKey(ip), now);
    if (account !== undefined) this.accounts.record(account, now);
  }

  /**
   * Clears the account's failures only: one valid login must not buy an address a fresh budget
   * for guessing other accounts' passwords.
   */
  recordSuccess(_ip: string, account: string): void {
    this.accounts.clear(account);
  }

  /** Keys currently held (addresses, accounts); for metrics and the memory-bound test. */
  get size(): { ips: number; accounts: number } {
    return { ips: this.ips.size, accounts: this.accounts.size };
  }
}

/**
 * The key an address is counted under: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by its
 * /64, since one host usually holds a whole /64 and could otherwise rotate addresses freely.
 */
export function ipKey(ip: string): string {
  const bare = ip.split('%', 1)[0] ?? ip;
  if (isIP(bare) !== 6) return bare;
  const lower = bare.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped?.[1] !== undefined) return mapped[1];
  const [head = '', tail] = lower.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const width = (groups: string[]): number => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const zeros = tail === undefined ? 0 : 8 - width(headGroups) - width(tailGroups);
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  const prefix = groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}
