import { afterEach, describe, expect, it } from 'vitest';
import { createServiceRuntime, type ServiceRuntime } from './service-runtime.js';
import { captureLogs } from './test/capture-logs.js';

let runtime: ServiceRuntime | undefined;
afterEach(async () => {
  await runtime?.ops.close();
  runtime = undefined;
});

function boot() {
  const logs = captureLogs();
  runtime = createServiceRuntime({
    service: 'muc',
    bindings: { domain: 'conference.example.com' },
    destination: logs.destination,
    defaultMetrics: false,
  });
  return { runtime, logs };
}

describe('createServiceRuntime', () => {
  it('answers /readyz 503 until the service sets ready, and again once it clears it', async () => {
    const { runtime } = boot();
    expect((await runtime.ops.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    runtime.ready = true;
    expect(runtime.ready).toBe(true);
    expect((await runtime.ops.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    runtime.ready = false;
    expect((await runtime.ops.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
  });

  it('answers /readyz 503 once shutdown starts, though ready is set', async () => {
    const { runtime } = boot();
    runtime.ready = true;
    await runtime.shutdown.run('test');
    const res = await runtime.ops.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'draining' });
  });

  it('serves the service metrics registry on /metrics', async () => {
    const { runtime } = boot();
    runtime.metrics.gauge({ name: 'rooms_open', help: 'Rooms open' }).set(3);
    const res = await runtime.ops.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toContain('rooms_open{service="muc"} 3');
  });

  it('logs a Redis connection error as a warning with the service bindings', () => {
    const { runtime, logs } = boot();
    runtime.onConnectionError(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'redis connection error',
        service: 'muc',
        domain: 'conference.example.com',
        err: expect.objectContaining({ message: 'connect ECONNREFUSED 127.0.0.1:6379' }) as unknown,
      }),
    );
  });
});
