import { hostname } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBus, type Bus } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import { decodeEnvelope, partitionOf, Streams, type Envelope } from '@switchboard/protocol';
import { Inbox, startRedisServer, type RedisServer } from '@switchboard/testkit';
import { xml } from '@switchboard/xml';
import { busTransport } from './bus.js';
import {
  chooseTransport,
  type ChooseTransportOptions,
  type ChosenBusOptions,
  type TransportSettings,
} from './choose-transport.js';

const DOMAIN = 'svc.example.com';
const PARTITIONS = 8;

let server: RedisServer;
const closing: Bus[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterEach(async () => {
  await Promise.all(closing.splice(0).map((bus) => bus.close()));
});
afterAll(async () => {
  await server.dispose();
});

function choose(settings: TransportSettings, overrides: Partial<ChooseTransportOptions> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'component-choose-test',
    destination: { write: (chunk: string) => void lines.push(JSON.parse(chunk) as Record<string, unknown>) },
  });
  const chosen = chooseTransport(settings, {
    domain: DOMAIN,
    runtime: { logger, onConnectionError: () => {} },
    consumerSuffix: 'svc',
    reachable: 'service',
    ...overrides,
  });
  if (chosen.bus !== undefined) closing.push(chosen.bus);
  return { ...chosen, lines };
}

describe('chooseTransport', () => {
  it('runs the XEP-0114 transport on no bus, with no warning', () => {
    const { bus, transport, lines } = choose({
      transport: { kind: 'component', service: 'xmpp://127.0.0.1:5347', secret: 's3cr3t' },
      redisUrl: server.url,
    });
    expect(bus).toBeUndefined();
    expect(transport).toHaveProperty('online');
    expect(lines).toEqual([]);
  });

  it('hands the service its bus transport options, consumer <hostname>-<suffix> where the config names none', () => {
    const seen: ChosenBusOptions[] = [];
    const build = (options: ChosenBusOptions) => {
      seen.push(options);
      return busTransport(options);
    };
    const named = choose(
      { transport: { kind: 'bus', partitions: 4, consumer: 'c-1' } },
      { busTransport: build },
    );
    const unnamed = choose({ transport: { kind: 'bus', partitions: PARTITIONS } }, { busTransport: build });
    expect(
      seen.map(({ bus, domain, partitions, consumer }) => ({ bus, domain, partitions, consumer })),
    ).toEqual([
      { bus: named.bus, domain: DOMAIN, partitions: 4, consumer: 'c-1' },
      { bus: unnamed.bus, domain: DOMAIN, partitions: PARTITIONS, consumer: `${hostname()}-svc` },
    ]);
  });

  it('warns, naming what only this process can reach, when the bus is in-process', () => {
    const { lines } = choose(
      { transport: { kind: 'bus', partitions: PARTITIONS } },
      { reachable: 'gateway' },
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'bus transport without redisUrl: only this process can reach the gateway',
      }),
    );
  });

  it('publishes on Redis when given redisUrl, without the warning', async () => {
    const { transport, lines } = choose({
      transport: { kind: 'bus', partitions: PARTITIONS },
      redisUrl: server.url,
    });
    expect(lines).toEqual([]);
    const to = 'romeo@example.net';
    await transport.send(xml('message', { from: `bot@${DOMAIN}`, to, id: 'm1' }, 'hi'));
    // Another client of the same Redis reads what the chosen bus published.
    const check = createRedisBus({ url: server.url });
    closing.push(check);
    const route = Streams.route(partitionOf(to, PARTITIONS));
    await check.ensureGroup(route, 'check', '0');
    const seen = new Inbox<Envelope>();
    check.consume({
      streams: [route],
      group: 'check',
      consumer: 'check',
      handler: (entries) => {
        for (const entry of entries) seen.push(decodeEnvelope(entry.payload));
        return Promise.resolve();
      },
    });
    const e = await seen.waitFor((x) => x.stanzaId === 'm1', 'the envelope on Redis', 10_000);
    expect(e).toMatchObject({ from: `bot@${DOMAIN}`, to });
  });
});
