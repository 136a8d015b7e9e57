import { join } from 'node:path';
import { createMemoryBus, type Bus } from '@switchboard/bus';
import { build as buildEdge, type Edge, type ListeningPorts } from '@switchboard/edge';
import type { Logger, Metrics } from '@switchboard/kit';
import { Streams } from '@switchboard/protocol';
import { build as buildRouter, createMemorySessionRegistry, type Router } from '@switchboard/router';
import {
  build as buildSmsGateway,
  busTransport,
  createMemoryQueue,
  createProvider,
  openSqliteRegistrations,
  toSmsGatewayConfig,
  type Registrations,
  type SmsGatewayApp,
} from '@switchboard/sms-gateway';
import { openEmbeddedStore, type Store } from '@switchboard/store';
import fastify, { type FastifyInstance } from 'fastify';
import { standaloneConfigSchema, type StandaloneConfig, type StandaloneConfigInput } from './config.js';

export { standaloneConfigSchema, type StandaloneConfig, type StandaloneConfigInput } from './config.js';

/** One process, one partition: the in-process bus keeps every stanza in order without coordination. */
const PARTITIONS = 1;
/** Acked entries are dropped from the in-process streams this often. */
const TRIM_INTERVAL_MS = 1000;

export interface StandaloneDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/** The in-process SMS gateway (config `sms`). */
export interface StandaloneSms {
  readonly domain: string;
  readonly app: SmsGatewayApp;
  /** Serves provider webhooks (Twilio); listening once start() resolved. */
  readonly http: FastifyInstance;
}

export interface Standalone {
  readonly edge: Edge;
  readonly router: Router;
  readonly store: Store;
  readonly bus: Bus;
  /** Null unless the config has an `sms` section. */
  readonly sms: StandaloneSms | null;
  /** Starts the router, then opens the client listeners. */
  start(): Promise<ListeningPorts>;
  ready(): boolean;
  /** Stops accepting and lets clients go (see-other-host or a clean close). */
  drain(): Promise<void>;
  /** Stops the router, closes connections, bus and store. Idempotent. */
  close(): Promise<void>;
}

/** Edge and router in one process on the in-process bus and the embedded store (ARCHITECTURE.md, "Embedded mode"). */
export function build(input: StandaloneConfigInput, deps: StandaloneDeps): Standalone {
  const config = standaloneConfigSchema.parse(input);
  const bus = createMemoryBus();
  const store = openEmbeddedStore({ path: join(config.dataDir, 'switchboard.db') });
  const router = buildRouter(
    {
      routerId: 'standalone',
      domains: config.domains,
      components: [
        ...config.components.map((c) => c.domain),
        ...(config.sms === undefined ? [] : [config.sms.domain]),
      ],
      partitions: PARTITIONS,
      ownedPartitions: [0],
      offlineCap: config.router.offlineCap,
    },
    {
      bus,
      store,
      sessions: createMemorySessionRegistry(),
      logger: deps.logger.child({ component: 'router' }),
    },
  );
  const edge = buildEdge(
    {
      ...config.edge,
      domains: config.domains,
      components: config.components,
      dataDir: config.dataDir,
      partitions: PARTITIONS,
    },
    {
      bus,
      store,
      logger: deps.logger.child({ component: 'edge' }),
      ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
    },
  );

  const sms = config.sms === undefined ? null : buildSms(config.sms, config.dataDir, bus, deps);

  let trimmer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  const trim = async (): Promise<void> => {
    await Promise.all([
      bus.trim(Streams.route(0)),
      bus.trim(Streams.deliver(edge.edgeId)),
      ...(sms === null ? [] : [bus.trim(Streams.service(sms.domain))]),
    ]);
  };

  return {
    edge,
    router,
    store,
    bus,
    sms,
    async start() {
      await router.start();
      if (sms !== null) {
        // Webhook routes go on before the server listens.
        await sms.app.start();
        await sms.http.listen({ port: sms.port, host: sms.host });
      }
      const ports = await edge.listen();
      trimmer = setInterval(() => {
        trim().catch((err: unknown) => deps.logger.warn({ err }, 'trimming the in-process streams failed'));
      }, TRIM_INTERVAL_MS);
      trimmer.unref();
      return ports;
    },
    ready: () => edge.ready(),
    drain: () => edge.drain(),
    close() {
      closing ??= (async () => {
        if (trimmer !== undefined) clearInterval(trimmer);
        await edge.drain();
        // The gateway stops taking stanzas and finishes its sends while the router still routes its replies.
        await sms?.app.stop();
        await router.stop();
        await edge.close();
        await sms?.http.close();
        await sms?.registrations.close();
        await bus.close();
        await store.close();
      })();
      return closing;
    },
  };
}

type SmsSection = NonNullable<StandaloneConfig['sms']>;

/** The SMS gateway as its own process runs it without Redis: in-process queue, SQLite registrations. */
function buildSms(
  section: SmsSection,
  dataDir: string,
  bus: Bus,
  deps: StandaloneDeps,
): StandaloneSms & { readonly port: number; readonly host: string; readonly registrations: Registrations } {
  const logger = deps.logger.child({ component: 'sms-gateway' });
  const config = toSmsGatewayConfig(section);
  const registrations = openSqliteRegistrations({ path: join(dataDir, 'sms-gateway.db') });
  const http = fastify();
  const app = buildSmsGateway(config, {
    transport: busTransport({
      bus,
      domain: config.domain,
      partitions: PARTITIONS,
      consumer: 'standalone',
      logger,
    }),
    provider: createProvider(section.provider, config.maxSegments, logger),
    registrations,
    queue: createMemoryQueue({
      attempts: section.queue.attempts,
      backoffMs: section.queue.backoffMs,
      concurrency: section.queue.concurrency,
      ...(section.queue.rateLimit === undefined ? {} : { rateLimit: section.queue.rateLimit }),
    }),
    http,
    logger,
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
  });
  return {
    domain: config.domain,
    app,
    http,
    port: section.http.port,
    host: section.http.host,
    registrations,
  };
}
