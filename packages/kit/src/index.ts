export {
  ConfigError,
  DEFAULT_ENV_PREFIX,
  bootConfig,
  formatIssues,
  loadConfig,
  type BootConfigOptions,
  type ConfigIssue,
  type LoadConfigOptions,
} from './config.js';
export { createLogger, type LogBindings, type LogLevel, type Logger, type LoggerOptions } from './logger.js';
export {
  createMetrics,
  type Counter,
  type Gauge,
  type Histogram,
  type Metrics,
  type MetricsOptions,
  type Registry,
  type Summary,
} from './metrics.js';
export { buildOpsServer, type OpsServer, type OpsServerOptions } from './ops-server.js';
export {
  SHUTDOWN_PHASES,
  ShutdownTimeoutError,
  createShutdown,
  type Shutdown,
  type ShutdownFailure,
  type ShutdownHook,
  type ShutdownOptions,
  type ShutdownPhase,
  type ShutdownReport,
  type SignalTarget,
} from './shutdown.js';
// Services write their config schemas with the same zod (v4 API) that loadConfig walks.
export { z } from 'zod/v4';
export { capYoungGeneration } from './young-generation.js';
export { createServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from './service-runtime.js';
export { guardAdminScope, type AdminScopeOptions } from './admin-scope.js';
