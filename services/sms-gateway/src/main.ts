import { join } from 'node:path';
import { chooseTransport } from '@switchboard/component';
import { bootConfig, createServiceRuntime, z } from '@switchboard/kit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { createSmsAdmin, SMS_ADMIN_PREFIX, smsAdminApi } from './admin/index.js';
import { build, createProvider } from './app.js';
import { smsGatewayConfigSchema, toSmsGatewayConfig } from './config.js';
import type { SendLedger } from './providers/ledger.js';
import { createRedisLedger } from './providers/ledger-redis.js';
import { openSqliteLedger } from './providers/ledger-sqlite.js';
import { createBullQueue } from './queue/bullmq.js';
import { createMemoryQueue } from './queue/memory.js';
import type { OutboundQueue } from './queue/queue.js';
import { createRedisRegistrations } from './registrations/redis.js';
import type { Registrations } from './registrations/registrations.js';
import { openSqliteRegistrations } from './registrations/sqlite.js';
import type { RoomMemberships } from './rooms/memberships.js';
import { createRedisRoomMemberships } from './rooms/redis.js';
import { openSqliteRoomMemberships } from './rooms/sqlite.js';

// The sms-gateway process. Config is read here and only here (ARCHITECTURE.md, "Configuration").
const file = bootConfig(
  smsGatewayConfigSchema.extend({
    // The admin API's /sms section (docs/admin-api.md); the same token as the routers'.
    admin: z.object({ token: z.string().min(16).optional() }).prefault({}),
  }),
);
const config = toSmsGatewayConfig(file);
const runtime = createServiceRuntime({
  service: 'sms-gateway',
  level: file.logLevel,
  bindings: { domain: config.domain },
});
const { logger, metrics, shutdown, ops: http, onConnectionError } = runtime;

const queueOptions = {
  attempts: file.queue.attempts,
  backoffMs: file.queue.backoffMs,
  concurrency: file.queue.concurrency,
  ...(file.queue.rateLimit === undefined ? {} : { rateLimit: file.queue.rateLimit }),
};

let redis: Redis | undefined;
let registrations: Registrations;
let rooms: RoomMemberships;
let queue: OutboundQueue;
let ledger: SendLedger;
if (file.redisUrl === undefined) {
  registrations = openSqliteRegistrations({ path: join(file.dataDir, 'sms-gateway.db') });
  rooms = openSqliteRoomMemberships({ path: join(file.dataDir, 'sms-gateway.db') });
  queue = createMemoryQueue(queueOptions);
  ledger = openSqliteLedger({ path: join(file.dataDir, 'sms-gateway.db') });
} else {
  redis = new Redis(file.redisUrl);
  redis.on('error', onConnectionError);
  registrations = createRedisRegistrations({ redis });
  rooms = createRedisRoomMemberships({ redis });
  ledger = createRedisLedger({ redis });
  const url = new URL(file.redisUrl);
  queue = createBullQueue({
    ...queueOptions,
    // One queue per provider: the rate limit is the provider's.
    name: `sms-${file.provider.kind}`,
    ...(file.queue.lockDurationMs === undefined ? {} : { lockDurationMs: file.queue.lockDurationMs }),
    ...(file.queue.stalledIntervalMs === undefined
      ? {}
      : { stalledIntervalMs: file.queue.stalledIntervalMs }),
    connection: {
      host: url.hostname,
      port: Number(url.port || 6379),
      ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
      ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
      // BullMQ workers block on Redis; they need unlimited retries per request.
      maxRetriesPerRequest: null,
    },
  });
}

const { bus, transport } = chooseTransport(file, {
  domain: config.domain,
  runtime,
  consumerSuffix: 'sms',
  reachable: 'gateway',
});

const provider = createProvider(file.provider, config.maxSegments, logger);
// The ops server doubles as the webhook server; only its logger's static type differs from FastifyInstance's.
const webhooks = http as unknown as FastifyInstance;
const app = build(config, {
  transport,
  provider,
  registrations,
  rooms,
  queue,
  ledger,
  http: webhooks,
  logger,
  metrics,
});

metrics.gauge({
  name: 'sms_queue_jobs',
  help: 'Outbound SMS jobs by state',
  labelNames: ['state'],
  async collect() {
    const counts = await queue.counts();
    for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed'] as const) {
      this.set({ state }, counts[state]);
    }
  },
});

// Ordered: stop taking stanzas and finish running sends, then close the HTTP server and clients, Redis last.
shutdown.register('gateway', 'drain', () => app.stop());
shutdown.register('http', 'close-clients', () => http.close());
shutdown.register('registrations', 'close-clients', () => registrations.close());
shutdown.register('rooms', 'close-clients', () => rooms.close());
shutdown.register('ledger', 'close-clients', () => ledger.close());
shutdown.register('bus', 'close-clients', async () => {
  await bus?.close();
});
shutdown.register('redis', 'close-clients', async () => {
  await redis?.quit();
});
shutdown.installSignalHandlers();

await http.register(smsAdminApi, {
  prefix: SMS_ADMIN_PREFIX,
  token: file.admin.token,
  operations: createSmsAdmin({ domain: config.domain, queue, registrations }),
});
// Provider webhooks mount on the HTTP server during start(), before it listens.
await app.start();
await http.listen({ port: file.http.port, host: file.http.host });
runtime.ready = true;
logger.info(
  { transport: file.transport.kind, provider: provider.name, port: file.http.port },
  'sms gateway ready',
);
