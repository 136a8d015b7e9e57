import { join } from 'node:path';
import { createMemoryBus, createRedisBus } from '@switchboard/bus';
import { bootConfig, buildOpsServer, createLogger, createMetrics, createShutdown } from '@switchboard/kit';
import { createRedisStore, openEmbeddedStore } from '@switchboard/store';
import { build } from './app.js';
import { edgeConfigSchema } from './config.js';

// Config is read here and only here (ARCHITECTURE.md, "Configuration").
const config = bootConfig(edgeConfigSchema);
const logger = createLogger({ service: 'edge', level: config.logLevel });
const metrics = createMetrics({ service: 'edge' });
const bus =
  config.redisUrl === undefined
    ? createMemoryBus()
    : createRedisBus({
        url: config.redisUrl,
        onConnectionError: (err) => logger.warn({ err }, 'redis connection error'),
      });
const store =
  config.redisUrl === undefined
    ? openEmbeddedStore({ path: config.storePath ?? join(config.dataDir, 'switchboard.db') })
    : createRedisStore({ url: config.redisUrl });

const edge = build(config, { bus, store, logger, metrics });
const shutdown = createShutdown({ logger, timeoutMs: (config.limits.drainTimeoutSeconds + 10) * 1000 });
const ops = buildOpsServer({ metrics, ready: () => edge.ready(), logger, shutdown });

shutdown.register('ops-http', 'close-clients', () => ops.close());
shutdown.register('edge-drain', 'drain', () => edge.drain());
shutdown.register('edge-close', 'finish', () => edge.close());
shutdown.register('bus', 'close-clients', () => bus.close());
shutdown.register('store', 'close-clients', () => store.close());
shutdown.installSignalHandlers();

const ports = await edge.listen();
await ops.listen({ port: config.ops.port, host: config.ops.host });
logger.info({ ...ports, opsPort: config.ops.port, edgeId: edge.edgeId }, 'edge started');
