import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
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
