export {
  createMemoryQuotaLedger,
  retryTime,
  type QuotaLedger,
  type QuotaLimits,
  type Reservation,
} from './ledger.js';
export { createRedisQuotaLedger, type RedisQuotaLedgerOptions } from './redis.js';
