import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { fastify, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

/** The fastify instance buildOpsServer returns, typed with the process's pino logger. */
export type OpsServer = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;

export interface OpsServerOptions {
  readonly metrics: Metrics;
  /** Whether the process can take traffic now (bus connected, partitions owned, …). */
  readonly ready: () => boolean | Promise<boolean>;
  readonly logger: Logger;
  /** When given, /readyz answers 503 as soon as shutdown starts, whatever `ready` says. */
  readonly shutdown?: { readonly isShuttingDown: boolean };
}

/**
 * A fastify instance with `/healthz` (alive), `/readyz` (ready for traffic; false while draining) and
 * `/metrics` (the process registry). Built, not listening: a service adds its routes or calls
 * `listen()` on its own port, and tests use `inject()`.
 */
export function buildOpsServer(options: OpsServerOptions): OpsServer {
  const { metrics, ready, logger, shutdown } = options;
  const app = fastify({ loggerInstance: logger.child({ component: 'ops-http' }) });
  // Probes hit these every few seconds; logging each would drown real events.
  const quiet = { logLevel: 'warn' } as const;

  app.get('/healthz', quiet, () => Promise.resolve({ status: 'ok' }));

  app.get('/readyz', quiet, async (request, reply) => {
    if (shutdown?.isShuttingDown === true) return reply.code(503).send({ status: 'draining' });
    let isReady: boolean;
    try {
      isReady = await ready();
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed');
      isReady = false;
    }
    return isReady ? { status: 'ready' } : reply.code(503).send({ status: 'not-ready' });
  });

  app.get('/metrics', quiet, async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).send(body);
  });

  return app;
}
