import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createMemoryBus, createRedisBus } from '@switchboard/bus';
import { bootConfig, createServiceRuntime } from '@switchboard/kit';
import { Keys } from '@switchboard/protocol';
import { Redis } from 'ioredis';
import { build } from './app.js';
import { s2sProcessConfigSchema } from './config.js';

// The s2s process. Config is read here and only here (ARCHITECTURE.md, "Configuration").
// With Redis, any number of s2s nodes run: partition leases give each remote domain one owner.
const file = bootConfig(s2sProcessConfigSchema);
const nodeId = file.nodeId ?? `${hostname()}-s2s-${process.pid}`;
const runtime = createServiceRuntime({ service: 's2s', level: file.logLevel, bindings: { nodeId } });
const { logger, metrics, shutdown, ops: http, onConnectionError } = runtime;

const bus =
  file.redisUrl === undefined ? createMemoryBus() : createRedisBus({ url: file.redisUrl, onConnectionError });
const redis = file.redisUrl === undefined ? undefined : new Redis(file.redisUrl);
redis?.on('error', onConnectionError);
if (redis === undefined) logger.warn('no redisUrl: only this process can reach the s2s service');

// XEP-0220 §2.2: a remote server checks our dialback key on a stream that may reach any of our
// nodes, so every node needs the same secret: configured, or one random secret kept in Redis.
let secret = file.dialback.secret;
if (secret === undefined && redis !== undefined) {
  await redis.set(Keys.s2sDialbackSecret(), randomBytes(32).toString('hex'), 'NX');
  secret = (await redis.get(Keys.s2sDialbackSecret())) ?? undefined;
}

const app = build(
  {
    ...file,
    dialback: { ...file.dialback, ...(secret === undefined ? {} : { secret }) },
    nodeId,
  },
  { bus, logger, metrics, ...(redis === undefined ? {} : { redis }) },
);

shutdown.register('s2s', 'drain', () => app.close());
shutdown.register('http', 'close-clients', () => http.close());
shutdown.register('bus', 'close-clients', () => bus.close());
if (redis !== undefined) shutdown.register('redis', 'close-clients', async () => void (await redis.quit()));
shutdown.installSignalHandlers();

const ports = await app.start();
await http.listen({ port: file.ops.port, host: file.ops.host });
runtime.ready = true;
logger.info({ ...ports, owned: app.owned }, 's2s ready');
const ownedGauge = metrics.gauge({
  name: 's2s_partitions_owned',
  help: 'Partitions of s2s:{p} this node holds',
});
ownedGauge.set(app.owned.length);
app.onOwnershipChange((owned) => {
  ownedGauge.set(owned.length);
  logger.info({ owned }, 's2s partitions owned');
});
