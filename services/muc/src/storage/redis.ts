import type { Redis } from 'ioredis';
import type { ArchivedMessage, MucStorage, RoomRecord } from './storage.js';

export interface RedisMucStorageOptions {
  readonly redis: Redis;
  /** Key prefix; default `muc`. */
  readonly prefix?: string;
}

// Appends once per id (redelivered stanzas keep their stanza-id): sequence, index and data in one step.
const APPEND = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return seq`;

const SCAN_BATCH = 200;

/**
 * Every key of one room carries the room's hash tag (ARCHITECTURE.md,
 * "Delivery guarantees"), so the archive script runs on Redis Cluster; the
 * room index is one set of its own.
 */
export function createRedisMucStorage(options: RedisMucStorageOptions): MucStorage {
  const redis = options.redis;
  const prefix = options.prefix ?? 'muc';
  const indexKey = `${prefix}:rooms`;
  const recordKey = (room: string): string => `${prefix}:room:{${room}}:record`;
  const orderKey = (room: string): string => `${prefix}:room:{${room}}:archive`;
  const seqKey = (room: string): string => `${prefix}:room:{${room}}:archive-seq`;
  const dataKey = (room: string): string => `${prefix}:room:{${room}}:archive-data`;

  async function getRoom(jid: string): Promise<RoomRecord | null> {
    const raw = await redis.get(recordKey(jid));
    return raw === null ? null : (JSON.parse(raw) as RoomRecord);
  }

  return {
    getRoom,
    async putRoom(record) {
      await redis.set(recordKey(record.jid), JSON.stringify(record));
      await redis.sadd(indexKey, record.jid);
    },
    async deleteRoom(jid) {
      await redis.srem(indexKey, jid);
      await redis.del(recordKey(jid), orderKey(jid), seqKey(jid), dataKey(jid));
    },
    async listRooms() {
      const jids = (await redis.smembers(indexKey)).sort();
      const records = await Promise.all(jids.map(getRoom));
      return records.filter((r): r is RoomRecord => r !== null);
    },
    async appendMessage(room, message) {
      await redis.eval(
        APPEND,
        3,
        orderKey(room),
        seqKey(room),
        dataKey(room),
        message.id,
        JSON.stringify(message),
      );
    },
    async hasMessage(room, id) {
      return (await redis.zscore(orderKey(room), id)) !== null;
    },
    async queryArchive(room, query) {
      let low = '-inf';
      let high = '+inf';
      if (query.after !== undefined) {
        const seq = await redis.zscore(orderKey(room), query.after);
        low = seq === null ? '+inf' : `(${seq}`;
      }
      if (query.before !== undefined && query.before !== '') {
        const seq = await redis.zscore(orderKey(room), query.before);
        high = seq === null ? '-inf' : `(${seq}`;
      }
      const backwards = query.before !== undefined;
      const found: ArchivedMessage[] = [];
      for (let offset = 0; found.length <= query.max; offset += SCAN_BATCH) {
        const ids = backwards
          ? await redis.zrevrangebyscore(orderKey(room), high, low, 'LIMIT', offset, SCAN_BATCH)
          : await redis.zrangebyscore(orderKey(room), low, high, 'LIMIT', offset, SCAN_BATCH);
        if (ids.length === 0) break;
        const raws = await redis.hmget(dataKey(room), ...ids);
        for (const raw of raws) {
          if (raw === null) continue;
          const message = JSON.parse(raw) as ArchivedMessage;
          if (query.start !== undefined && message.ts < query.start) continue;
          if (query.end !== undefined && message.ts > query.end) continue;
          if (
            query.with !== undefined &&
            query.with !== message.realJid &&
            query.with !== `${room}/${message.nick}`
          )
            continue;
          found.push(message);
          if (found.length > query.max) break;
        }
        if (ids.length < SCAN_BATCH) break;
      }
      const complete = found.length <= query.max;
      const page = found.slice(0, query.max);
      if (backwards) page.reverse();
      return { messages: page, complete };
    },
    close: () => Promise.resolve(),
  };
}
