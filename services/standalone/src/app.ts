import { join } from 'node:path';
import { createMemoryBus, type Bus } from '@switchboard/bus';
import { build as buildEdge, type Edge, type ListeningPorts } from '@switchboard/edge';
import type { Logger, Metrics } from '@switchboard/kit';
import { Streams } from '@switchboard/protocol';
import { build as buildRouter, createMemorySessionRegistry, type Router } from '@switchboard/router';
import { openEmbeddedStore, type Store } from '@switchboard/store';
import { standaloneConfigSchema, type StandaloneConfigInput } from './config.js';

export { standaloneConfigSchema, type StandaloneConfig, type StandaloneConfigInput } from './config.js';

/** One process, one partition: the in-process bus keeps every stanza in order without coordination. */
const PARTITIONS = 1;
/** Acked entries are dropped from the in-process streams this often. */
const TRIM_INTERVAL_MS = 1000;

export interface StandaloneDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

export interface Standalone {
  readonly edge: Edge;
  readonly router: Router;
  readonly store: Store;
  readonly bus: Bus;
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
      components: config.components.map((c) => c.domain),
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

  let trimmer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  const trim = async (): Promise<void> => {
    await Promise.all([bus.trim(Streams.route(0)), bus.trim(Streams.deliver(edge.edgeId))]);
  };

  return {
    edge,
    router,
    store,
    bus,
    async start() {
      await router.start();
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
        await router.stop();
        await edge.close();
        await bus.close();
        await store.close();
      })();
      return closing;
    },
  };
}
