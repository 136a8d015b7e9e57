import { createRedisBus } from '@switchboard/bus';
import { Keys, partitionOf } from '@switchboard/protocol';
import { createRedisStore } from '@switchboard/store';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisSessionRegistry } from './app.js';
import { Harness, PARTITIONS } from './test/harness.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});

afterAll(async () => {
  await redis.quit();
  await server.dispose();
});

describe('two routers on Redis (bus, store and sessions)', () => {
  it('route a subscription handshake and messages across partitions, and clean up sessions at the end', async () => {
    const romeoP = partitionOf('romeo@example.net', PARTITIONS);
    const all = Array.from({ length: PARTITIONS }, (_, p) => p);
    const h = await Harness.start({
      routers: [all.filter((p) => p !== romeoP), [romeoP]],
      backend: {
        bus: createRedisBus({ url: server.url }),
        store: createRedisStore({ url: server.url }),
        registry: () => createRedisSessionRegistry(redis),
      },
    });
    try {
      const romeo = await h.login('romeo@example.net/orchard');
      const juliet = await h.login('juliet@example.com/balcony');
      for (const c of [romeo, juliet]) {
        await c.send('<presence/>');
        c.received();
      }
      expect(await redis.hkeys(Keys.sessions('romeo@example.net'))).toEqual(['orchard']);
      expect(await redis.smembers(Keys.edgeSessions('edge1'))).toEqual(
        expect.arrayContaining(['romeo@example.net/orchard', 'juliet@example.com/balcony']),
      );

      await romeo.send("<presence to='juliet@example.com' type='subscribe'/>");
      expect(juliet.received().map((el) => el.attrs['type'])).toEqual(['subscribe']);
      await juliet.send("<presence to='romeo@example.net' type='subscribed'/>");
      expect(romeo.received().map((el) => [el.attrs['from'], el.attrs['type'] ?? 'available'])).toEqual([
        ['juliet@example.com', 'subscribed'],
        ['juliet@example.com/balcony', 'available'],
      ]);

      for (let i = 1; i <= 3; i++) {
        await juliet.send(`<message to='romeo@example.net' type='chat'><body>${i}</body></message>`, {
          settle: false,
        });
      }
      await h.settle();
      expect(romeo.received().map((el) => el.getChildText('body'))).toEqual(['1', '2', '3']);

      await juliet.logout();
      expect(romeo.received().map((el) => el.attrs['type'])).toEqual(['unavailable']);
      expect(await redis.hkeys(Keys.sessions('juliet@example.com'))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
