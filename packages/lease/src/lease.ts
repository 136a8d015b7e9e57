import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { acquireLease, releaseLease, renewLease } from './scripts.js';

/** Where a fenced lease lives: the lease key and the counter its fencing tokens come from. */
export interface LeaseKeys {
  readonly lease: string;
  readonly fence: string;
}

/**
 * A lease we hold: value `${owner}:${token}` in Redis. `token` grows with
 * every acquisition of the same lease (INCR of the fence key), so a write
 * tagged with an older token can be refused (fencing).
 */
export interface HeldLease {
  readonly keys: LeaseKeys;
  readonly token: number;
  readonly value: string;
  /** Local monotonic time (performance.now) after which we must assume it lost, renewed or not. */
  validUntil: number;
}

/** SET lease NX PX with a fresh fencing token; null when someone else holds it. */
export async function tryAcquire(
  redis: Redis,
  keys: LeaseKeys,
  owner: string,
  ttlMs: number,
): Promise<HeldLease | null> {
  // Validity counts from before the request: the key may expire that early on the server.
  const sent = performance.now();
  const token = await acquireLease.run(redis, [keys.lease, keys.fence], [owner, ttlMs]);
  if (token === null || token === undefined) return null;
  const n = Number(token);
  return { keys, token: n, value: `${owner}:${n}`, validUntil: sent + ttlMs };
}

/** Extends the lease if it still carries our value; false when it was lost (expired, taken). */
export async function renew(redis: Redis, lease: HeldLease, ttlMs: number): Promise<boolean> {
  const sent = performance.now();
  const renewed = Number(await renewLease.run(redis, [lease.keys.lease], [lease.value, ttlMs])) === 1;
  if (renewed) lease.validUntil = sent + ttlMs;
  return renewed;
}

/** Deletes the lease if it still carries our value; false when it was no longer ours. */
export async function release(redis: Redis, lease: HeldLease): Promise<boolean> {
  return Number(await releaseLease.run(redis, [lease.keys.lease], [lease.value])) === 1;
}
