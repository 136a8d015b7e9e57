import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('createMetrics', () => {
  it('gives each instance its own registry, so the same metric name never collides', async () => {
    const edge = createMetrics({ service: 'edge', defaultMetrics: false });
    const router = createMetrics({ service: 'router', defaultMetrics: false });
    const a = edge.counter({ name: 'stanzas_total', help: 'Stanzas seen', labelNames: ['kind'] });
    const b = router.counter({ name: 'stanzas_total', help: 'Stanzas seen', labelNames: ['kind'] });
    a.inc({ kind: 'message' }, 3);
    b.inc({ kind: 'message' });

    expect(edge.registry).not.toBe(router.registry);
    expect(await edge.registry.metrics()).toContain('stanzas_total{kind="message",service="edge"} 3');
    expect(await router.registry.metrics()).toContain('stanzas_total{kind="message",service="router"} 1');
    expect(globalRegistry.getSingleMetric('stanzas_total')).toBeUndefined();
  });

  it('collects default process metrics without a prefix, labelled with the service', async () => {
    const one = createMetrics({ service: 'edge', labels: { edge_id: 'e1' } });
    const two = createMetrics({ service: 'edge', labels: { edge_id: 'e2' } });
    const text = await one.registry.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{edge_id="e1",service="edge"\} /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes\{edge_id="e1",service="edge"\} /m);
    expect(await two.registry.metrics()).toMatch(
      /^process_resident_memory_bytes\{edge_id="e2",service="edge"\} /m,
    );
    expect(globalRegistry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
  });

  it('registers gauges, histograms and summaries on its own registry', async () => {
    const metrics = createMetrics({ service: 'router', defaultMetrics: false });
    metrics.gauge({ name: 'partitions_owned', help: 'Partitions this router leases' }).set(4);
    metrics.histogram({ name: 'route_seconds', help: 'Routing latency', buckets: [0.01, 0.1] }).observe(0.05);
    metrics.summary({ name: 'batch_size', help: 'Entries per read', percentiles: [0.5] }).observe(10);
    const { contentType, body } = await metrics.scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain('partitions_owned{service="router"} 4');
    expect(body).toContain('route_seconds_bucket{le="0.1",service="router"} 1');
    expect(body).toContain('batch_size{quantile="0.5",service="router"} 10');
  });
});
