import type { Redis } from 'ioredis';
import { newestFirst, type RoomMembership, type RoomMemberships } from './memberships.js';

export interface RedisRoomMembershipsOptions {
  readonly redis: Redis;
  /** Key prefix; default `sms`. */
  readonly prefix?: string;
}

/**
 * The cluster driver: one hash per phone (room → membership JSON), hash-tagged
 * by the phone so a phone's rooms live on one slot, and a set of phones with
 * rooms for rejoining after a restart.
 */
export function createRedisRoomMemberships(options: RedisRoomMembershipsOptions): RoomMemberships {
  const { redis } = options;
  const prefix = options.prefix ?? 'sms';
  const phoneKey = (phone: string): string => `${prefix}:rooms:{${phone}}`;
  const phonesKey = `${prefix}:rooms:phones`;
  const lastKey = (phone: string): string => `${prefix}:rooms:{${phone}}:last-number`;
  const parse = (raw: string): RoomMembership => JSON.parse(raw) as RoomMembership;

  async function byPhone(phone: string): Promise<RoomMembership[]> {
    return Object.values(await redis.hgetall(phoneKey(phone)))
      .map(parse)
      .sort(newestFirst);
  }

  return {
    async put(membership) {
      await redis.hset(phoneKey(membership.phone), membership.room, JSON.stringify(membership));
      await redis.sadd(phonesKey, membership.phone);
    },
    async get(phone, room) {
      const raw = await redis.hget(phoneKey(phone), room);
      return raw === null ? null : parse(raw);
    },
    byPhone,
    async all() {
      const phones = await redis.smembers(phonesKey);
      return (await Promise.all(phones.map(byPhone))).flat();
    },
    async remove(phone, room) {
      const removed = (await redis.hdel(phoneKey(phone), room)) > 0;
      // The set may name a phone without rooms for a moment; all() then reads an empty hash.
      if ((await redis.hlen(phoneKey(phone))) === 0) await redis.srem(phonesKey, phone);
      return removed;
    },
    async noteConversation(phone, via) {
      await redis.set(lastKey(phone), via);
    },
    lastNumber: (phone) => redis.get(lastKey(phone)),
    close: () => Promise.resolve(),
  };
}
