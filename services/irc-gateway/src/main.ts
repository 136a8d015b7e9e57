import { hostname } from 'node:os';
import { join } from 'node:path';
import { createRedisBus, type Bus } from '@switchboard/bus';
import { chooseTransport } from '@switchboard/component';
import { bootConfig, createServiceRuntime } from '@switchboard/kit';
import { Redis } from 'ioredis';
import { build } from './app.js';
import { createRedisReplicaSet, type ReplicaSet } from './cluster/ownership.js';
import { ircGatewayConfigSchema, toIrcGatewayConfig } from './config.js';
import type { Memberships } from './persistence/memberships.js';
import { createRedisMemberships } from './persistence/redis.js';
import { openSqliteMemberships } from './persistence/sqlite.js';
import { busTransport, type Transport } from './transports/index.js';
import { shardedBusTransport } from './transports/sharded-bus.js';

// The irc-gateway process. Config is read here and only here (ARCHITECTURE.md, "Configuration").
const file = bootConfig(ircGatewayConfigSchema);
const config = toIrcGatewayConfig(file);
const runtime = createServiceRuntime({
  service: 'irc-gateway',
  level: file.logLevel,
  bindings: { domain: config.domain },
});
const { logger, metrics, shutdown, ops: http, onConnectionError } = runtime;

let redis: Redis | undefined;
let memberships: Memberships;
if (file.redisUrl === undefined) {
  memberships = openSqliteMemberships({ path: join(file.dataDir, 'irc-gateway.db') });
} else {
  redis = new Redis(file.redisUrl);
  redis.on('error', onConnectionError);
  memberships = createRedisMemberships({ redis });
}

const replicaId = file.sharding.replicaId ?? `${hostname()}-irc`;
let replicas: ReplicaSet | undefined;
if (file.sharding.enabled) {
  if (redis === undefined || file.transport.kind !== 'bus') {
    logger.fatal('sharding needs redisUrl and the bus transport');
    process.exit(1);
  }
  replicas = createRedisReplicaSet({
    redis,
    domain: config.domain,
    replicaId,
    heartbeatMs: file.sharding.heartbeatMs,
  });
}

let bus: Bus | undefined;
let transport: Transport;
if (file.transport.kind === 'bus' && replicas !== undefined) {
  bus = createRedisBus({ url: file.redisUrl!, onConnectionError });
  transport = shardedBusTransport({
    bus,
    domain: config.domain,
    partitions: file.transport.partitions,
    replicas,
    logger,
  });
} else {
  ({ bus, transport } = chooseTransport(file, {
    domain: config.domain,
    runtime,
    consumerSuffix: 'irc',
    reachable: 'gateway',
    busTransport,
  }));
}

const app = build(config, {
  transport,
  memberships,
  logger,
  ...(replicas === undefined ? {} : { replicas }),
});

metrics.gauge({
  name: 'irc_connections',
  help: 'IRC connections open for XMPP users',
  collect() {
    this.set(app.gateway.sessionCount);
  },
});

// Ordered: stop taking stanzas and quit IRC (memberships kept for the next start), then clients, Redis last.
shutdown.register('gateway', 'drain', () => app.stop());
shutdown.register('http', 'close-clients', () => http.close());
shutdown.register('memberships', 'close-clients', () => memberships.close());
shutdown.register('bus', 'close-clients', async () => {
  await bus?.close();
});
shutdown.register('redis', 'close-clients', async () => {
  await redis?.quit();
});
shutdown.installSignalHandlers();

await app.start();
await http.listen({ port: file.http.port, host: file.http.host });
runtime.ready = true;
logger.info({ transport: file.transport.kind, port: file.http.port }, 'irc gateway ready');
