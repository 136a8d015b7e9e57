import type { Redis } from 'ioredis';
import { DEFAULT_LEDGER_TTL_MS, partKey, type SendLedger, type Settlement } from './ledger.js';

export interface RedisLedgerOptions {
  readonly redis: Redis;
  /** Key prefix; default `sms`. */
  readonly prefix?: string;
  readonly ttlMs?: number;
}

// One part's report against the job's hash, atomically: concurrent receipts for sibling parts count once each.
const SETTLE = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {'unknown', ''} end
local pid = redis.call('HGET', key, 'p:' .. ARGV[1]) or ''
if redis.call('HEXISTS', key, 'settled') == 1 then return {'settled', pid} end
if ARGV[2] ~= 'delivered' then
  redis.call('HSET', key, 'settled', '1')
  return {'final', pid}
end
redis.call('HSET', key, 'd:' .. ARGV[1], '1')
local total = tonumber(redis.call('HGET', key, 'total') or '1')
local n = 0
for i = 0, total - 1 do
  if redis.call('HEXISTS', key, 'd:' .. i) == 1 then n = n + 1 end
end
if n >= total then
  redis.call('HSET', key, 'settled', '1')
  return {'final', pid}
end
return {'pending', pid}
`;

/**
 * The cluster ledger. A job's parts live in one hash (`{prefix}:ledger:{jobId}`:
 * `total`, `p:<index>` → provider id, `d:<index>` once delivered, `settled`);
 * each provider id points back at its job and index. Keys carry hash tags and
 * no command spans two of them, so this runs on Redis Cluster too.
 */
export function createRedisLedger(options: RedisLedgerOptions): SendLedger {
  const { redis } = options;
  const prefix = options.prefix ?? 'sms';
  const ttlMs = options.ttlMs ?? DEFAULT_LEDGER_TTL_MS;
  const jobKey = (jobId: string): string => `${prefix}:ledger:{${jobId}}`;
  const partIndexKey = (providerId: string): string => `${prefix}:ledger-part:{${partKey(providerId)}}`;

  return {
    async accepted(jobId) {
      const hash = await redis.hgetall(jobKey(jobId));
      const parts = new Map<number, string>();
      for (const [field, value] of Object.entries(hash)) {
        if (field.startsWith('p:')) parts.set(Number(field.slice(2)), value);
      }
      return parts;
    },
    async accept(jobId, index, total, providerId) {
      // The way back first: a report racing this write finds its job once the marker exists.
      await redis.set(partIndexKey(providerId), `${index}\n${jobId}`, 'PX', ttlMs);
      await redis
        .multi()
        .hset(jobKey(jobId), 'total', String(total), `p:${index}`, providerId)
        .pexpire(jobKey(jobId), ttlMs)
        .exec();
    },
    async settle(candidates, status) {
      for (const candidate of candidates) {
        const ref = await redis.get(partIndexKey(candidate));
        if (ref === null) continue;
        const newline = ref.indexOf('\n');
        const index = ref.slice(0, newline);
        const jobId = ref.slice(newline + 1);
        const [kind, providerId] = (await redis.eval(SETTLE, 1, jobKey(jobId), index, status)) as [
          string,
          string,
        ];
        const id = providerId === '' ? candidate : providerId;
        if (kind === 'unknown') continue;
        if (kind === 'final') return { kind, providerId: id, status } satisfies Settlement;
        return { kind: kind === 'pending' ? 'pending' : 'settled', providerId: id };
      }
      return { kind: 'unknown' };
    },
    close: () => Promise.resolve(),
  };
}
