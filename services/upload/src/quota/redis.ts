import type { Redis } from 'ioredis';
import { retryTime, type QuotaLedger, type QuotaLimits } from './ledger.js';

export interface RedisQuotaLedgerOptions {
  readonly redis: Redis;
  readonly limits: QuotaLimits;
  readonly keyPrefix?: string;
}

// One sorted set per user, member `<slotId>:<bytes>` scored by grant time. Expire, sum and grant
// in one script, so replicas serving the same user cannot both squeeze under the limit.
const RESERVE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local grants = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #grants, 2 do
  used = used + tonumber(string.match(grants[i], ':(%d+)$'))
end
if used + tonumber(ARGV[4]) > tonumber(ARGV[3]) then
  return grants
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5] .. ':' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return false
`;

/** The cluster's ledger: every replica reserves against the same Redis keys (`{bare JID}` hash-tagged). */
export function createRedisQuotaLedger(options: RedisQuotaLedgerOptions): QuotaLedger {
  const { redis, limits } = options;
  const prefix = options.keyPrefix ?? 'upload:quota:';
  return {
    async reserve(user, slotId, bytes, now) {
      const refused = (await redis.eval(
        RESERVE,
        1,
        `${prefix}{${user}}`,
        String(now),
        String(limits.windowMs),
        String(limits.bytes),
        String(bytes),
        slotId,
      )) as string[] | null;
      if (refused === null) return { ok: true };
      const grants: { at: number; bytes: number }[] = [];
      for (let i = 0; i + 1 < refused.length; i += 2) {
        grants.push({
          at: Number(refused[i + 1]),
          bytes: Number(refused[i]!.slice(refused[i]!.lastIndexOf(':') + 1)),
        });
      }
      const usedBytes = grants.reduce((sum, g) => sum + g.bytes, 0);
      return { ok: false, usedBytes, retryAt: retryTime(grants, bytes, limits) };
    },
    close: () => Promise.resolve(),
  };
}
