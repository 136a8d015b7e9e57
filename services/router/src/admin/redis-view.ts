import { Groups, Keys, Streams } from '@switchboard/protocol';
import type { Redis } from 'ioredis';
import type { SessionRecord } from '../sessions/registry.js';
import {
  range,
  type ClusterView,
  type ComponentInfo,
  type EdgeInfo,
  type RedisInfo,
  type RouterInfo,
  type StreamTotals,
} from './view.js';

export interface RedisViewOptions {
  readonly redis: Redis;
  readonly partitions: number;
  readonly components: readonly string[];
  /** The janitor's: an edge silent this long is dead. Default 10 s. */
  readonly edgeTimeoutMs?: number;
  /** A router silent this long is gone. Default 5 s. */
  readonly routerTtlMs?: number;
  /** A component reader idle longer than this counts as disconnected. Default 30 s. */
  readonly componentIdleMs?: number;
}

/**
 * The cluster's live state as Redis holds it (ARCHITECTURE.md, "Delivery
 * guarantees"): heartbeats in `edges`/`routers`, leases, session hashes,
 * consumer groups. Read-only; any router (or the CLI) can serve it.
 */
export function createRedisView(options: RedisViewOptions): ClusterView {
  const { redis, partitions } = options;
  const edgeTimeoutMs = options.edgeTimeoutMs ?? 10_000;
  const routerTtlMs = options.routerTtlMs ?? 5_000;
  const componentIdleMs = options.componentIdleMs ?? 30_000;

  const serverNow = async (): Promise<number> => {
    const [seconds, micros] = await redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  const sessionsOf = async (bare: string): Promise<SessionRecord[]> => {
    const raw = await redis.hgetall(Keys.sessions(bare));
    return Object.values(raw).map((json) => JSON.parse(json) as SessionRecord);
  };

  // Every edge's session set, live or not yet swept by the janitor.
  const edgeSessionKeys = async (): Promise<string[]> => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', 'edge:{*}:sessions', 'COUNT', 500);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  };

  const groupInfo = async (stream: string, group: string): Promise<{ pending: number; lag: number }> => {
    const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
    for (const fields of groups) {
      const info = pairs(fields);
      if (info.get('name') === group)
        return { pending: Number(info.get('pending') ?? 0), lag: Number(info.get('lag') ?? 0) || 0 };
    }
    return { pending: 0, lag: 0 };
  };

  const routeStreams = async (): Promise<StreamTotals> => {
    let length = 0;
    let pending = 0;
    for (const p of range(partitions)) {
      length += await redis.xlen(Streams.route(p));
      pending += (await groupInfo(Streams.route(p), Groups.router)).pending;
    }
    return { length, pending };
  };

  const redisInfo = async (): Promise<RedisInfo> => {
    const info = parseInfo(await redis.info('memory'));
    const persistence = parseInfo(await redis.info('persistence'));
    return {
      usedMemoryBytes: Number(info.get('used_memory') ?? 0),
      maxMemoryBytes: Number(info.get('maxmemory') ?? 0),
      aofEnabled: persistence.get('aof_enabled') === '1',
    };
  };

  return {
    mode: 'cluster',
    async overview() {
      const now = await serverNow();
      const edgeScores = pairsOfScores(await redis.zrange(Keys.edges(), 0, -1, 'WITHSCORES'));
      const edges: EdgeInfo[] = [];
      for (const [id, lastHeartbeat] of edgeScores) {
        const status = await redis.hgetall(Keys.edgeStatus(id));
        edges.push({
          id,
          lastHeartbeat,
          alive: now - lastHeartbeat <= edgeTimeoutMs,
          connections: Number(status['connections'] ?? 0),
          sessions: await redis.scard(Keys.edgeSessions(id)),
          draining: status['draining'] === '1',
        });
      }
      const owners = await Promise.all(range(partitions).map((p) => redis.get(Keys.partitionLease(p))));
      const held = new Map<string, number[]>();
      const unowned: number[] = [];
      owners.forEach((value, p) => {
        if (value === null) return void unowned.push(p);
        const owner = value.slice(0, value.lastIndexOf(':'));
        held.set(owner, [...(held.get(owner) ?? []), p]);
      });
      const routerScores = pairsOfScores(await redis.zrange(Keys.routers(), 0, -1, 'WITHSCORES'));
      for (const owner of held.keys()) if (!routerScores.has(owner)) routerScores.set(owner, 0);
      const routers: RouterInfo[] = [];
      for (const [id, lastHeartbeat] of routerScores) {
        const owned = held.get(id) ?? [];
        let pending = 0;
        let lag = 0;
        for (const p of owned) {
          const info = await groupInfo(Streams.route(p), Groups.router);
          pending += info.pending;
          lag += info.lag;
        }
        routers.push({
          id,
          lastHeartbeat,
          alive: now - lastHeartbeat <= routerTtlMs,
          partitions: owned,
          pending,
          lag,
        });
      }
      return {
        mode: 'cluster',
        now,
        edges,
        routers,
        partitions: { total: partitions, unowned },
        redis: await redisInfo(),
      };
    },
    sessionsOf,
    async allSessions(limit) {
      const bares = new Set<string>();
      for (const key of await edgeSessionKeys()) {
        for (const full of await redis.smembers(key)) {
          const slash = full.indexOf('/');
          bares.add(slash < 0 ? full : full.slice(0, slash));
        }
      }
      const found: SessionRecord[] = [];
      for (const bare of [...bares].sort()) {
        for (const record of await sessionsOf(bare)) {
          found.push(record);
          if (found.length >= limit) return found;
        }
      }
      return found;
    },
    async components() {
      const result: ComponentInfo[] = [];
      for (const domain of options.components) {
        const stream = Streams.service(domain);
        const group = await groupInfo(stream, Groups.service);
        const consumers = (await redis
          .xinfo('CONSUMERS', stream, Groups.service)
          .catch(() => [])) as unknown[][];
        const idle = consumers.map((fields) => Number(pairs(fields).get('idle') ?? Infinity));
        result.push({
          domain,
          connected: idle.some((ms) => ms <= componentIdleMs),
          consumers: consumers.length,
          pending: group.pending,
          length: await redis.xlen(stream),
        });
      }
      return result;
    },
    routeStreams,
  };
}

/** XINFO replies are flat [name, value, name, value, …] arrays. */
function pairs(fields: readonly unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(String(fields[i]), fields[i + 1]);
  return map;
}

function pairsOfScores(flat: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i]!, Number(flat[i + 1]));
  return map;
}

function parseInfo(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) map.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return map;
}
