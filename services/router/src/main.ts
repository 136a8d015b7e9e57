import { hostname } from 'node:os';
import { createRedisBus } from '@switchboard/bus';
import { bootConfig, buildOpsServer, createLogger, createMetrics, createShutdown } from '@switchboard/kit';
import { createRedisStore } from '@switchboard/store';
import { Redis } from 'ioredis';
import {
  adminApi,
  adminConfigSchema,
  ADMIN_API_PREFIX,
  createAdminOperations,
  createRedisView,
} from './admin/index.js';
import { build, createRedisSessionRegistry } from './app.js';
import { clusterConfigSchema, toClusterRouterConfig } from './cluster/config.js';
import { createJanitor } from './cluster/janitor.js';
import { createPartitionLeases } from './cluster/leases.js';

// The router process of the cluster. Config is read here and only here (ARCHITECTURE.md, "Configuration").
const file = bootConfig(clusterConfigSchema.extend({ admin: adminConfigSchema }));
const config = toClusterRouterConfig(
  file,
  `${hostname()}-${process.pid}`,
  process.env['npm_package_version'],
);
const logger = createLogger({
  service: 'router',
  level: file.logLevel,
  bindings: { routerId: config.routerId },
});
const metrics = createMetrics({ service: 'router', labels: { router_id: config.routerId } });
const onConnectionError = (err: Error): void => logger.warn({ err }, 'redis connection error');

// One connection for sessions, leases and the janitor; the bus and the store open their own.
const redis = new Redis(file.redisUrl);
redis.on('error', onConnectionError);
const bus = createRedisBus({ url: file.redisUrl, onConnectionError });
const store = createRedisStore({ url: file.redisUrl });
const sessions = createRedisSessionRegistry(redis);
// Effects of a partition's entries are published only while our lease on it holds (fencing).
// Batch throughput for the dashboards (deploy/grafana): batches and the entries in them.
const batches = metrics.counter({ name: 'router_batches_total', help: 'Route batches processed' });
const batchEntries = metrics.counter({
  name: 'router_batch_entries_total',
  help: 'Route stream entries processed in batches',
});
const onBatch = (entries: readonly unknown[]): void => {
  batches.inc();
  batchEntries.inc(entries.length);
};
const router = build(config, { bus, store, sessions, logger, fence: (p) => leases.fence(p), onBatch });

const leases = createPartitionLeases({
  redis,
  bus,
  router,
  routerId: config.routerId,
  partitions: config.partitions,
  logger,
  leaseTtlMs: file.cluster.leaseTtlMs,
  heartbeatMs: file.cluster.heartbeatMs,
  routerTtlMs: file.cluster.routerTtlMs,
  claimBatch: file.batchSize,
});
const janitor = createJanitor({
  redis,
  bus,
  routerId: config.routerId,
  partitions: config.partitions,
  logger,
  intervalMs: file.cluster.janitorIntervalMs,
  edgeTimeoutMs: file.cluster.edgeTimeoutMs,
});

const owned = metrics.gauge({ name: 'router_partitions_owned', help: 'Route partitions this router holds' });
const janitorActive = metrics.gauge({
  name: 'router_janitor_active',
  help: '1 while this router is the janitor',
});
const rerouted = metrics.counter({
  name: 'router_janitor_rerouted_total',
  help: 'Deliveries of dead edges sent back for routing',
});
const ended = metrics.counter({
  name: 'router_janitor_session_ends_total',
  help: 'Sessions of dead edges ended',
});
leases.onChange((state) => owned.set(state.held.length));
janitor.onActive((active) => janitorActive.set(active ? 1 : 0));
janitor.onSweep((report) => {
  rerouted.inc(report.rerouted);
  ended.inc(report.sessionEnds);
});

const shutdown = createShutdown({ logger });
const ops = buildOpsServer({ metrics, ready: () => leases.ready, logger, shutdown });

// Ordered: hand partitions back (the router stops consuming, its last batch is acked, then the
// leases go) and stop the janitor while /readyz says draining; then close clients, Redis among them.
// The admin API (docs/admin-api.md) on the ops port; absent (404) without admin.token.
await ops.register(adminApi, {
  prefix: ADMIN_API_PREFIX,
  token: file.admin.token,
  operations: createAdminOperations({
    view: createRedisView({
      redis,
      partitions: config.partitions,
      components: config.components,
      edgeTimeoutMs: file.cluster.edgeTimeoutMs,
      routerTtlMs: file.cluster.routerTtlMs,
    }),
    store,
    bus,
    domains: config.domains,
  }),
  ...(file.admin.smsUrl === undefined ? {} : { sms: { kind: 'remote' as const, url: file.admin.smsUrl } }),
});

shutdown.register('ops-http', 'close-clients', () => ops.close());
shutdown.register('leases', 'drain', () => leases.stop());
shutdown.register('janitor', 'drain', () => janitor.stop());
shutdown.register('router', 'finish', () => router.stop());
shutdown.register('sessions', 'close-clients', () => sessions.close());
shutdown.register('bus', 'close-clients', () => bus.close());
shutdown.register('store', 'close-clients', () => store.close());
// Leases, janitor and sessions use this connection; the bus and the store have their own.
shutdown.register('redis', 'close-clients', async () => {
  await redis.quit();
});
shutdown.installSignalHandlers();

await ops.listen({ port: file.ops.port, host: file.ops.host });
await leases.start();
janitor.start();
logger.info({ held: leases.held, live: leases.live, opsPort: file.ops.port }, 'router started');
