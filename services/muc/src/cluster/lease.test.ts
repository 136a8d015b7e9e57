import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { acquireLease } from './lease.js';

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

describe('the service lease (one active MUC instance)', () => {
  it('makes a standby wait until the holder releases, then hands it over', async () => {
    const key = 'muc:lease:{standby.example}';
    const first = await acquireLease({ redis, key, ttlMs: 600, onLost: () => undefined });
    let secondHeld = false;
    const second = acquireLease({ redis, key, ttlMs: 600, onLost: () => undefined }).then((lease) => {
      secondHeld = true;
      return lease;
    });
    expect(secondHeld).toBe(false);
    expect(await redis.get(key)).toBe(first.token);
    await first.release();
    const lease = await second;
    expect(await redis.get(key)).toBe(lease.token);
    await lease.release();
    expect(await redis.get(key)).toBeNull();
  });

  it('tells the holder when another took the lease', async () => {
    const key = 'muc:lease:{stolen.example}';
    let lost!: () => void;
    const lostSignal = new Promise<void>((resolve) => (lost = resolve));
    const lease = await acquireLease({ redis, key, ttlMs: 300, onLost: () => lost() });
    await redis.set(key, 'someone-else');
    await lostSignal;
    await lease.release();
    // Releasing a lease we lost leaves the new holder alone.
    expect(await redis.get(key)).toBe('someone-else');
  });

  it('stops waiting when aborted', async () => {
    const key = 'muc:lease:{aborted.example}';
    const holder = await acquireLease({ redis, key, ttlMs: 5000, onLost: () => undefined });
    const controller = new AbortController();
    const waiting = acquireLease({
      redis,
      key,
      ttlMs: 5000,
      onLost: () => undefined,
      signal: controller.signal,
    });
    controller.abort();
    await expect(waiting).rejects.toThrow();
    await holder.release();
  });
});
