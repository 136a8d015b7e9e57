import { ConfigError, loadConfig } from '@switchboard/kit';
import { describe, expect, it } from 'vitest';
import { clusterConfigSchema, toClusterRouterConfig } from './config.js';

describe('cluster router config', () => {
  it('needs a Redis URL and starts owning nothing: leases decide', () => {
    expect(() => loadConfig(clusterConfigSchema)).toThrow(ConfigError);
    const file = loadConfig(clusterConfigSchema, {
      env: { SWITCHBOARD_REDIS_URL: 'redis://redis:6379', SWITCHBOARD_CLUSTER__LEASE_TTL_MS: '3000' },
    });
    expect(file.cluster).toEqual({
      leaseTtlMs: 3000,
      heartbeatMs: 1000,
      routerTtlMs: 5000,
      janitorIntervalMs: 2000,
      edgeTimeoutMs: 10_000,
    });
    expect(toClusterRouterConfig(file, 'host-42')).toMatchObject({
      routerId: 'host-42',
      partitions: 64,
      ownedPartitions: [],
    });
  });

  it('passes federation and client-feature settings through to the router core', () => {
    const file = loadConfig(clusterConfigSchema, {
      env: {
        SWITCHBOARD_REDIS_URL: 'redis://redis:6379',
        SWITCHBOARD_S2S_PARTITIONS: '16',
        SWITCHBOARD_MAM__RETENTION_DAYS: '30',
      },
    });
    const config = toClusterRouterConfig(file, 'host-42');
    expect(config.s2sPartitions).toBe(16);
    expect(config.mam).toMatchObject({ retentionDays: 30 });
  });

  it('rejects a heartbeat too slow to renew leases before they lapse', () => {
    expect(() =>
      loadConfig(clusterConfigSchema, {
        env: {
          SWITCHBOARD_REDIS_URL: 'redis://redis:6379',
          SWITCHBOARD_CLUSTER__LEASE_TTL_MS: '1000',
          SWITCHBOARD_CLUSTER__HEARTBEAT_MS: '600',
        },
      }),
    ).toThrow(/heartbeatMs must be under half of leaseTtlMs/);
  });
});
