import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { BusFencedError } from './bus.js';
import { createRedisBus } from './redis.js';
import { busContract } from './bus.contract.js';
import type { Bus } from './bus.js';

let server: RedisServer;
let harnesses = 0;

beforeAll(async () => {
  server = await startRedisServer({ appendOnly: true });
});

afterAll(async () => {
  await server.dispose();
});

busContract(
  'redis',
  () => {
    // A fresh key prefix per test keeps tests apart on one server without FLUSHALL.
    const keyPrefix = `test${++harnesses}:`;
    const opened: Bus[] = [];
    return Promise.resolve({
      open(options = {}) {
        const bus = createRedisBus({
          url: server.url,
          keyPrefix,
          ...options,
          redis: { retryStrategy: () => 20 },
          onConnectionError: () => undefined,
        });
        opened.push(bus);
        return Promise.resolve(bus);
      },
      async restart() {
        await server.stop();
        await server.start();
      },
      async dispose() {
        await Promise.all(opened.map((bus) => bus.close()));
      },
    });
  },
  { durable: true },
);

describe('Redis bus: fenced publish', () => {
  it('appends when every fence holds and refuses the whole batch, appending nothing, when one does not', async () => {
    const bus = createRedisBus({ url: server.url, keyPrefix: 'fenced:' });
    const redis = new Redis(server.url);
    try {
      await redis.set('fenced-test:lease:{0}', 'router-a:7');
      await redis.set('fenced-test:lease:{1}', 'router-a:3');
      const fences = [
        { key: 'fenced-test:lease:{0}', value: 'router-a:7' },
        { key: 'fenced-test:lease:{1}', value: 'router-a:3' },
      ];
      const ids = await bus.publishBatch(
        [
          { stream: 'deliver:{e1}', payload: 'one' },
          { stream: 'route:{2}', payload: 'two' },
        ],
        { fences },
      );
      expect(ids).toHaveLength(2);
      expect(await bus.length('deliver:{e1}')).toBe(1);
      expect(await bus.length('route:{2}')).toBe(1);

      // Another router took partition 1 over with a newer token: the old owner's effects are refused.
      await redis.set('fenced-test:lease:{1}', 'router-b:4');
      await expect(
        bus.publishBatch(
          [
            { stream: 'deliver:{e1}', payload: 'three' },
            { stream: 'route:{2}', payload: 'four' },
          ],
          { fences },
        ),
      ).rejects.toBeInstanceOf(BusFencedError);
      expect(await bus.length('deliver:{e1}')).toBe(1);
      expect(await bus.length('route:{2}')).toBe(1);

      // An expired lease (key gone) does not hold either.
      await redis.del('fenced-test:lease:{0}');
      await expect(
        bus.publishBatch([{ stream: 'deliver:{e1}', payload: 'five' }], { fences: [fences[0]!] }),
      ).rejects.toMatchObject({ name: 'BusFencedError', key: 'fenced-test:lease:{0}' });
    } finally {
      redis.disconnect();
      await bus.close();
    }
  });
});
