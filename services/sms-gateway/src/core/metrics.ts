import type { Counter, Histogram, Metrics } from '@switchboard/kit';

/** The gateway's metrics (issue #6: sent, failed, queued, segments, provider latency, report outcomes). */
export interface GatewayMetrics {
  readonly queued: Counter;
  readonly sent: Counter;
  readonly failed: Counter<'reason'>;
  readonly segments: Counter;
  readonly providerLatency: Histogram;
  readonly reports: Counter<'status'>;
  readonly inbound: Counter<'kind'>;
}

export function createGatewayMetrics(metrics: Metrics): GatewayMetrics {
  return {
    queued: metrics.counter({ name: 'sms_queued_total', help: 'Outbound SMS accepted into the queue' }),
    sent: metrics.counter({ name: 'sms_sent_total', help: 'Outbound SMS the provider accepted' }),
    failed: metrics.counter({
      name: 'sms_failed_total',
      help: 'Outbound SMS that failed for good',
      labelNames: ['reason'],
    }),
    segments: metrics.counter({
      name: 'sms_segments_total',
      help: 'Segments of the SMS the provider accepted',
    }),
    providerLatency: metrics.histogram({
      name: 'sms_provider_send_seconds',
      help: 'Time the provider took to accept one SMS',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    reports: metrics.counter({
      name: 'sms_delivery_reports_total',
      help: 'Delivery reports by outcome',
      labelNames: ['status'],
    }),
    inbound: metrics.counter({
      name: 'sms_inbound_total',
      help: 'Inbound SMS by what became of them',
      labelNames: ['kind'],
    }),
  };
}
