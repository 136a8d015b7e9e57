import type { Counter, Gauge, Histogram, Metrics } from '@switchboard/kit';

/** The edge's series on the process registry (ARCHITECTURE.md, "observability"). */
export interface EdgeMetrics {
  readonly connections: Counter<'transport'>;
  readonly openConnections: Gauge<'transport'>;
  readonly logins: Counter<'result'>;
  readonly registrations: Counter<'result'>;
  readonly stanzasIn: Counter<'kind'>;
  readonly stanzasOut: Counter;
  readonly bytesIn: Counter<'transport'>;
  readonly bytesOut: Counter;
  readonly parseErrors: Counter<'condition'>;
  readonly streamErrors: Counter<'condition'>;
  readonly deliveryLag: Histogram;
  readonly publishFailures: Counter;
}

export function createEdgeMetrics(metrics: Metrics): EdgeMetrics {
  return {
    connections: metrics.counter({
      name: 'edge_connections_total',
      help: 'Client connections accepted',
      labelNames: ['transport'],
    }),
    openConnections: metrics.gauge({
      name: 'edge_open_connections',
      help: 'Client connections open now',
      labelNames: ['transport'],
    }),
    logins: metrics.counter({
      name: 'edge_logins_total',
      help: 'SASL attempts by outcome',
      labelNames: ['result'],
    }),
    registrations: metrics.counter({
      name: 'edge_registrations_total',
      help: 'XEP-0077 registrations by outcome',
      labelNames: ['result'],
    }),
    stanzasIn: metrics.counter({
      name: 'edge_stanzas_in_total',
      help: 'Stanzas read from clients',
      labelNames: ['kind'],
    }),
    stanzasOut: metrics.counter({ name: 'edge_stanzas_out_total', help: 'Deliveries written to clients' }),
    bytesIn: metrics.counter({
      name: 'edge_bytes_in_total',
      help: 'Bytes read from clients',
      labelNames: ['transport'],
    }),
    bytesOut: metrics.counter({ name: 'edge_bytes_out_total', help: 'Delivery bytes written to clients' }),
    parseErrors: metrics.counter({
      name: 'edge_parse_errors_total',
      help: 'Streams closed for XML or limit violations',
      labelNames: ['condition'],
    }),
    streamErrors: metrics.counter({
      name: 'edge_stream_errors_total',
      help: 'Stream errors sent',
      labelNames: ['condition'],
    }),
    deliveryLag: metrics.histogram({
      name: 'edge_delivery_lag_seconds',
      help: 'From a stanza entering the system to its delivery being written',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    publishFailures: metrics.counter({
      name: 'edge_publish_failures_total',
      help: 'Envelopes the bus refused',
    }),
  };
}
