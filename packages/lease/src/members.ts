import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { assignPartitions } from './assignment.js';
import { renew, type HeldLease } from './lease.js';
import { heartbeat } from './scripts.js';

/** Who is live after one heartbeat, and the partitions this member should hold among them. */
export interface Share {
  /** Live members, sorted. */
  readonly live: string[];
  /** This member's partitions by {@link assignPartitions}; none while leaving. */
  readonly target: number[];
}

/**
 * One heartbeat into the members set `key` (sorted set, server time): registers `memberId`
 * (unless `leaving`: a leaving member stops announcing itself and counts itself out), forgets
 * members silent for ten times `ttlMs`, and computes this member's share of `partitions`.
 */
export async function heartbeatShare(
  redis: Redis,
  key: string,
  memberId: string,
  options: { readonly leaving: boolean; readonly ttlMs: number; readonly partitions: number },
): Promise<Share> {
  const { leaving, ttlMs, partitions } = options;
  const members = (await heartbeat.run(
    redis,
    [key],
    [leaving ? '' : memberId, ttlMs, ttlMs * 10],
  )) as string[];
  const live = members.filter((id) => !leaving || id !== memberId).sort();
  return { live, target: leaving ? [] : (assignPartitions(live, partitions).get(memberId) ?? []) };
}

/** Where lease renewals report trouble (a pino logger fits). */
export interface LeaseLog {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Renews every lease in `held` and deletes those lost (expired or taken) from it. A renewal that
 * cannot reach Redis keeps its lease only until it may have expired there (`validUntil`).
 */
export async function renewHeld(
  redis: Redis,
  held: Map<number, HeldLease>,
  ttlMs: number,
  log: LeaseLog,
  what = 'partition',
): Promise<void> {
  await Promise.all(
    [...held.entries()].map(async ([partition, lease]) => {
      let ok: boolean;
      try {
        ok = await renew(redis, lease, ttlMs);
      } catch (error) {
        log.warn({ err: error, partition }, `${what} lease renewal failed`);
        ok = performance.now() < lease.validUntil;
      }
      if (!ok && held.get(partition) === lease) {
        held.delete(partition);
        log.warn({ partition, token: lease.token }, `${what} lease lost`);
      }
    }),
  );
}
