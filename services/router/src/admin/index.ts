// The admin API and the operations behind it (docs/admin-api.md), shared by the HTTP API and the CLI.
export {
  AdminError,
  createAdminOperations,
  KICK_CONDITIONS,
  type AdminErrorName,
  type AdminOperations,
  type AdminOperationsOptions,
  type KickCondition,
  type SessionView,
  type SmsQueueCounts,
  type Stats,
  type UserPage,
} from './operations.js';
export {
  ADMIN_API_PREFIX,
  adminApi,
  adminConfigSchema,
  type AdminApiOptions,
  type AdminConfig,
  type SmsMount,
} from './plugin.js';
export { createRedisView, type RedisViewOptions } from './redis-view.js';
export {
  createEmbeddedView,
  type ClusterView,
  type ComponentInfo,
  type EdgeInfo,
  type EmbeddedViewOptions,
  type Overview,
  type RouterInfo,
} from './view.js';
