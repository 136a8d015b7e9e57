import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { registrationsContract } from './registrations.contract.js';
import { createRedisRegistrations } from './redis.js';
import type { Registration } from './registrations.js';

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
registrationsContract('redis', () =>
  Promise.resolve(createRedisRegistrations({ redis, prefix: `t-${randomUUID()}` })),
);

describe('redis registrations: the JID index', () => {
  const registration = (jid: string, number: string): Registration => ({ jid, number });

  it('lists registrations written before the index existed, and keeps listing them after', async () => {
    const prefix = `t-${randomUUID()}`;
    // What an older gateway wrote: the user key and the number's owner, no index.
    const old = registration('old@localhost', '+15550000001');
    await redis.set(`${prefix}:user:{${old.jid}}:registration`, JSON.stringify(old));
    await redis.set(`${prefix}:number:{${old.number}}:owner`, old.jid);
    const regs = createRedisRegistrations({ redis, prefix });
    await regs.put(registration('new@localhost', '+15550000002'));
    expect((await regs.list()).map((r) => r.jid).sort()).toEqual(['new@localhost', 'old@localhost']);
    expect((await redis.smembers(`${prefix}:registered`)).sort()).toEqual(['new@localhost', 'old@localhost']);
    await regs.remove('new@localhost');
    expect((await regs.list()).map((r) => r.jid)).toEqual(['old@localhost']);
  });

  it('drops an index entry whose registration is gone (a put that crashed half-way)', async () => {
    const prefix = `t-${randomUUID()}`;
    const regs = createRedisRegistrations({ redis, prefix });
    await regs.put(registration('kept@localhost', '+15550000003'));
    await redis.sadd(`${prefix}:registered`, 'ghost@localhost');
    expect((await regs.list()).map((r) => r.jid)).toEqual(['kept@localhost']);
    expect(await redis.smembers(`${prefix}:registered`)).toEqual(['kept@localhost']);
  });
});
