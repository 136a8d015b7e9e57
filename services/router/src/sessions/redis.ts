import { Keys } from '@switchboard/protocol';
import type { Redis } from 'ioredis';
import type { LastActivity, SessionRecord, SessionRegistry } from './registry.js';

/**
 * Sessions in Redis, shared by the cluster: hash `Keys.sessions(bare)`
 * (resource → JSON record) and set `Keys.edgeSessions(edgeId)` of full JIDs
 * for the janitor that cleans up after a dead edge. A write-through cache
 * serves reads: only the router owning a user's partition touches them.
 * The caller owns the connection; `close` only drops the cache.
 */
export function createRedisSessionRegistry(redis: Redis): SessionRegistry {
  const cache = new Map<string, Map<string, SessionRecord>>();
  const lists = new Map<string, readonly SessionRecord[]>();
  const loading = new Map<string, Promise<Map<string, SessionRecord>>>();

  async function load(bare: string): Promise<Map<string, SessionRecord>> {
    const cached = cache.get(bare);
    if (cached !== undefined) return cached;
    let pending = loading.get(bare);
    if (pending === undefined) {
      pending = redis.hgetall(Keys.sessions(bare)).then((raw) => {
        const sessions = new Map<string, SessionRecord>();
        for (const [resource, json] of Object.entries(raw))
          sessions.set(resource, JSON.parse(json) as SessionRecord);
        cache.set(bare, sessions);
        loading.delete(bare);
        return sessions;
      });
      loading.set(bare, pending);
    }
    return pending;
  }

  /** The account's sessions as a list, kept until they change; from the cache only. */
  const peek = (bare: string): readonly SessionRecord[] | undefined => {
    let list = lists.get(bare);
    if (list === undefined) {
      const cached = cache.get(bare);
      if (cached === undefined) return undefined;
      lists.set(bare, (list = [...cached.values()]));
    }
    return list;
  };

  return {
    async list(bare) {
      const known = peek(bare);
      if (known !== undefined) return known;
      const list = [...(await load(bare)).values()];
      lists.set(bare, list);
      return list;
    },
    peek,
    async get(bare, resource) {
      return (await load(bare)).get(resource) ?? null;
    },
    async put(bare, record) {
      const sessions = await load(bare);
      const before = sessions.get(record.resource);
      const tx = redis.multi().hset(Keys.sessions(bare), record.resource, JSON.stringify(record));
      if (before !== undefined && before.edgeId !== record.edgeId)
        tx.srem(Keys.edgeSessions(before.edgeId), before.fullJid);
      if (before?.edgeId !== record.edgeId) tx.sadd(Keys.edgeSessions(record.edgeId), record.fullJid);
      await tx.exec();
      sessions.set(record.resource, record);
      lists.delete(bare);
    },
    async remove(bare, resource) {
      const sessions = await load(bare);
      const record = sessions.get(resource) ?? null;
      if (record === null) return null;
      await redis
        .multi()
        .hdel(Keys.sessions(bare), resource)
        .srem(Keys.edgeSessions(record.edgeId), record.fullJid)
        .exec();
      sessions.delete(resource);
      lists.delete(bare);
      return record;
    },
    async getLastActivity(bare) {
      const raw = await redis.get(Keys.user(bare, 'last'));
      return raw === null ? null : (JSON.parse(raw) as LastActivity);
    },
    async setLastActivity(bare, last) {
      await redis.set(Keys.user(bare, 'last'), JSON.stringify(last));
    },
    forget(keep) {
      for (const bare of cache.keys()) {
        if (!keep(bare)) {
          cache.delete(bare);
          lists.delete(bare);
        }
      }
    },
    close() {
      cache.clear();
      lists.clear();
      return Promise.resolve();
    },
  };
}
