import { Keys } from '@switchboard/protocol';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemorySessionRegistry } from './memory.js';
import { createRedisSessionRegistry } from './redis.js';
import { newSession, type SessionRegistry } from './registry.js';

let server: RedisServer;
let redis: Redis;
let n = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});

afterAll(async () => {
  await redis.quit();
  await server.dispose();
});

const drivers: [string, () => SessionRegistry][] = [
  ['memory', () => createMemorySessionRegistry()],
  ['redis', () => createRedisSessionRegistry(redis)],
];

describe.each(drivers)('session registry (%s)', (_name, make) => {
  it('puts, lists, replaces and removes the sessions of one account', async () => {
    const registry = make();
    const user = `juliet${++n}@example.com`;
    expect(await registry.list(user)).toEqual([]);
    const balcony = newSession(`${user}/balcony`, 'balcony', 'edge1', 's1', 1);
    const chamber = newSession(`${user}/chamber`, 'chamber', 'edge2', 's2', 2);
    await registry.put(user, balcony);
    await registry.put(user, chamber);
    expect((await registry.list(user)).map((s) => s.resource).sort()).toEqual(['balcony', 'chamber']);
    const available = { ...balcony, available: true, priority: 5, directedTo: ['romeo@example.net'] };
    await registry.put(user, available);
    expect(await registry.get(user, 'balcony')).toEqual(available);
    expect(await registry.remove(user, 'chamber')).toEqual(chamber);
    expect(await registry.remove(user, 'chamber')).toBeNull();
    expect(await registry.list(user)).toEqual([available]);
  });

  it('remembers the last activity of an account', async () => {
    const registry = make();
    const user = `romeo${++n}@example.net`;
    expect(await registry.getLastActivity(user)).toBeNull();
    await registry.setLastActivity(user, { ts: 42, status: 'gone' });
    expect(await registry.getLastActivity(user)).toEqual({ ts: 42, status: 'gone' });
  });
});

describe('redis session registry', () => {
  it('keeps sessions in the user hash and full JIDs in the edge set, readable by a registry without cache', async () => {
    const writer = createRedisSessionRegistry(redis);
    const user = `nurse${++n}@example.com`;
    await writer.put(user, newSession(`${user}/kitchen`, 'kitchen', 'edge-a', 's1', 1));
    expect(await redis.smembers(Keys.edgeSessions('edge-a'))).toContain(`${user}/kitchen`);
    // The same resource moves to another edge (conflict): the old edge forgets it.
    await writer.put(user, newSession(`${user}/kitchen`, 'kitchen', 'edge-b', 's2', 2));
    expect(await redis.smembers(Keys.edgeSessions('edge-a'))).not.toContain(`${user}/kitchen`);
    expect(await redis.smembers(Keys.edgeSessions('edge-b'))).toContain(`${user}/kitchen`);
    const reader = createRedisSessionRegistry(redis);
    expect((await reader.list(user)).map((s) => [s.resource, s.sessionId])).toEqual([['kitchen', 's2']]);
    await reader.remove(user, 'kitchen');
    expect(await redis.hlen(Keys.sessions(user))).toBe(0);
    expect(await redis.smembers(Keys.edgeSessions('edge-b'))).not.toContain(`${user}/kitchen`);
  });

  it('serves reads from its cache until told to forget a user whose partition moved', async () => {
    const registry = createRedisSessionRegistry(redis);
    const user = `benvolio${++n}@example.net`;
    await registry.put(user, newSession(`${user}/street`, 'street', 'edge1', 's1', 1));
    // Another router took the partition over and the session ended there.
    await redis.del(Keys.sessions(user));
    expect(await registry.list(user)).toHaveLength(1);
    registry.forget((bare) => bare !== user);
    expect(await registry.list(user)).toEqual([]);
  });
});
