// The upload service as the cluster runs it: stanzas from `svc:{upload domain}` on the Redis bus, the
// quota ledger in Redis shared by two replicas, replies on the recipient's route partition, and a
// PUT token minted by one replica accepted by the other's file server.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBus, type Bus, type Consumer } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import {
  ENVELOPE_VERSION,
  Streams,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
} from '@switchboard/protocol';
import { Inbox, startRedisServer, type RedisServer } from '@switchboard/testkit';
import { parseElement, type Element } from '@switchboard/xml';
import { build, type UploadApp } from '../src/app.js';
import { toUploadConfig, uploadSettingsSchema } from '../src/config.js';
import { createRedisQuotaLedger } from '../src/quota/redis.js';
import { createLocalStorage } from '../src/storage/local.js';
import { busTransport } from '../src/transport.js';

const PARTITIONS = 4;
const UPLOAD_DOMAIN = 'upload.example.com';
const JULIET = 'juliet@example.com/balcony';

describe('the upload service on the Redis bus (cluster)', () => {
  let server: RedisServer;
  let dataDir: string;
  let redis: Redis;
  let buses: Bus[] = [];
  let replicas: UploadApp[] = [];
  let routeReader: Consumer;
  const replies = new Inbox<Element>();
  const routed: { stage: string | undefined; from: string; to: string }[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-upload-cluster-'));
    redis = new Redis(server.url);
    const settings = uploadSettingsSchema.parse({ maxFileSize: 1000, quota: { bytes: 1500 } });
    const config = toUploadConfig(settings, {
      domain: UPLOAD_DOMAIN,
      domains: ['example.com'],
      secret: 'cluster-test-secret-0123456789',
    });
    const logger = createLogger({ service: 'upload-cluster-test', level: 'silent' });
    // Shared storage (one directory stands in for a bucket) and one Redis, two replicas.
    const storage = createLocalStorage({ directory: join(dataDir, 'uploads') });
    for (const name of ['a', 'b']) {
      const bus = createRedisBus({ url: server.url });
      buses.push(bus);
      const replica = build(config, {
        transport: busTransport({
          bus,
          domain: UPLOAD_DOMAIN,
          partitions: PARTITIONS,
          consumer: name,
          logger,
        }),
        storage,
        ledger: createRedisQuotaLedger({ redis, limits: { bytes: 1500, windowMs: 3600_000 } }),
        logger,
      });
      await replica.start({ port: 0, host: '127.0.0.1' });
      replicas.push(replica);
    }
    const reader = createRedisBus({ url: server.url });
    buses.push(reader);
    routeReader = reader.consume({
      streams: [Streams.route(partitionOf('juliet@example.com', PARTITIONS))],
      group: 'test-router',
      consumer: 'test',
      handler: async (entries) => {
        for (const entry of entries) {
          const envelope = decodeEnvelope(entry.payload);
          routed.push({ stage: envelope.stage, from: envelope.from, to: envelope.to });
          replies.push(parseElement(envelope.xml));
        }
        return Promise.resolve();
      },
    });
  });

  afterAll(async () => {
    await routeReader?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all(buses.map((b) => b.close()));
    buses = [];
    replicas = [];
    await redis?.quit();
    await server?.dispose();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function request(size: number): Promise<Element> {
    const id = randomUUID();
    const xml = `<iq type='get' id='${id}' to='${UPLOAD_DOMAIN}' from='${JULIET}'><request xmlns='urn:xmpp:http:upload:0' filename='a.txt' size='${size}' content-type='text/plain'/></iq>`;
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      id: randomUUID(),
      kind: 'iq',
      edgeId: 'edge-1',
      sessionId: 's-1',
      from: JULIET,
      to: UPLOAD_DOMAIN,
      type: 'get',
      stanzaId: id,
      xml,
      ts: Date.now(),
    };
    await buses[0]!.publish(Streams.service(UPLOAD_DOMAIN), encodeEnvelope(envelope));
    return replies.waitFor((s) => s.attrs['id'] === id, `the answer to ${id}`, 15_000);
  }

  it('answers slot requests from the service stream and keeps one quota across replicas', async () => {
    const granted: Element[] = [];
    // Two replicas consume the same group: whichever answers, the Redis ledger counts every grant.
    for (let i = 0; i < 3; i++) granted.push(await request(500));
    for (const reply of granted) expect(reply.attrs['type']).toBe('result');
    // No stage: the router takes a component's stanza on its outbound path, which routes it to the recipient.
    expect(new Set(routed.map((r) => JSON.stringify(r)))).toEqual(
      new Set([JSON.stringify({ from: UPLOAD_DOMAIN, to: JULIET })]),
    );
    const refused = await request(500);
    expect(refused.attrs['type']).toBe('error');
    expect(
      refused.getChild('error')?.getChild('resource-constraint', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
    ).toBeDefined();

    // A PUT URL minted by either replica is good on both file servers: the token is all they need.
    const slot = granted[0]!.getChild('slot', 'urn:xmpp:http:upload:0')!;
    const putUrl = new URL(slot.getChild('put')!.attrs['url']!);
    const body = Buffer.alloc(500, 7);
    for (const [index, replica] of replicas.entries()) {
      const target = new URL(
        putUrl.pathname + putUrl.search,
        replica.baseUrl().replace(UPLOAD_DOMAIN, '127.0.0.1'),
      );
      const put = await fetch(target, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body });
      expect(put.status).toBe(index === 0 ? 201 : 409);
    }
    const getUrl = new URL(slot.getChild('get')!.attrs['url']!);
    const got = await fetch(
      new URL(getUrl.pathname, replicas[1]!.baseUrl().replace(UPLOAD_DOMAIN, '127.0.0.1')),
    );
    expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
  });
});
