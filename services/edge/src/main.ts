// The edge process of the cluster: client listeners on the Redis bus and store.
// (One process with everything on embedded drivers is services/standalone.)
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { createRedisBus } from '@switchboard/bus';
import {
  bootConfig,
  buildOpsServer,
  createLogger,
  createMetrics,
  createShutdown,
  capYoungGeneration,
} from '@switchboard/kit';
import { Keys } from '@switchboard/protocol';
import { createRedisStore } from '@switchboard/store';
import { build } from './app.js';
import { edgeConfigSchema } from './config.js';
import { startEdgeHeartbeat } from './heartbeat.js';
import { createRedisFastTokenStore } from './sasl/fast.js';
import { createRedisResumptionStore } from './sm/redis.js';

capYoungGeneration();
// Config is read here and only here (ARCHITECTURE.md, "Configuration").
const config = bootConfig(
  edgeConfigSchema.refine((c) => c.redisUrl !== undefined, {
    path: ['redisUrl'],
    message:
      'the edge process needs redisUrl (SWITCHBOARD_REDIS_URL); for one process without Redis run services/standalone',
  }),
);
const redisUrl = config.redisUrl!;
const logger = createLogger({ service: 'edge', level: config.logLevel });
const metrics = createMetrics({ service: 'edge' });
const bus = createRedisBus({
  url: redisUrl,
  onConnectionError: (err) => logger.warn({ err }, 'redis connection error'),
});
const store = createRedisStore({ url: redisUrl });
const redis = new Redis(redisUrl, { lazyConnect: false });
redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
// XEP-0198 state: one small write per delivery batch per session, pipelined with the others.
const smRedis = new Redis(redisUrl, { enableAutoPipelining: true });
smRedis.on('error', (err) => logger.warn({ err }, 'redis connection error'));

const edge = build(
  { ...config, edgeId: config.edgeId ?? `${hostname()}-${process.pid}` },
  {
    bus,
    store,
    logger,
    metrics,
    resumption: createRedisResumptionStore(smRedis),
    fastTokens: createRedisFastTokenStore(smRedis),
  },
);
const heartbeat = startEdgeHeartbeat({
  redis,
  edgeId: edge.edgeId,
  onError: (err) => logger.warn({ err }, 'edge heartbeat failed'),
});
// Operators' view of this edge (docs/admin-api.md, GET /overview), written with the heartbeat's rhythm.
const statusKey = Keys.edgeStatus(edge.edgeId);
const writeStatus = (): void => {
  redis
    .multi()
    .hset(statusKey, {
      connections: edge.connectionCount(),
      draining: edge.ready() ? '0' : '1',
      ts: Date.now(),
    })
    .pexpire(statusKey, 30_000)
    .exec()
    .catch((err: unknown) => logger.warn({ err }, 'edge status write failed'));
};
const statusTimer = setInterval(writeStatus, 1000);
writeStatus();
const shutdown = createShutdown({ logger, timeoutMs: (config.limits.drainTimeoutSeconds + 10) * 1000 });
const ops = buildOpsServer({ metrics, ready: () => edge.ready(), logger, shutdown });

shutdown.register('ops-http', 'close-clients', () => ops.close());
shutdown.register('edge-drain', 'drain', () => edge.drain());
shutdown.register('edge-close', 'finish', () => edge.close());
// After the drain published every session-end: the janitor then has nothing to do for this edge.
shutdown.register('heartbeat', 'finish', () => heartbeat.stop());
shutdown.register('edge-status', 'finish', async () => {
  clearInterval(statusTimer);
  await redis.del(statusKey);
});
shutdown.register('bus', 'close-clients', () => bus.close());
shutdown.register('store', 'close-clients', () => store.close());
shutdown.register('redis', 'close-clients', async () => {
  await redis.quit();
  await smRedis.quit();
});
shutdown.installSignalHandlers();

const ports = await edge.listen();
await ops.listen({ port: config.ops.port, host: config.ops.host });
logger.info({ ...ports, opsPort: config.ops.port, edgeId: edge.edgeId }, 'edge started');
