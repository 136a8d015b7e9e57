import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Which replica owns a user's IRC connections: rendezvous (highest random
 * weight) hashing of the bare JID over the live replicas, so a replica that
 * joins or leaves moves only the users it wins or held.
 */
export function ownerOf(user: string, replicas: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = '';
  for (const replica of replicas) {
    const weight = createHash('sha256').update(`${replica}\u0000${user}`).digest('hex');
    if (best === undefined || weight > bestWeight) {
      best = replica;
      bestWeight = weight;
    }
  }
  return best;
}

/**
 * Which replica holds a user's IRC connections right now: taken before
 * connecting, given back after the QUIT, so a user moving between replicas
 * is never connected twice (the second connection would get `nick_`).
 */
export interface ConnectionLeases {
  /**
   * Takes the user's lease for this replica once its holder released it or died; after
   * `handoverTimeoutMs` it is taken anyway (a holder that never lets go must not lock a user out):
   * `forced`.
   */
  acquire(user: string): Promise<'taken' | 'forced'>;
  /** Gives the lease back if this replica holds it. */
  release(user: string): Promise<void>;
}

/** The live replicas of one gateway domain. */
export interface ReplicaSet extends ConnectionLeases {
  readonly self: string;
  /** A replica whose last heartbeat is older than this is dead. */
  readonly ttlMs: number;
  /** Every replica that ever registered and was not forgotten, live or dead: whose streams may hold work. */
  known(): Promise<readonly string[]>;
  /** Drops a dead replica from `known` once nothing is left on its stream. */
  forget(replica: string): Promise<void>;
  /** Sorted ids of the replicas alive at the last heartbeat, this one included once started. */
  live(): readonly string[];
  owns(user: string): boolean;
  /** Called after the set of live replicas changed. */
  onChange(listener: (live: readonly string[]) => void): void;
  start(): Promise<void>;
  /** Leaves the set at once (the others take over at their next heartbeat). */
  stop(): Promise<void>;
}

export interface RedisReplicaSetOptions {
  readonly redis: Redis;
  readonly domain: string;
  readonly replicaId: string;
  /** How often this replica renews its entry and reads the others. Default 2 s. */
  readonly heartbeatMs?: number;
  /** A replica whose last heartbeat is older than this is dead. Default 3 heartbeats. */
  readonly ttlMs?: number;
  /** Longest wait for another live replica to release a user's connection. Default max(2 × ttl, 5 s). */
  readonly handoverTimeoutMs?: number;
}

/**
 * Takes a connection lease (`irc:{domain}:conn:<user>`) unless another replica holds it and is
 * alive by the replica set's heartbeats, judged on the server's clock in the same step.
 * Returns 1 when taken, else the holder.
 */
const ACQUIRE_LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  local score = redis.call('ZSCORE', KEYS[2], holder)
  if score then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    if tonumber(score) >= now - tonumber(ARGV[2]) then return holder end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Replicas registered in a Redis sorted set scored by their last heartbeat
 * (`irc:{domain}:replicas`); the server's clock is the one clock all compare to.
 */
export function createRedisReplicaSet(options: RedisReplicaSetOptions): ReplicaSet {
  const { redis, replicaId } = options;
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const ttlMs = options.ttlMs ?? heartbeatMs * 3;
  const handoverTimeoutMs = options.handoverTimeoutMs ?? Math.max(2 * ttlMs, 5000);
  const key = `irc:{${options.domain}}:replicas`;
  const knownKey = `irc:{${options.domain}}:replica-ids`;
  const leaseKey = (user: string): string => `irc:{${options.domain}}:conn:${user}`;
  const pollMs = Math.min(100, heartbeatMs);
  const listeners: ((live: readonly string[]) => void)[] = [];
  let live: readonly string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function beat(): Promise<void> {
    const [seconds, micros] = await redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const results = await redis
      .multi()
      .zadd(key, now, replicaId)
      .sadd(knownKey, replicaId)
      .zremrangebyscore(key, '-inf', now - ttlMs)
      .zrange(key, 0, -1)
      .exec();
    const members = (results?.[3]?.[1] as string[] | undefined) ?? [];
    const next = [...members].sort();
    if (next.join('\u0000') === live.join('\u0000')) return;
    live = next;
    for (const listener of listeners) listener(live);
  }

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      beat()
        .catch(() => undefined)
        .finally(schedule);
    }, heartbeatMs);
    timer.unref();
  };

  return {
    self: replicaId,
    ttlMs,
    live: () => live,
    known: () => redis.smembers(knownKey),
    async forget(replica) {
      if (replica !== replicaId) await redis.srem(knownKey, replica);
    },
    async acquire(user) {
      const deadline = Date.now() + handoverTimeoutMs;
      for (;;) {
        const holder = await redis.eval(ACQUIRE_LEASE, 2, leaseKey(user), key, replicaId, ttlMs);
        if (holder === 1) return 'taken';
        if (Date.now() >= deadline) {
          await redis.set(leaseKey(user), replicaId);
          return 'forced';
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
    async release(user) {
      await redis.eval(RELEASE_LEASE, 1, leaseKey(user), replicaId);
    },
    owns: (user) => ownerOf(user, live.length === 0 ? [replicaId] : live) === replicaId,
    onChange: (listener) => void listeners.push(listener),
    async start() {
      await beat();
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await redis.zrem(key, replicaId);
    },
  };
}
