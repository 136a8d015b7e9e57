import { createLogger, type Logger, type LoggerOptions } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { buildOpsServer, type OpsServer } from './ops-server.js';
import { createShutdown, type Shutdown } from './shutdown.js';

export interface ServiceRuntimeOptions extends LoggerOptions {
  /** Node process metrics (MetricsOptions.defaultMetrics); default true. */
  readonly defaultMetrics?: boolean;
}

/** What every service process starts with, before its own parts (ARCHITECTURE.md, "Configuration, observability, operations"). */
export interface ServiceRuntime {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly shutdown: Shutdown;
  /** /healthz, /readyz and /metrics; built, not listening, and not closed by shutdown: the service orders that. */
  readonly ops: OpsServer;
  /** What /readyz answers (503 while draining whatever this says); false until the service sets it. */
  ready: boolean;
  /** Logs a Redis client's connection error as a warning: for ioredis' `error` event and the bus's `onConnectionError`. */
  readonly onConnectionError: (err: Error) => void;
}

/** The logger, metrics registry, shutdown and ops server of one service process, wired to each other. */
export function createServiceRuntime(options: ServiceRuntimeOptions): ServiceRuntime {
  const logger = createLogger(options);
  const metrics = createMetrics({
    service: options.service,
    ...(options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }),
  });
  const shutdown = createShutdown({ logger });
  let ready = false;
  const ops = buildOpsServer({ metrics, ready: () => ready, logger, shutdown });
  return {
    logger,
    metrics,
    shutdown,
    ops,
    get ready() {
      return ready;
    },
    set ready(value: boolean) {
      ready = value;
    },
    onConnectionError: (err) => logger.warn({ err }, 'redis connection error'),
  };
}
