import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { release, renew, tryAcquire, type LeaseKeys } from './lease.js';
import { heartbeatShare, renewHeld } from './members.js';
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

describe('membership and renewal shared by routers and s2s nodes', () => {
  it('gives each live member its share, and a leaving member none and no place among the live', async () => {
    const key = `members:t${++n}`;
    const opts = { leaving: false, ttlMs: 30_000, partitions: 8 };
    await heartbeatShare(redis, key, 'b', opts);
    const a = await heartbeatShare(redis, key, 'a', opts);
    const b = await heartbeatShare(redis, key, 'b', opts);
    expect(a.live).toEqual(['a', 'b']);
    expect([...a.target, ...b.target].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(a.target.length).toBe(4);
    const leaving = await heartbeatShare(redis, key, 'a', { ...opts, leaving: true });
    expect(leaving).toEqual({ live: ['b'], target: [] });
  });

  it('renews the leases still ours and drops one taken meanwhile, saying so', async () => {
    const kept = (await tryAcquire(redis, freshKeys(), 'me', 30_000))!;
    const taken = (await tryAcquire(redis, freshKeys(), 'me', 30_000))!;
    await redis.set(taken.keys.lease, 'other:99');
    const held = new Map([
      [1, kept],
      [2, taken],
    ]);
    const warnings: string[] = [];
    await renewHeld(redis, held, 30_000, { warn: (_details, message) => warnings.push(message) });
    expect([...held.keys()]).toEqual([1]);
    expect(warnings).toEqual(['partition lease lost']);
  });

  it('keeps a lease it cannot renew (Redis unreachable) only until it may have expired', async () => {
    const lease = (await tryAcquire(redis, freshKeys(), 'me', 30_000))!;
    const down = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    const held = new Map([[1, lease]]);
    const warnings: string[] = [];
    const log = { warn: (_details: Record<string, unknown>, message: string) => warnings.push(message) };
    await renewHeld(down, held, 30_000, log);
    expect(held.has(1)).toBe(true);
    lease.validUntil = 0;
    await renewHeld(down, held, 30_000, log);
    expect(held.has(1)).toBe(false);
    expect(warnings).toEqual([
      'partition lease renewal failed',
      'partition lease renewal failed',
      'partition lease lost',
    ]);
    down.disconnect();
  });
});
