import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { createRedisMucStorage } from './redis.js';
import { mucStorageContract } from './storage.contract.js';

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

// A fresh prefix per test keeps tests apart without FLUSHALL.
mucStorageContract('redis', () =>
  Promise.resolve(createRedisMucStorage({ redis, prefix: `t-${randomUUID()}` })),
);
