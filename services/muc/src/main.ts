import { join } from 'node:path';
import { chooseTransport } from '@switchboard/component';
import { bootConfig, createServiceRuntime } from '@switchboard/kit';
import { Redis } from 'ioredis';
import { build } from './app.js';
import { acquireLease, type Lease } from './cluster/lease.js';
import { mucConfigSchema, toMucConfig } from './config.js';
import { createRedisMucStorage } from './storage/redis.js';
import { openSqliteMucStorage } from './storage/sqlite.js';
import type { MucStorage } from './storage/storage.js';
import { busTransport } from './transports/index.js';

// The muc process. Config is read here and only here (ARCHITECTURE.md, "Configuration").
const file = bootConfig(mucConfigSchema);
const config = toMucConfig(file);
// Ready means serving: a standby waiting for the lease is alive but not ready.
const runtime = createServiceRuntime({
  service: 'muc',
  level: file.logLevel,
  bindings: { domain: config.domain },
});
const { logger, metrics, shutdown, ops: http, onConnectionError } = runtime;

let redis: Redis | undefined;
let storage: MucStorage;
if (file.redisUrl === undefined) {
  storage = openSqliteMucStorage({ path: join(file.dataDir, 'muc.db') });
} else {
  redis = new Redis(file.redisUrl);
  redis.on('error', onConnectionError);
  storage = createRedisMucStorage({ redis });
}

const { bus, transport } = chooseTransport(file, {
  domain: config.domain,
  runtime,
  consumerSuffix: 'muc',
  reachable: 'service',
  // Only the lease holder consumes, so what a dead holder left pending is ours to finish.
  busTransport: (options) => busTransport({ ...options, claimPending: true }),
});

const app = build(config, { transport, storage, logger, metrics });
const waiting = new AbortController();
let lease: Lease | undefined;

// Ordered: stop waiting for the lease, drain the service, release the lease, close clients, Redis last.
shutdown.register('lease-wait', 'stop-accepting', () => {
  waiting.abort();
  return Promise.resolve();
});
shutdown.register('muc', 'drain', () => app.stop());
shutdown.register('lease', 'finish', async () => {
  await lease?.release();
});
shutdown.register('http', 'close-clients', () => http.close());
shutdown.register('storage', 'close-clients', () => storage.close());
shutdown.register('bus', 'close-clients', async () => {
  await bus?.close();
});
shutdown.register('redis', 'close-clients', async () => {
  await redis?.quit();
});
shutdown.installSignalHandlers();

await http.listen({ port: file.http.port, host: file.http.host });
if (redis !== undefined && file.transport.kind === 'bus') {
  // Rooms are in-memory state with one writer: one instance serves the domain, standbys wait (ARCHITECTURE.md).
  logger.info('waiting for the service lease');
  try {
    lease = await acquireLease({
      redis,
      key: `muc:lease:{${config.domain}}`,
      ttlMs: file.lease.ttlMs,
      signal: waiting.signal,
      onLost: () => {
        // Another instance may be serving already: stop at once rather than write rooms twice.
        logger.error('service lease lost; exiting so a standby takes over');
        runtime.ready = false;
        void shutdown.run('lease lost').finally(() => process.exit(1));
      },
    });
  } catch (error) {
    if (waiting.signal.aborted) process.exit(0);
    throw error;
  }
}
await app.start();
runtime.ready = true;
logger.info({ transport: file.transport.kind, port: file.http.port }, 'muc ready');
