import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { createMemoryLedger, type SendLedger } from './ledger.js';
import { createRedisLedger } from './ledger-redis.js';
import { openSqliteLedger } from './ledger-sqlite.js';

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

const drivers: [string, () => SendLedger][] = [
  ['memory', () => createMemoryLedger()],
  ['sqlite', () => openSqliteLedger({ path: ':memory:' })],
  ['redis', () => createRedisLedger({ redis, prefix: `t${Math.random().toString(36).slice(2)}` })],
];

describe.each(drivers)('send ledger (%s)', (_name, open) => {
  it('remembers accepted parts by index', async () => {
    const ledger = open();
    expect(await ledger.accepted('job')).toEqual(new Map());
    await ledger.accept('job', 1, 3, 'B');
    await ledger.accept('job', 0, 3, 'A');
    expect(await ledger.accepted('job')).toEqual(
      new Map([
        [0, 'A'],
        [1, 'B'],
      ]),
    );
    expect(await ledger.accepted('other')).toEqual(new Map());
    await ledger.close();
  });

  it('settles a message delivered once all parts are, and only once', async () => {
    const ledger = open();
    await ledger.accept('m', 0, 2, 'P0');
    await ledger.accept('m', 1, 2, 'P1');
    expect(await ledger.settle(['P0'], 'delivered')).toEqual({ kind: 'pending', providerId: 'P0' });
    expect(await ledger.settle(['P0'], 'delivered')).toEqual({ kind: 'pending', providerId: 'P0' });
    expect(await ledger.settle(['p1'], 'delivered')).toEqual({
      kind: 'final',
      providerId: 'P1',
      status: 'delivered',
    });
    expect(await ledger.settle(['P1'], 'delivered')).toEqual({ kind: 'settled', providerId: 'P1' });
    await ledger.close();
  });

  it('settles a message failed at its first failed part', async () => {
    const ledger = open();
    await ledger.accept('f', 0, 2, 'F0');
    await ledger.accept('f', 1, 2, 'F1');
    expect(await ledger.settle(['F1'], 'undeliverable')).toEqual({
      kind: 'final',
      providerId: 'F1',
      status: 'undeliverable',
    });
    expect(await ledger.settle(['F0'], 'delivered')).toEqual({ kind: 'settled', providerId: 'F0' });
    await ledger.close();
  });

  it('finds a part by any of its spellings, ignoring case and leading zeros, and knows no others', async () => {
    const ledger = open();
    await ledger.accept('h', 0, 1, '00AB12');
    expect(await ledger.settle(['nope', 'ab12'], 'delivered')).toEqual({
      kind: 'final',
      providerId: '00AB12',
      status: 'delivered',
    });
    expect(await ledger.settle(['nope'], 'delivered')).toEqual({ kind: 'unknown' });
    await ledger.close();
  });
});
