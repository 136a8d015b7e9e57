export {
  NumberTakenError,
  type HelpRecord,
  type PendingVerification,
  type Registration,
  type Registrations,
  type SentRecord,
} from './registrations.js';
export { openSqliteRegistrations, type SqliteRegistrationsOptions } from './sqlite.js';
export { createRedisRegistrations, type RedisRegistrationsOptions } from './redis.js';
