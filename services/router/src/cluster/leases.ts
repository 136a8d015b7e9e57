import { performance } from 'node:perf_hooks';
import type { Bus, BusEntry, Fence } from '@switchboard/bus';
import type { Logger } from '@switchboard/kit';
import { heartbeatShare, release, renewHeld, tryAcquire, type HeldLease } from '@switchboard/lease';
import { Groups, Keys, Streams } from '@switchboard/protocol';
import type { Redis } from 'ioredis';

/** What the leases drive: the part of the router core's `Router` that consumes partitions. */
export interface PartitionConsumer {
  start(): Promise<void>;
  /** Stops reading; resolves once the running batch is processed and acked. */
  stop(): Promise<void>;
  setOwnedPartitions(partitions: readonly number[]): void;
  handleBatch(entries: readonly BusEntry[]): Promise<void>;
}

export interface PartitionLeasesOptions {
  readonly redis: Redis;
  readonly bus: Bus;
  readonly router: PartitionConsumer;
  /** Member name in `Keys.routers()`, lease owner and consumer name on the route streams. */
  readonly routerId: string;
  readonly partitions: number;
  readonly logger: Logger;
  /** Lease lifetime; a dead router's partitions move after at most this long. Default 5000. */
  readonly leaseTtlMs?: number;
  /** Heartbeat, renewal and rebalance period. Default 1000. */
  readonly heartbeatMs?: number;
  /** A router is live while its last heartbeat is at most this old. Default 5000. */
  readonly routerTtlMs?: number;
  /** Pending entries claimed per XAUTOCLAIM when taking a partition over. Default 100. */
  readonly claimBatch?: number;
}

/** A snapshot given to change listeners. */
export interface LeaseState {
  /** Partitions whose lease we hold and whose stream the router consumes, ascending. */
  readonly held: readonly number[];
  /** Partitions the assignment gives us among the live routers, ascending. */
  readonly target: readonly number[];
  readonly ready: boolean;
}

export interface PartitionLeases {
  /** Registers in `Keys.routers()`, takes the first leases, then keeps heartbeating every `heartbeatMs`. */
  start(): Promise<void>;
  /**
   * Leaves the cluster: deregisters (others rebalance at once), stops the
   * router consuming, then releases every lease. Idempotent.
   */
  stop(): Promise<void>;
  /**
   * Stops heartbeating and renewing without touching Redis or the router, as
   * a crashed process would: leases expire after their TTL. For tests and
   * for a process that must exit at once.
   */
  abandon(): Promise<void>;
  readonly held: readonly number[];
  readonly target: readonly number[];
  /** Live routers as of the last heartbeat, sorted. */
  readonly live: readonly string[];
  /**
   * The fencing token of our lease on `partition`, undefined when we do not
   * hold it. Strictly greater than any token an earlier holder had.
   */
  token(partition: number): number | undefined;
  /**
   * The fence for publishing the effects of `partition`'s entries: our lease
   * key and value, undefined when we do not hold it or it may have expired.
   */
  fence(partition: number): Fence | undefined;
  /** True once we held exactly our target at some point (possibly nothing); stays true until stop. */
  readonly ready: boolean;
  /** Called after every change of `held` or `ready`; returns an unsubscribe function. */
  onChange(listener: (state: LeaseState) => void): () => void;
}

/**
 * Partition ownership through fenced leases (ARCHITECTURE.md, "Delivery
 * guarantees"): heartbeat into `Keys.routers()`, compute the target
 * assignment over the live routers, take free target leases
 * (`lease:{p}` = `routerId:token`, token = INCR `fence:{p}`), renew them,
 * and hand back those the assignment moved elsewhere.
 *
 * Every change of the held set stops the router first (its running batch
 * finishes and is acked), so a released partition is never read again by
 * us, and a taken-over partition's pending entries (read but not acked by
 * the previous owner) are claimed, processed and acked before the consumer
 * reads anything new from it: per-partition order holds across owners.
 */
export function createPartitionLeases(options: PartitionLeasesOptions): PartitionLeases {
  const { redis, bus, router, routerId, partitions, logger } = options;
  const ttl = options.leaseTtlMs ?? 5000;
  const period = options.heartbeatMs ?? 1000;
  const routerTtl = options.routerTtlMs ?? 5000;
  const claimBatch = options.claimBatch ?? 100;
  const log = logger.child({ component: 'leases' });

  const held = new Map<number, HeldLease>();
  /** What the router was last told to consume. */
  let consuming: number[] = [];
  let routerRunning = false;
  let live: string[] = [];
  let target: number[] = [];
  let ready = false;
  let closed = false;
  let leaving = false;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  let reconciling: Promise<void> | undefined;
  let again = false;
  const listeners = new Set<(state: LeaseState) => void>();

  const snapshot = (): LeaseState => ({ held: [...consuming], target: [...target], ready });
  const emit = (): void => {
    const state = snapshot();
    for (const listener of listeners) listener(state);
  };

  /** One heartbeat: register, learn the live routers, renew our leases, drop those we lost. */
  const beat = async (): Promise<void> => {
    ({ live, target } = await heartbeatShare(redis, Keys.routers(), routerId, {
      leaving,
      ttlMs: routerTtl,
      partitions,
    }));
    await renewHeld(redis, held, ttl, log);
  };

  const takeOver = async (partition: number): Promise<void> => {
    const stream = Streams.route(partition);
    // Idle time 0: the lease says nobody else works on this partition any more.
    for (;;) {
      const entries = await bus.claimStale(stream, Groups.router, routerId, 0, claimBatch);
      if (entries.length === 0) {
        // What the previous owners left is ours and acked: forget consumer names of routers that
        // are gone, or the group lists every router that ever lived (XGROUP DELCONSUMER).
        const alive = new Set(live);
        const removed = await bus.removeConsumers(stream, Groups.router, (name) => alive.has(name));
        if (removed.length > 0) log.info({ partition, removed }, 'removed consumers of departed routers');
        return;
      }
      log.info({ partition, count: entries.length }, 'processing entries left pending by the previous owner');
      await router.handleBatch(entries);
      await bus.ackEntries(Groups.router, entries);
    }
  };

  const reconcile = async (): Promise<void> => {
    const wanted = new Set(target);
    const acquired = (
      await Promise.all(
        target
          .filter((p) => !held.has(p))
          .map(async (p) => {
            const lease = await tryAcquire(
              redis,
              { lease: Keys.partitionLease(p), fence: Keys.partitionFence(p) },
              routerId,
              ttl,
            );
            if (lease === null) return undefined;
            // Kept even when closing meanwhile, so that stop() releases it.
            held.set(p, lease);
            return p;
          }),
      )
    ).filter((p) => p !== undefined);
    const surplus = [...held.keys()].filter((p) => !wanted.has(p));
    const lost = consuming.filter((p) => !held.has(p));
    if (acquired.length > 0 || surplus.length > 0 || lost.length > 0) {
      if (routerRunning) {
        await router.stop();
        routerRunning = false;
      }
      // Only now, with the last batch of these partitions acked, may another router take them.
      await Promise.all(
        surplus.map(async (p) => {
          const lease = held.get(p)!;
          held.delete(p);
          await release(redis, lease);
        }),
      );
      for (const p of acquired) {
        if (!held.has(p) || closed) continue;
        try {
          await takeOver(p);
        } catch (error) {
          // The claimed entries are pending under our name now: the consumer re-reads them first.
          log.error({ err: error, partition: p }, 'processing taken-over entries failed');
        }
      }
      consuming = [...held.keys()].sort((a, b) => a - b);
      router.setOwnedPartitions(consuming);
      if (consuming.length > 0 && !closed) {
        await router.start();
        routerRunning = true;
      }
      log.info({ held: consuming, acquired, released: surplus, lost, live }, 'partition ownership changed');
    }
    const wasReady = ready;
    if (!ready && !leaving && sameSet(consuming, target)) ready = true;
    if (acquired.length > 0 || surplus.length > 0 || lost.length > 0 || ready !== wasReady) emit();
  };

  /** Runs reconcile rounds one at a time; a request during a round causes one more round. */
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
      .catch((error: unknown) => log.error({ err: error }, 'lease reconcile failed'))
      .finally(() => {
        reconciling = undefined;
      });
  };

  /** A lease whose renewal has not come back in time may be someone else's by now: stop using it. */
  const expireLocally = (): void => {
    const now = performance.now();
    let expired = false;
    for (const [p, lease] of held) {
      if (lease.validUntil <= now) {
        held.delete(p);
        expired = true;
        log.warn({ partition: p, token: lease.token }, 'partition lease expired before renewal');
      }
    }
    if (expired) kick();
  };

  const tick = (): void => {
    if (closed) return;
    expireLocally();
    if (beating !== undefined) return;
    beating = beat()
      .then(kick, (error: unknown) => log.warn({ err: error }, 'router heartbeat failed'))
      .finally(() => {
        beating = undefined;
      });
  };

  const halt = async (): Promise<void> => {
    closed = true;
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    await beating;
    await reconciling;
  };

  return {
    async start() {
      if (timer !== undefined || closed) return;
      await beat();
      timer = setInterval(tick, period);
      kick();
      await reconciling;
    },
    async stop() {
      if (leaving) return;
      leaving = true;
      await halt();
      await redis.zrem(Keys.routers(), routerId);
      if (routerRunning) await router.stop();
      routerRunning = false;
      const leases = [...held.values()];
      held.clear();
      await Promise.all(leases.map((lease) => release(redis, lease)));
      consuming = [];
      router.setOwnedPartitions([]);
      ready = false;
      emit();
    },
    async abandon() {
      await halt();
    },
    get held() {
      return consuming;
    },
    get target() {
      return target;
    },
    get live() {
      return live;
    },
    token(partition) {
      return held.get(partition)?.token;
    },
    fence(partition) {
      const lease = held.get(partition);
      if (lease === undefined || lease.validUntil <= performance.now()) return undefined;
      return { key: lease.keys.lease, value: lease.value };
    },
    get ready() {
      return ready;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}
