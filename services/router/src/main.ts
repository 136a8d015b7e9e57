import { hostname } from 'node:os';
import { join } from 'node:path';
import { createMemoryBus, createRedisBus } from '@switchboard/bus';
import { bootConfig, buildOpsServer, createLogger, createMetrics, createShutdown } from '@switchboard/kit';
import { createRedisStore, openEmbeddedStore } from '@switchboard/store';
import { Redis } from 'ioredis';
import { build, createMemorySessionRegistry, createRedisSessionRegistry } from './app.js';
import { routerConfigSchema, toRouterConfig } from './config.js';

// Config is read here and only here (ARCHITECTURE.md, "Configuration").
const file = bootConfig(routerConfigSchema);
const config = toRouterConfig(file, `router-${hostname()}`, process.env['npm_package_version']);
const logger = createLogger({
  service: 'router',
  level: file.logLevel,
  bindings: { routerId: config.routerId },
});
const metrics = createMetrics({ service: 'router' });
const onConnectionError = (err: Error): void => logger.warn({ err }, 'redis connection error');
const redis = file.redisUrl === undefined ? undefined : new Redis(file.redisUrl);
redis?.on('error', onConnectionError);
const bus =
  file.redisUrl === undefined ? createMemoryBus() : createRedisBus({ url: file.redisUrl, onConnectionError });
const store =
  file.redisUrl === undefined
    ? openEmbeddedStore({ path: file.storePath ?? join(file.dataDir, 'switchboard.db') })
    : createRedisStore({ url: file.redisUrl });
const sessions = redis === undefined ? createMemorySessionRegistry() : createRedisSessionRegistry(redis);

const router = build(config, { bus, store, sessions, logger });
const shutdown = createShutdown({ logger });
let started = false;
const ops = buildOpsServer({ metrics, ready: () => started, logger, shutdown });

shutdown.register('ops-http', 'close-clients', () => ops.close());
shutdown.register('router', 'finish', () => router.stop());
shutdown.register('sessions', 'close-clients', () => sessions.close());
shutdown.register('bus', 'close-clients', () => bus.close());
shutdown.register('store', 'close-clients', () => store.close());
shutdown.register('redis', 'close-clients', async () => {
  await redis?.quit();
});
shutdown.installSignalHandlers();

await router.start();
started = true;
await ops.listen({ port: file.ops.port, host: file.ops.host });
logger.info({ partitions: config.ownedPartitions.length, opsPort: file.ops.port }, 'router started');
