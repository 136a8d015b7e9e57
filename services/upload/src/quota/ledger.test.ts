import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { createMemoryQuotaLedger, retryTime, type QuotaLedger, type QuotaLimits } from './ledger.js';
import { createRedisQuotaLedger } from './redis.js';

const LIMITS: QuotaLimits = { bytes: 100, windowMs: 60_000 };

function ledgerContract(name: string, open: () => QuotaLedger): void {
  describe(`QuotaLedger: ${name}`, () => {
    it('grants up to the limit within the window, then refuses with when to retry', async () => {
      const ledger = open();
      expect(await ledger.reserve('a@x', 's1', 60, 1_000)).toEqual({ ok: true });
      expect(await ledger.reserve('a@x', 's2', 40, 2_000)).toEqual({ ok: true });
      expect(await ledger.reserve('a@x', 's3', 1, 3_000)).toEqual({
        ok: false,
        usedBytes: 100,
        retryAt: 61_000,
      });
      // Another user has their own quota.
      expect(await ledger.reserve('b@x', 's4', 100, 3_000)).toEqual({ ok: true });
    });

    it('forgets grants once they leave the rolling window', async () => {
      const ledger = open();
      await ledger.reserve('c@x', 's1', 100, 1_000);
      expect((await ledger.reserve('c@x', 's2', 50, 60_999)).ok).toBe(false);
      expect(await ledger.reserve('c@x', 's3', 50, 61_001)).toEqual({ ok: true });
    });

    it('never grants a request larger than the whole quota', async () => {
      const ledger = open();
      expect(await ledger.reserve('d@x', 's1', 101, 0)).toEqual({ ok: false, usedBytes: 0, retryAt: null });
    });
  });
}

ledgerContract('memory', () => createMemoryQuotaLedger(LIMITS));

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis?.quit();
  await server?.dispose();
});
ledgerContract('redis', () =>
  createRedisQuotaLedger({ redis, limits: LIMITS, keyPrefix: `quota-test:${Math.random()}:` }),
);

describe('retryTime', () => {
  it('is when enough of the oldest grants have expired', () => {
    const grants = [
      { at: 0, bytes: 50 },
      { at: 10, bytes: 30 },
      { at: 20, bytes: 20 },
    ];
    expect(retryTime(grants, 40, LIMITS)).toBe(0 + 60_000);
    expect(retryTime(grants, 60, LIMITS)).toBe(10 + 60_000);
    expect(retryTime(grants, 100, LIMITS)).toBe(20 + 60_000);
  });
});
