#!/usr/bin/env node
// `pnpm start`: the embedded single-process Switchboard.
import {
  bootConfig,
  buildOpsServer,
  createLogger,
  createMetrics,
  createShutdown,
  capYoungGeneration,
} from '@switchboard/kit';
import type { FastifyInstance } from 'fastify';
import { build, standaloneConfigSchema } from './app.js';

capYoungGeneration();
const config = bootConfig(standaloneConfigSchema);
const logger = createLogger({ service: 'switchboard', level: config.logLevel });
const metrics = createMetrics({ service: 'switchboard' });
const shutdown = createShutdown({ logger, timeoutMs: 30_000 });
const app = build(config, { logger, metrics });
const ops = buildOpsServer({ metrics, logger, shutdown, ready: () => app.ready() });

shutdown.register('drain clients', 'stop-accepting', () => app.drain());
shutdown.register('ops server', 'close-clients', () => ops.close());
shutdown.register('edge, router, bus and store', 'finish', () => app.close());
shutdown.installSignalHandlers();

try {
  const ports = await app.start();
  // The admin API (docs/admin-api.md) on the ops port; absent without admin.token. The ops server's
  // only difference from FastifyInstance is its logger's static type.
  await app.admin.register(ops as unknown as FastifyInstance);
  await ops.listen({ port: config.ops.port, host: config.ops.host });
  logger.info(
    {
      domains: config.domains,
      ...ports,
      opsPort: config.ops.port,
      registration: config.edge.registration.enabled,
    },
    `Switchboard is ready: XMPP on ${ports.tcpPort} (STARTTLS) and ${ports.tlsPort} (direct TLS), ` +
      `WebSocket on ${ports.httpPort}, domains ${config.domains.join(', ')}`,
  );
} catch (err) {
  logger.fatal({ err }, 'start-up failed');
  await shutdown.run('start-up failed').catch(() => undefined);
  process.exit(1);
}
