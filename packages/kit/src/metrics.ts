import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  Summary,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type SummaryConfiguration,
} from 'prom-client';

export type { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

export interface MetricsOptions {
  /** Name of the process; becomes the `service` label on every series. */
  readonly service: string;
  /** Node process metrics (CPU, memory, event-loop lag, GC); default true. */
  readonly defaultMetrics?: boolean;
  /** Further labels on every series, e.g. `{ edge_id }`. */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The process's one metrics registry. The helpers register on it and never on prom-client's global
 * registry, so two services built in one process (standalone, tests) never collide.
 */
export interface Metrics {
  readonly registry: Registry;
  counter<T extends string>(config: Omit<CounterConfiguration<T>, 'registers'>): Counter<T>;
  gauge<T extends string>(config: Omit<GaugeConfiguration<T>, 'registers'>): Gauge<T>;
  histogram<T extends string>(config: Omit<HistogramConfiguration<T>, 'registers'>): Histogram<T>;
  summary<T extends string>(config: Omit<SummaryConfiguration<T>, 'registers'>): Summary<T>;
  /** The exposition text and the content type to serve it with. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ ...options.labels, service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    counter: (config) => new Counter({ ...config, registers }),
    gauge: (config) => new Gauge({ ...config, registers }),
    histogram: (config) => new Histogram({ ...config, registers }),
    summary: (config) => new Summary({ ...config, registers }),
    scrape: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
