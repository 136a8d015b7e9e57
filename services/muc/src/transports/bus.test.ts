import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBus, type Bus } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import {
  ENVELOPE_VERSION,
  Groups,
  Streams,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
} from '@switchboard/protocol';
import { Inbox, startRedisServer, type RedisServer } from '@switchboard/testkit';
import { xml, type Element } from '@switchboard/xml';
import { busTransport } from './index.js';

const DOMAIN = 'conference.example.com';
const logger = createLogger({ service: 'muc-bus-test', level: 'silent' });

let server: RedisServer;
let bus: Bus;

beforeAll(async () => {
  server = await startRedisServer();
  bus = createRedisBus({ url: server.url });
});

afterAll(async () => {
  await bus.close();
  await server.dispose();
});

function envelope(body: string): string {
  const stanza = xml(
    'message',
    { from: 'juliet@example.com/balcony', to: `room@${DOMAIN}`, type: 'groupchat' },
    xml('body', {}, body),
  );
  const e: Envelope = {
    v: ENVELOPE_VERSION,
    id: randomUUID(),
    kind: 'message',
    edgeId: 'edge-1',
    sessionId: 's-1',
    from: 'juliet@example.com/balcony',
    to: `room@${DOMAIN}`,
    type: 'groupchat',
    stanzaId: '',
    xml: stanza.toString(),
    ts: Date.now(),
  };
  return encodeEnvelope(e);
}

describe('the MUC bus transport', () => {
  it('takes over what a dead instance left pending before it reads new stanzas', async () => {
    const stream = Streams.service(DOMAIN);
    await bus.ensureGroup(stream, Groups.service);
    await bus.publish(stream, envelope('left behind'));
    // An instance that read the entry and died before acking it.
    const dead = new Inbox<string>();
    const deadConsumer = bus.consume({
      streams: [stream],
      group: Groups.service,
      consumer: 'dead-instance',
      autoAck: false,
      handler: (entries) => {
        for (const entry of entries) dead.push(entry.id);
        return Promise.resolve();
      },
    });
    await dead.waitFor(() => true, 'the dead instance read');
    await deadConsumer.stop();
    expect((await bus.pending(stream, Groups.service)).count).toBe(1);

    const received = new Inbox<Element>();
    const transport = busTransport({
      bus,
      domain: DOMAIN,
      partitions: 4,
      consumer: 'heir',
      logger,
      claimPending: true,
    });
    await transport.start((el) => {
      received.push(el);
      return Promise.resolve();
    });
    await bus.publish(stream, envelope('new'));
    await received.waitFor((el) => el.getChildText('body') === 'new', 'the new stanza', 10_000);
    expect(received.items.map((el) => el.getChildText('body'))).toEqual(['left behind', 'new']);
    await transport.stop();
    expect((await bus.pending(stream, Groups.service)).count).toBe(0);
  });

  it('publishes replies to the recipient partition for inbound processing, a broadcast in one batch', async () => {
    const transport = busTransport({ bus, domain: DOMAIN, partitions: 4, consumer: 'sender', logger });
    const to = 'romeo@example.net/orchard';
    const route = Streams.route(partitionOf('romeo@example.net', 4));
    const before = await bus.length(route);
    await Promise.all([
      transport.send(xml('presence', { from: `room@${DOMAIN}/juliet`, to })),
      transport.send(
        xml('message', { from: `room@${DOMAIN}/juliet`, to, type: 'groupchat' }, xml('body', {}, 'hi')),
      ),
    ]);
    expect(await bus.length(route)).toBe(before + 2);
    const seen = new Inbox<Envelope>();
    const reader = bus.consume({
      streams: [route],
      group: `check-${randomUUID()}`,
      consumer: 'check',
      handler: (entries) => {
        for (const entry of entries) seen.push(decodeEnvelope(entry.payload));
        return Promise.resolve();
      },
    });
    const message = await seen.waitFor((e) => e.kind === 'message' && e.to === to, 'the published message');
    expect(message).toMatchObject({ stage: 'in', from: `room@${DOMAIN}/juliet`, type: 'groupchat' });
    await reader.stop();
    await transport.stop();
  });
});
