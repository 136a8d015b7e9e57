import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';

// Renew or release only while the key still holds our token (compare-and-set).
const RENEW =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

export interface LeaseOptions {
  readonly redis: Redis;
  /** e.g. `muc:lease:{conference.example.com}`. */
  readonly key: string;
  readonly ttlMs: number;
  /** The holder lost the lease (a renewal found another token or Redis unreachable past the TTL). */
  readonly onLost: () => void;
  /** Stops waiting for the lease. */
  readonly signal?: AbortSignal;
}

export interface Lease {
  readonly token: string;
  /** Stops renewing and frees the lease for a standby at once. */
  release(): Promise<void>;
}

/**
 * The single active instance (ARCHITECTURE.md, "Partition ownership"): waits
 * until `SET key token NX PX ttl` succeeds, then renews every ttl/3. A
 * standby polls at the same pace, so takeover happens within about one TTL
 * of the holder's death.
 */
export async function acquireLease(options: LeaseOptions): Promise<Lease> {
  const { redis, key, ttlMs } = options;
  const token = randomUUID();
  const period = Math.max(50, Math.floor(ttlMs / 3));
  for (;;) {
    options.signal?.throwIfAborted();
    const won = await redis.set(key, token, 'PX', ttlMs, 'NX').catch(() => null);
    if (won === 'OK') break;
    await delay(period, undefined, options.signal === undefined ? {} : { signal: options.signal });
  }
  let renewedAt = Date.now();
  let released = false;
  const timer = setInterval(() => {
    redis
      .eval(RENEW, 1, key, token, String(ttlMs))
      .then((ok) => {
        if (ok === 1) renewedAt = Date.now();
        else lose();
      })
      .catch(() => {
        if (Date.now() - renewedAt >= ttlMs) lose();
      });
  }, period);
  timer.unref();
  function lose(): void {
    if (released) return;
    released = true;
    clearInterval(timer);
    options.onLost();
  }
  return {
    token,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    },
  };
}
