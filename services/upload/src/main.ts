import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createMemoryBus, createRedisBus, type Bus } from '@switchboard/bus';
import { bootConfig, createServiceRuntime } from '@switchboard/kit';
import { Redis } from 'ioredis';
import { build, createStorage } from './app.js';
import { toUploadConfig, uploadConfigSchema } from './config.js';
import { createMemoryQuotaLedger, type QuotaLedger } from './quota/ledger.js';
import { createRedisQuotaLedger } from './quota/redis.js';
import { busTransport } from './transport.js';

// The upload process (XEP-0363). Config is read here and only here (ARCHITECTURE.md, "Configuration").
const file = bootConfig(uploadConfigSchema);
const config = toUploadConfig(file, { domain: file.domain, domains: file.domains, secret: file.secret });
const runtime = createServiceRuntime({
  service: 'upload',
  level: file.logLevel,
  bindings: { domain: config.domain },
});
const { logger, metrics, shutdown, ops, onConnectionError } = runtime;

const limits = { bytes: file.quota.bytes, windowMs: file.quota.windowHours * 3600 * 1000 };
let redis: Redis | undefined;
let bus: Bus;
let ledger: QuotaLedger;
if (file.redisUrl === undefined) {
  logger.warn('no redisUrl: in-process bus and quota ledger, only this process can reach the service');
  bus = createMemoryBus();
  ledger = createMemoryQuotaLedger(limits);
} else {
  redis = new Redis(file.redisUrl);
  redis.on('error', onConnectionError);
  bus = createRedisBus({ url: file.redisUrl, onConnectionError });
  ledger = createRedisQuotaLedger({ redis, limits });
}
const storage = createStorage(file.storage, file.dataDir);
const { keyFile, certFile } = file.http;
if ((keyFile === undefined) !== (certFile === undefined)) {
  logger.fatal('http: configure both keyFile and certFile, or neither');
  process.exit(1);
}

const app = build(config, {
  transport: busTransport({
    bus,
    domain: config.domain,
    partitions: file.transport.partitions,
    consumer: file.transport.consumer ?? `${hostname()}-upload`,
    logger,
  }),
  storage,
  ledger,
  logger,
  metrics,
  ...(keyFile === undefined || certFile === undefined
    ? {}
    : {
        tls: async () => {
          const [key, cert] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
          return { key, cert };
        },
      }),
});

// Ordered: stop taking stanzas and uploads (running ones finish), then clients, Redis last.
shutdown.register('upload', 'drain', () => app.stop());
shutdown.register('ops', 'close-clients', () => ops.close());
shutdown.register('storage', 'close-clients', () => storage.close());
shutdown.register('ledger', 'close-clients', () => ledger.close());
shutdown.register('bus', 'close-clients', () => bus.close());
shutdown.register('redis', 'close-clients', async () => {
  await redis?.quit();
});
shutdown.installSignalHandlers();

await ops.listen({ port: file.ops.port, host: file.ops.host });
const { port, baseUrl } = await app.start({ port: file.http.port, host: file.http.host });
runtime.ready = true;
logger.info({ port, baseUrl, storage: storage.kind }, 'upload service ready');
