import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@switchboard/kit';
import { mucConfigSchema, toMucConfig } from './config.js';

describe('muc config', () => {
  it('reads the environment docker-compose.yml gives the muc service', () => {
    const file = loadConfig(mucConfigSchema, {
      env: {
        SWITCHBOARD_REDIS_URL: 'redis://redis:6379',
        SWITCHBOARD_DOMAIN: 'conference.example.com',
        SWITCHBOARD_TRANSPORT: '{"kind":"bus","partitions":64}',
        SWITCHBOARD_HTTP__HOST: '0.0.0.0',
        SWITCHBOARD_HTTP__PORT: '9280',
        SWITCHBOARD_LEASE__TTL_MS: '5000',
        SWITCHBOARD_ROOM_DEFAULTS__PERSISTENT: 'true',
      },
    });
    expect(file).toMatchObject({
      domain: 'conference.example.com',
      transport: { kind: 'bus', partitions: 64 },
      redisUrl: 'redis://redis:6379',
      lease: { ttlMs: 5000 },
      http: { port: 9280, host: '0.0.0.0' },
    });
    expect(toMucConfig(file)).toEqual({
      domain: 'conference.example.com',
      name: 'Chatrooms',
      roomDefaults: { persistent: true },
      historyDefault: 20,
      historyMax: 100,
    });
  });

  it('defaults to conference.localhost on the bus, and rejects a bad history size', () => {
    expect(loadConfig(mucConfigSchema, { env: {} })).toMatchObject({
      domain: 'conference.localhost',
      transport: { kind: 'bus' },
    });
    expect(() => loadConfig(mucConfigSchema, { env: { SWITCHBOARD_HISTORY__DEFAULT: '-1' } })).toThrow(
      ConfigError,
    );
  });
});
