import { loadConfig } from '@switchboard/kit';
import { describe, expect, it } from 'vitest';
import { routerConfigSchema, toRouterConfig } from './config.js';

describe('router config', () => {
  it('defaults to one router owning every partition of a localhost deployment', () => {
    const config = toRouterConfig(loadConfig(routerConfigSchema), 'router-a');
    expect(config).toEqual({
      routerId: 'router-a',
      domains: ['localhost'],
      components: [],
      partitions: 64,
      ownedPartitions: Array.from({ length: 64 }, (_, p) => p),
      batchSize: 100,
    });
  });

  it('takes domains, components and partitions from the environment and rejects what it does not know', () => {
    const config = toRouterConfig(
      loadConfig(routerConfigSchema, {
        env: {
          SWITCHBOARD_DOMAINS: '["example.com","example.net"]',
          SWITCHBOARD_COMPONENTS: '["sms.example.com"]',
          SWITCHBOARD_PARTITIONS: '4',
          SWITCHBOARD_OFFLINE_CAP: '50',
        },
      }),
      'router-b',
    );
    expect(config).toMatchObject({
      domains: ['example.com', 'example.net'],
      components: ['sms.example.com'],
      ownedPartitions: [0, 1, 2, 3],
      offlineCap: 50,
    });
    expect(() => loadConfig(routerConfigSchema, { env: { SWITCHBOARD_NO_SUCH: '1' } })).toThrow(
      /NO_SUCH|no_such/i,
    );
  });
});
