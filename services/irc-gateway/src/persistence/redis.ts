import type { Redis } from 'ioredis';
import { channelKey, type Membership, type Memberships, type ServerSettings } from './memberships.js';

/**
 * The cluster driver. A user's keys carry the `{bare JID}` hash tag
 * (ARCHITECTURE.md, "Delivery guarantees"); a set lists the users that have
 * memberships so a restarted gateway finds them without SCAN.
 */
export function createRedisMemberships(options: {
  readonly redis: Redis;
  readonly prefix?: string;
}): Memberships {
  const { redis } = options;
  const prefix = options.prefix ?? 'irc';
  const usersKey = `${prefix}:users`;
  const channelsKey = (user: string): string => `${prefix}:{${user}}:channels`;
  const settingsKey = (user: string): string => `${prefix}:{${user}}:settings`;
  const field = (server: string, channel: string): string => `${server}\u0000${channelKey(channel)}`;
  return {
    async all() {
      const users = await redis.smembers(usersKey);
      const pipeline = redis.pipeline();
      for (const user of users) pipeline.hvals(channelsKey(user));
      const results = (await pipeline.exec()) ?? [];
      const memberships: Membership[] = [];
      for (const [error, values] of results) {
        if (error !== null) throw error;
        for (const value of values as string[]) memberships.push(JSON.parse(value) as Membership);
      }
      return memberships;
    },
    async put(m) {
      await redis
        .multi()
        .hset(channelsKey(m.user), field(m.server, m.channel), JSON.stringify(m))
        .sadd(usersKey, m.user)
        .exec();
    },
    async remove(user, server, channel) {
      await redis.hdel(channelsKey(user), field(server, channel));
      if ((await redis.hlen(channelsKey(user))) === 0) await redis.srem(usersKey, user);
    },
    async settings(user, server) {
      const value = await redis.hget(settingsKey(user), server);
      return value === null ? null : (JSON.parse(value) as ServerSettings);
    },
    async putSettings(user, server, settings) {
      await redis.hset(settingsKey(user), server, JSON.stringify(settings));
    },
    close: () => Promise.resolve(),
  };
}
