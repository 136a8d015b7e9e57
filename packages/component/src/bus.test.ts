import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus, type Bus } from '@switchboard/bus';
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
import { Inbox } from '@switchboard/testkit';
import { xml, type Element } from '@switchboard/xml';
import { busTransport } from './bus.js';
import type { Incoming, Transport } from './transport.js';

const DOMAIN = 'svc.example.com';
const PARTITIONS = 8;
const logger = createLogger({ service: 'component-bus-test', level: 'silent' });

let bus: Bus;
let transport: Transport | undefined;

afterEach(async () => {
  await transport?.stop();
  transport = undefined;
  await bus.close();
});

/** Every envelope published to `stream` from now on. */
function watch(stream: string): Inbox<Envelope> {
  const seen = new Inbox<Envelope>();
  bus.consume({
    streams: [stream],
    group: `check-${randomUUID()}`,
    consumer: 'check',
    handler: (entries) => {
      for (const entry of entries) seen.push(decodeEnvelope(entry.payload));
      return Promise.resolve();
    },
  });
  return seen;
}

function inbound(id: string, from: string, stanza: Element): string {
  const e: Envelope = {
    v: ENVELOPE_VERSION,
    id,
    kind: 'message',
    edgeId: 'edge-1',
    sessionId: 's-1',
    from,
    to: stanza.attrs['to'] ?? '',
    type: stanza.attrs['type'] ?? '',
    stanzaId: stanza.attrs['id'] ?? '',
    xml: stanza.toString(),
    ts: Date.now(),
  };
  return encodeEnvelope(e);
}

describe('busTransport', () => {
  it('publishes a stanza as an envelope on the route partition of the bare recipient, no stage by default', async () => {
    bus = createMemoryBus();
    transport = busTransport({ bus, domain: DOMAIN, partitions: PARTITIONS, consumer: 'c', logger });
    const to = 'romeo@example.net/orchard';
    const route = Streams.route(partitionOf('romeo@example.net', PARTITIONS));
    const seen = watch(route);
    await transport.send(xml('message', { from: `bot@${DOMAIN}`, to, id: 'm1', type: 'chat' }, 'hi'));
    const e = await seen.waitFor((x) => x.stanzaId === 'm1', 'the published envelope', 10_000);
    expect(e).toMatchObject({ kind: 'message', from: `bot@${DOMAIN}`, to, type: 'chat', edgeId: '' });
    expect(e.stage).toBeUndefined();
    expect(e.xml).toContain('hi');
  });

  it('stamps stage in and batches the sends of one tick when asked', async () => {
    bus = createMemoryBus();
    transport = busTransport({
      bus,
      domain: DOMAIN,
      partitions: PARTITIONS,
      consumer: 'c',
      logger,
      stage: 'in',
      batchSends: true,
    });
    const to = 'juliet@example.com';
    const route = Streams.route(partitionOf(to, PARTITIONS));
    const seen = watch(route);
    await Promise.all([
      transport.send(xml('presence', { from: `room@${DOMAIN}/a`, to, id: 'p1' })),
      transport.send(xml('presence', { from: `room@${DOMAIN}/b`, to, id: 'p2' })),
    ]);
    const p1 = await seen.waitFor((x) => x.stanzaId === 'p1', 'the first envelope', 10_000);
    const p2 = await seen.waitFor((x) => x.stanzaId === 'p2', 'the second envelope', 10_000);
    expect([p1.stage, p2.stage]).toEqual(['in', 'in']);
    await expect(transport.send(xml('message', { from: `room@${DOMAIN}` }))).rejects.toThrow(/from and to/);
  });

  it('hands the consumer each stanza with from stamped from the envelope, skipping unreadable entries', async () => {
    bus = createMemoryBus();
    transport = busTransport({ bus, domain: DOMAIN, partitions: PARTITIONS, consumer: 'c', logger });
    const received = new Inbox<{ el: Element; incoming: Incoming }>();
    let online = 0;
    await transport.start(
      (el, incoming) => {
        received.push({ el, incoming });
        return Promise.resolve();
      },
      { online: () => online++ },
    );
    expect(online).toBe(1);
    const stream = Streams.service(DOMAIN);
    await bus.ensureGroup(stream, Groups.service);
    await bus.publish(stream, 'not an envelope');
    // The stanza's own from is a claim; the edge stamped the envelope's.
    const forged = xml('message', { from: 'mallory@evil.example', to: `bot@${DOMAIN}`, id: 'x1' }, 'yo');
    await bus.publish(stream, inbound('env-1', 'alice@example.com/phone', forged));
    const got = await received.waitFor(() => true, 'the stanza', 10_000);
    expect(got.el.attrs['from']).toBe('alice@example.com/phone');
    expect(got.el.attrs['id']).toBe('x1');
    expect(got.incoming.id).toBe('env-1');
    expect(received.items).toHaveLength(1);
  });
});
