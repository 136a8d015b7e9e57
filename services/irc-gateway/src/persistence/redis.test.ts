import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { membershipsContract } from './memberships.contract.js';
import { createRedisMemberships } from './redis.js';

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
membershipsContract('redis', () =>
  Promise.resolve(createRedisMemberships({ redis, prefix: `t-${randomUUID()}` })),
);
