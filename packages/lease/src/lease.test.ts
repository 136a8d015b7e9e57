import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { release, renew, tryAcquire, type LeaseKeys } from './lease.js';
import { heartbeat, removeIfSilent, silentMembers } from './scripts.js';

let server: RedisServer;
let redis: Redis;
let n = 0;
const freshKeys = (): LeaseKeys => ({ lease: `lease:t${++n}`, fence: `fence:t${n}` });

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis.quit();
  await server.dispose();
});

describe('fenced leases', () => {
  it('grants a free lease once, with a fencing token that grows with every acquisition', async () => {
    const keys = freshKeys();
    const first = await tryAcquire(redis, keys, 'a', 30_000);
    expect(first).not.toBeNull();
    expect(await redis.get(keys.lease)).toBe(`a:${first!.token}`);
    expect(await tryAcquire(redis, keys, 'b', 30_000)).toBeNull();

    expect(await release(redis, first!)).toBe(true);
    const second = await tryAcquire(redis, keys, 'b', 30_000);
    expect(second!.token).toBeGreaterThan(first!.token);
    expect(second!.value).toBe(`b:${second!.token}`);
  });

  it('renews and releases only while the lease still carries our value', async () => {
    const keys = freshKeys();
    const lease = (await tryAcquire(redis, keys, 'a', 30_000))!;
    const before = lease.validUntil;
    expect(await renew(redis, lease, 60_000)).toBe(true);
    expect(lease.validUntil).toBeGreaterThan(before);
    expect(await redis.pttl(keys.lease)).toBeGreaterThan(30_000);

    // Someone else holds it now (ours expired and was taken): neither renew nor release touches it.
    await redis.set(keys.lease, 'b:99');
    const validUntil = lease.validUntil;
    expect(await renew(redis, lease, 60_000)).toBe(false);
    expect(lease.validUntil).toBe(validUntil);
    expect(await release(redis, lease)).toBe(false);
    expect(await redis.get(keys.lease)).toBe('b:99');
  });

  it('runs its scripts again after the server forgot them (EVALSHA falls back to EVAL)', async () => {
    const keys = freshKeys();
    await tryAcquire(redis, keys, 'a', 30_000);
    await redis.script('FLUSH');
    const again = await tryAcquire(redis, freshKeys(), 'a', 30_000);
    expect(again).not.toBeNull();
  });
});

describe('heartbeats', () => {
  it('lists the live members, then the silent ones, and removes a silent member', async () => {
    const set = `members:t${++n}`;
    expect(await heartbeat.run(redis, [set], ['m1', 5000, 50_000])).toEqual(['m1']);
    expect(await heartbeat.run(redis, [set], ['m2', 5000, 50_000])).toEqual(['m1', 'm2']);
    // m0 was last heard from long ago (score 0 on the server clock).
    await redis.zadd(set, 0, 'm0');
    expect(await silentMembers.run(redis, [set], [5000])).toEqual(['m0']);
    expect(Number(await removeIfSilent.run(redis, [set], ['m1', 5000]))).toBe(0);
    expect(Number(await removeIfSilent.run(redis, [set], ['m0', 5000]))).toBe(1);
    // '' registers nobody; members silent for longer than ARGV[3] are dropped.
    await redis.zadd(set, 0, 'm0');
    expect(await heartbeat.run(redis, [set], ['', 5000, 50_000])).toEqual(['m1', 'm2']);
    expect(await redis.zscore(set, 'm0')).toBeNull();
  });
});
