import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, userKeys } from './redis.js';
import { deriveCredentials } from './scram.js';
import { storeContract } from './store.contract.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer({ appendOnly: true });
});
afterAll(async () => {
  await server.dispose();
});

storeContract('redis', (limits) => Promise.resolve(createRedisStore({ ...limits, url: server.url })));

describe('redis store', () => {
  it("keeps every key of a user in that user's hash slot", async () => {
    const client = new Redis(server.url);
    const store = createRedisStore({ client });
    try {
      const user = 'slot-check@example.com';
      await store.accounts.create(user, await deriveCredentials('pencil', 1));
      await store.rosters.update(user, 'romeo@example.net', () => ({
        jid: 'romeo@example.net',
        subscription: 'none',
        groups: [],
      }));
      await store.rosters.update(user, 'romeo@example.net', () => null);
      await store.offline.push(user, { id: 'e1', xml: '<message/>', ts: 1 });
      await store.privateXml.set(user, 'a a', '<a/>');
      await store.vcards.set(user, '<vCard/>');
      await store.blocklists.add(user, ['iago@shakespeare.lit']);
      const keys = await client.keys(`*${user}*`);
      expect(keys.sort()).toEqual(
        Object.values(userKeys(user))
          .filter((k) => !k.endsWith(':roster'))
          .sort(),
      );
      // Redis Cluster hashes only the part between the first '{' and the next '}' (cluster spec, "hash tags").
      const tagOf = (key: string): string => {
        const open = key.indexOf('{');
        return key.slice(open + 1, key.indexOf('}', open + 1));
      };
      expect(new Set(keys.map(tagOf))).toEqual(new Set([user]));
    } finally {
      await store.close();
      // A caller-owned client stays open after close().
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
    }
  });

  it('keeps accounts, rosters and offline messages across a redis-server restart (AOF)', async () => {
    const store = createRedisStore({ url: server.url });
    const user = 'restart@example.com';
    try {
      const account = await store.accounts.create(user, await deriveCredentials('pencil', 1));
      const update = await store.rosters.update(user, 'romeo@example.net', () => ({
        jid: 'romeo@example.net',
        subscription: 'both',
        groups: ['Friends'],
      }));
      await store.offline.push(user, { id: 'e1', xml: '<message/>', ts: 1 });

      // SIGKILL, as a crash: no flush on the way down (SIGTERM would flush), so only the AOF
      // written before each reply (appendonly yes, appendfsync always) brings the data back.
      await server.kill();
      await server.start();

      expect(await store.accounts.get(user)).toEqual(account);
      expect(await store.accounts.list({ domain: 'example.com', prefix: 'restart@' })).toEqual([user]);
      expect(await store.rosters.get(user)).toEqual({ version: update.version, items: [update.item] });
      expect(await store.offline.list(user)).toEqual([{ id: 'e1', xml: '<message/>', ts: 1 }]);
      // Scripts are reloaded after the restart emptied the script cache.
      expect(await store.offline.push(user, { id: 'e2', xml: '<message/>', ts: 2 })).toBe(true);
    } finally {
      await store.close();
    }
  });
});
