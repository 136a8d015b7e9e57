import { performance } from 'node:perf_hooks';
import type { Fence } from '@switchboard/bus';
import type { Logger } from '@switchboard/kit';
import { heartbeatShare, release, renewHeld, tryAcquire, type HeldLease } from '@switchboard/lease';
import { Keys } from '@switchboard/protocol';
import type { Redis } from 'ioredis';

/** What the leases drive: the s2s node's reading of `s2s:{p}` and its links to the partitions' domains. */
export interface PartitionOwner {
  /** Partitions whose lease was just taken: claim what the previous owner left, then read them. */
  take(partitions: readonly number[]): Promise<void>;
  /**
   * Partitions about to be released, or already lost: stop reading them and
   * close their links, leaving unsent stanzas pending for the next owner.
   */
  drop(partitions: readonly number[]): Promise<void>;
}

export interface S2sLeasesOptions {
  readonly redis: Redis;
  readonly owner: PartitionOwner;
  /** Member of `Keys.s2sNodes()`, lease owner, consumer name on `s2s:{p}`. */
  readonly nodeId: string;
  readonly partitions: number;
  readonly logger: Logger;
  /** A dead node's domains move after at most this long. */
  readonly leaseTtlMs: number;
  /** Heartbeat, renewal and rebalance period; well under leaseTtlMs. */
  readonly heartbeatMs: number;
  /** A node is live while its last heartbeat is at most this old. */
  readonly nodeTtlMs: number;
}

export interface S2sLeases {
  /** Registers, takes the first leases and keeps heartbeating. */
  start(): Promise<void>;
  /** Deregisters, drops every partition, then releases the leases. Idempotent. */
  stop(): Promise<void>;
  /** Partitions held, ascending. */
  readonly held: readonly number[];
  /** Live s2s nodes as of the last heartbeat. */
  readonly live: readonly string[];
  /** The lease as a bus fence while it is ours and cannot have expired; undefined otherwise. */
  fence(partition: number): Fence | undefined;
  /** Called after every change of `held`. */
  onChange(listener: (held: readonly number[]) => void): void;
}

/**
 * Ownership of the `s2s:{p}` partitions, so that exactly one node holds the
 * outbound connections to the remote domains of a partition (issue 11,
 * ARCHITECTURE.md "Delivery guarantees"): heartbeat into `Keys.s2sNodes()`,
 * assign partitions over the live nodes, take free leases (`SET NX PX`,
 * value `nodeId:token`, token from INCR of a fence key), renew them, and
 * hand back those the assignment moved. A partition is dropped by its
 * owner before its lease is released, so two nodes never send for it at once.
 */
export function createS2sLeases(options: S2sLeasesOptions): S2sLeases {
  const { redis, owner, nodeId, partitions, leaseTtlMs: ttl } = options;
  const log = options.logger.child({ component: 's2s-leases' });
  const held = new Map<number, HeldLease>();
  let owned: number[] = [];
  let live: string[] = [];
  let target: number[] = [];
  let closed = false;
  let leaving = false;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  let reconciling: Promise<void> | undefined;
  let again = false;
  const listeners: ((held: readonly number[]) => void)[] = [];

  const beat = async (): Promise<void> => {
    ({ live, target } = await heartbeatShare(redis, Keys.s2sNodes(), nodeId, {
      leaving,
      ttlMs: options.nodeTtlMs,
      partitions,
    }));
    await renewHeld(redis, held, ttl, log, 's2s partition');
  };

  const acquire = async (p: number): Promise<boolean> => {
    const lease = await tryAcquire(redis, { lease: Keys.s2sLease(p), fence: Keys.s2sFence(p) }, nodeId, ttl);
    if (lease === null) return false;
    held.set(p, lease);
    return true;
  };

  const reconcile = async (): Promise<void> => {
    const wanted = new Set(target);
    const acquired: number[] = [];
    for (const p of target) if (!held.has(p) && (await acquire(p))) acquired.push(p);
    const surplus = [...held.keys()].filter((p) => !wanted.has(p));
    const lost = owned.filter((p) => !held.has(p));
    if (acquired.length === 0 && surplus.length === 0 && lost.length === 0) return;
    // Stop sending for a partition before another node may take it.
    if (surplus.length > 0 || lost.length > 0) await owner.drop([...surplus, ...lost]);
    await Promise.all(
      surplus.map(async (p) => {
        const lease = held.get(p)!;
        held.delete(p);
        await release(redis, lease);
      }),
    );
    const taking = acquired.filter((p) => held.has(p) && !closed);
    if (taking.length > 0) await owner.take(taking);
    owned = [...held.keys()].sort((a, b) => a - b);
    log.info({ held: owned, acquired, released: surplus, lost, live }, 's2s partition ownership changed');
    for (const listener of listeners) listener(owned);
  };

  const kick = (): void => {
    if (closed) return;
    if (reconciling !== undefined) {
      again = true;
      return;
    }
    reconciling = (async () => {
      do {
        again = false;
        await reconcile();
      } while (again && !closed);
    })()
      .catch((error: unknown) => log.error({ err: error }, 's2s lease reconcile failed'))
      .finally(() => {
        reconciling = undefined;
      });
  };

  const tick = (): void => {
    if (closed) return;
    const now = performance.now();
    let expired = false;
    for (const [p, lease] of held) {
      if (lease.validUntil <= now) {
        held.delete(p);
        expired = true;
        log.warn({ partition: p, token: lease.token }, 's2s partition lease expired before renewal');
      }
    }
    if (expired) kick();
    if (beating !== undefined) return;
    beating = beat()
      .then(kick, (error: unknown) => log.warn({ err: error }, 's2s heartbeat failed'))
      .finally(() => {
        beating = undefined;
      });
  };

  return {
    async start() {
      if (timer !== undefined || closed) return;
      await beat();
      timer = setInterval(tick, options.heartbeatMs);
      kick();
      await reconciling;
    },
    async stop() {
      if (leaving) return;
      leaving = true;
      closed = true;
      clearInterval(timer);
      await beating;
      await reconciling;
      await redis.zrem(Keys.s2sNodes(), nodeId);
      await owner.drop(owned);
      const leases = [...held.values()];
      held.clear();
      owned = [];
      await Promise.all(leases.map((lease) => release(redis, lease)));
      for (const listener of listeners) listener(owned);
    },
    get held() {
      return owned;
    },
    get live() {
      return live;
    },
    fence(partition) {
      const lease = held.get(partition);
      if (lease === undefined || lease.validUntil <= performance.now()) return undefined;
      return { key: lease.keys.lease, value: lease.value };
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
