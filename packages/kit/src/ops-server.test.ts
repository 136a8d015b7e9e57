import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { buildOpsServer, type OpsServer } from './ops-server.js';
import { createShutdown } from './shutdown.js';
import { captureLogs } from './test/capture-logs.js';

let app: OpsServer | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(ready: () => boolean | Promise<boolean>, withShutdown = false) {
  const logs = captureLogs();
  const logger = createLogger({ service: 'edge', destination: logs.destination });
  const metrics = createMetrics({ service: 'edge', defaultMetrics: false });
  const shutdown = createShutdown({ logger });
  app = buildOpsServer({ metrics, ready, logger, ...(withShutdown ? { shutdown } : {}) });
  return { app, metrics, shutdown, logs };
}

describe('buildOpsServer', () => {
  it('answers /healthz with 200 ok', async () => {
    const res = await build(() => false).app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 while ready and 503 once not', async () => {
    let ready = true;
    const { app } = build(() => Promise.resolve(ready));
    const up = await app.inject({ method: 'GET', url: '/readyz' });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toEqual({ status: 'ready' });
    ready = false;
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ status: 'not-ready' });
  });

  it('answers /readyz with 503 when the readiness check throws, and logs why', async () => {
    const { app, logs } = build(() => {
      throw new Error('redis down');
    });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect(logs.lines.find((l) => l['msg'] === 'readiness check failed')).toMatchObject({
      level: 'warn',
      err: { message: 'redis down' },
    });
  });

  it('answers /readyz with 503 draining as soon as shutdown starts', async () => {
    const { app, shutdown } = build(() => true, true);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    let release!: () => void;
    shutdown.register('hold', 'drain', () => new Promise<void>((resolve) => (release = resolve)));
    const done = shutdown.run('test');
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'draining' });
    release();
    await done;
  });

  it('serves the process registry on /metrics in Prometheus text format', async () => {
    const { app, metrics } = build(() => true);
    metrics.counter({ name: 'sessions_opened_total', help: 'Sessions opened' }).inc(2);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toContain('# TYPE sessions_opened_total counter');
    expect(res.body).toContain('sessions_opened_total{service="edge"} 2');
  });

  it('does not log probe requests at info level', async () => {
    const { app, logs } = build(() => true);
    await app.inject({ method: 'GET', url: '/healthz' });
    expect(logs.lines.filter((l) => l['level'] === 'info')).toEqual([]);
  });
});
