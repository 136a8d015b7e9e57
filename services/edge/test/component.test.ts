import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { client, xml as clientXml } from '@xmpp/client';
import { component, xml, type Component, type XmlElement } from '@xmpp/component';
import { createMemoryBus, type Bus, type Consumer } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import { build as buildRouter, createMemorySessionRegistry, type Router } from '@switchboard/router';
import {
  ENVELOPE_VERSION,
  Streams,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
} from '@switchboard/protocol';
import { openEmbeddedStore, type Store } from '@switchboard/store';
import { NS, StreamParser, parseElement, type Attrs, type Element } from '@switchboard/xml';
import { Inbox } from '@switchboard/testkit';
import { build, type Edge } from '../src/app.js';
import { deriveCredentials } from '../src/sasl/index.js';
import { PARTITIONS, TEST_TLS, startEdge, type TestEdge } from './harness.js';

const IRC = 'irc.localhost';
const SECRET = 'biboumi-shared-secret';
const COMPONENTS = [
  { domain: IRC, secret: SECRET },
  { domain: 'sms.localhost', secret: 'another-secret' },
];

interface TestComponent {
  readonly xmpp: Component;
  readonly stanzas: Inbox<XmlElement>;
  readonly errors: Inbox<{ condition?: string }>;
}

const started: Component[] = [];

/** An @xmpp/component client; its reconnect loop is off so a refused one stays down. */
function makeComponent(port: number, domain = IRC, password = SECRET): TestComponent {
  const xmpp = component({ service: `xmpp://127.0.0.1:${port}`, domain, password });
  xmpp.reconnect.stop();
  const stanzas = new Inbox<XmlElement>();
  const errors = new Inbox<{ condition?: string }>();
  // Without an 'error' listener the library's errors crash the process.
  xmpp.on('error', (error: { condition?: string }) => errors.push(error));
  xmpp.on('stanza', (el: XmlElement) => stanzas.push(el));
  started.push(xmpp);
  return { xmpp, stanzas, errors };
}

async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).map((c) => c.stop().catch(() => undefined)));
}

/** Reads one stream through a group of its own, so the test sees exactly what landed there. */
function tap(bus: Bus, stream: string): { envelopes: Inbox<Envelope>; consumer: Consumer } {
  const envelopes = new Inbox<Envelope>();
  const consumer = bus.consume({
    streams: [stream],
    group: 'component-test',
    consumer: 'test',
    handler: (entries) => {
      for (const entry of entries) envelopes.push(decodeEnvelope(entry.payload));
      return Promise.resolve();
    },
  });
  return { envelopes, consumer };
}

function envelopeFor(to: string, stanza: string, id: string): string {
  const envelope: Envelope = {
    v: ENVELOPE_VERSION,
    id,
    kind: 'message',
    edgeId: 'edge-x',
    sessionId: 'session-x',
    from: 'bob@localhost/phone',
    to,
    type: 'chat',
    stanzaId: id,
    xml: stanza,
    ts: Date.now(),
    stage: 'in',
  };
  return encodeEnvelope(envelope);
}

/** A component over a raw socket, for what a library would not send. */
class RawComponent {
  readonly elements = new Inbox<Element>();
  header: Attrs | null = null;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    const parser = new StreamParser({
      streamStart: (attrs) => {
        this.header = attrs;
      },
      stanza: (el) => this.elements.push(el),
      error: () => undefined,
    });
    socket.on('data', (chunk: Buffer) => parser.write(chunk));
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => undefined);
  }

  static async connect(port: number): Promise<RawComponent> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawComponent(socket);
  }

  send(data: string): void {
    this.socket.write(data);
  }

  async streamError(): Promise<string> {
    const el = await this.elements.waitFor((e) => e.is('error', NS.STREAMS), 'a stream error');
    return (
      el
        .getChildElements()
        .find((c) => c.getName() !== 'text')
        ?.getName() ?? ''
    );
  }
}

describe('XEP-0114 component listener', () => {
  let t: TestEdge;
  let port: number;

  beforeAll(async () => {
    t = await startEdge({
      components: COMPONENTS,
      ports: { starttls: 0, directTls: 0, http: 0, component: 0 },
    });
    port = t.ports.componentPort!;
  });

  afterEach(stopAll);

  afterAll(async () => {
    await t.stop();
  });

  it('accepts a component whose handshake matches the shared secret', async () => {
    const c = makeComponent(port);
    await c.xmpp.start();
    expect(c.xmpp.status).toBe('online');
    expect(c.xmpp.jid?.toString()).toBe(IRC);
  });

  it('closes the stream with not-authorized when the handshake does not match', async () => {
    const c = makeComponent(port, IRC, 'wrong-secret');
    await expect(c.xmpp.start()).rejects.toMatchObject({ condition: 'not-authorized' });
  });

  it('closes the stream with host-unknown for a domain that is not a configured component', async () => {
    const c = makeComponent(port, 'unknown.localhost', SECRET);
    await c.xmpp.start().catch(() => undefined);
    await c.errors.waitFor((e) => e.condition === 'host-unknown', 'host-unknown');
  });

  it('closes the stream with invalid-namespace when the header is not jabber:component:accept', async () => {
    const raw = await RawComponent.connect(port);
    raw.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS.STREAMS}' to='${IRC}'>`,
    );
    expect(await raw.streamError()).toBe('invalid-namespace');
    await raw.closed;
  });

  it('answers the header with the component domain and a stream id, and refuses stanzas before the handshake', async () => {
    const raw = await RawComponent.connect(port);
    // XEP-0114 §3, Example 1.
    raw.send(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='${NS.STREAMS}' to='${IRC}'>`);
    raw.send(`<message from='alice@${IRC}' to='bob@localhost'><body>early</body></message>`);
    expect(await raw.streamError()).toBe('not-authorized');
    expect(raw.header).toMatchObject({ xmlns: NS.COMPONENT, from: IRC });
    expect(raw.header?.['id']).toMatch(/^[0-9a-f]{32}$/);
    await raw.closed;
  });

  it('refuses a second connection for a domain already connected with conflict, keeping the first', async () => {
    const first = makeComponent(port);
    await first.xmpp.start();
    const second = makeComponent(port);
    await expect(second.xmpp.start()).rejects.toMatchObject({ condition: 'conflict' });

    await t.bus.publish(
      Streams.service(IRC),
      envelopeFor(
        `alice@${IRC}`,
        `<message xmlns="jabber:client" from="bob@localhost/phone" to="alice@${IRC}" type="chat" id="still-first"><body>x</body></message>`,
        'env-still-first',
      ),
    );
    await first.stanzas.waitFor((el) => el.attrs['id'] === 'still-first', 'the message on the first');
  });

  it('publishes a component stanza to the recipient partition for inbound processing', async () => {
    const partition = partitionOf('bob@localhost', PARTITIONS);
    const { envelopes, consumer } = tap(t.bus, Streams.route(partition));
    try {
      const c = makeComponent(port);
      await c.xmpp.start();
      await c.xmpp.send(
        xml(
          'message',
          { from: `Alice@${IRC}/irc`, to: 'bob@localhost', type: 'chat', id: 'c2s-1' },
          xml('body', {}, 'hello from IRC'),
        ),
      );
      const env = await envelopes.waitFor((e) => e.stanzaId === 'c2s-1', 'the envelope');
      expect(env).toMatchObject({
        kind: 'message',
        stage: 'in',
        from: `alice@${IRC}/irc`,
        to: 'bob@localhost',
        type: 'chat',
        edgeId: t.edge.edgeId,
      });
      expect(env.sessionId).not.toBe('');
      // The XML moved into jabber:client, with the normalized from, as every envelope carries it.
      const el = parseElement(env.xml);
      expect(el.is('message', NS.CLIENT)).toBe(true);
      expect(el.attrs['from']).toBe(`alice@${IRC}/irc`);
      expect(el.getChildText('body')).toBe('hello from IRC');
    } finally {
      await consumer.stop();
    }
  });

  it('sends stanzas for another domain through outbound routing (no stage)', async () => {
    const c = makeComponent(port);
    await c.xmpp.start();
    await c.xmpp.send(xml('message', { from: IRC, to: 'juliet@example.org', id: 'remote-1' }));
    const env = await t.routes.waitFor((e) => e.stanzaId === 'remote-1', 'the envelope');
    expect(env.stage).toBeUndefined();
    expect(env).toMatchObject({ from: IRC, to: 'juliet@example.org' });
  });

  it('answers a stanza without to with bad-request', async () => {
    const c = makeComponent(port);
    await c.xmpp.start();
    await c.xmpp.send(
      xml('iq', { from: IRC, type: 'get', id: 'no-to' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    const reply = await c.stanzas.waitFor((el) => el.attrs['id'] === 'no-to', 'the error');
    expect(reply.attrs['type']).toBe('error');
    expect(reply.getChild('error')?.getChild('bad-request')).toBeDefined();
  });

  it('closes the stream with invalid-from when the component speaks for another domain', async () => {
    const c = makeComponent(port);
    await c.xmpp.start();
    await c.xmpp.send(xml('message', { from: 'mallory@localhost', to: 'bob@localhost', id: 'spoof' }));
    await c.errors.waitFor((e) => e.condition === 'invalid-from', 'invalid-from');
  });

  it('writes svc entries to the component in order, in its namespace, including those queued while it was away', async () => {
    const stanza = (id: string): string =>
      `<message xmlns="jabber:client" from="bob@localhost/phone" to="alice@${IRC}" type="chat" id="${id}"><body>${id}</body></message>`;
    // No sms component is connected: these wait in svc:{sms.localhost}.
    await t.bus.publish(
      Streams.service('sms.localhost'),
      envelopeFor('+1555@sms.localhost', stanza('q1'), 'e-q1'),
    );
    await t.bus.publish(
      Streams.service('sms.localhost'),
      envelopeFor('+1555@sms.localhost', stanza('q2'), 'e-q2'),
    );

    const c = makeComponent(port, 'sms.localhost', 'another-secret');
    await c.xmpp.start();
    await t.bus.publish(
      Streams.service('sms.localhost'),
      envelopeFor('+1555@sms.localhost', stanza('q3'), 'e-q3'),
    );
    await c.stanzas.waitFor((el) => el.attrs['id'] === 'q3', 'q3');
    expect(c.stanzas.items.map((el) => el.attrs['id'])).toEqual(['q1', 'q2', 'q3']);
    const first = c.stanzas.items[0]!;
    // Top-level jabber:client is dropped so the stanza inherits jabber:component:accept.
    expect(first.attrs['xmlns']).toBeUndefined();
    expect(first.attrs['from']).toBe('bob@localhost/phone');
    expect(first.getChildText('body')).toBe('q1');

    // What was written was acked: a later connection gets only what came after.
    await c.xmpp.stop();
    const again = makeComponent(port, 'sms.localhost', 'another-secret');
    await again.xmpp.start();
    await t.bus.publish(
      Streams.service('sms.localhost'),
      envelopeFor('+1555@sms.localhost', stanza('q4'), 'e-q4'),
    );
    await again.stanzas.waitFor((el) => el.attrs['id'] === 'q4', 'q4');
    expect(again.stanzas.items.map((el) => el.attrs['id'])).toEqual(['q4']);
  });
});

describe('XEP-0114 component with the router', () => {
  let dir: string;
  let bus: Bus;
  let store: Store;
  let router: Router;
  let edge: Edge;
  let ports: Awaited<ReturnType<Edge['listen']>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-component-'));
    bus = createMemoryBus();
    store = openEmbeddedStore({ path: join(dir, 'store.db') });
    const logger = createLogger({ service: 'component-test', level: 'silent' });
    router = buildRouter(
      {
        routerId: 'router-test',
        domains: ['localhost'],
        components: [IRC],
        partitions: PARTITIONS,
        ownedPartitions: Array.from({ length: PARTITIONS }, (_, p) => p),
      },
      { bus, store, sessions: createMemorySessionRegistry(), logger },
    );
    await router.start();
    edge = build(
      {
        domains: ['localhost'],
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: 0, http: 0, component: 0 },
        dataDir: dir,
        partitions: PARTITIONS,
        sasl: { fakeSaltSecret: 'test-fake-salt-secret-0123456789' },
        components: [{ domain: IRC, secret: SECRET }],
      },
      { bus, store, logger, tls: TEST_TLS },
    );
    ports = await edge.listen();
    await store.accounts.create('romeo@localhost', await deriveCredentials('montague'));
  });

  afterEach(stopAll);

  afterAll(async () => {
    await edge.close();
    await router.stop();
    await bus.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('carries a message from a user to the component and its reply back', async () => {
    const irc = makeComponent(ports.componentPort!);
    await irc.xmpp.start();

    const user = client({
      service: `xmpp://127.0.0.1:${ports.tcpPort}`,
      domain: 'localhost',
      username: 'romeo',
      password: 'montague',
      resource: 'phone',
    });
    user.on('error', () => undefined);
    const received = new Inbox<string>();
    user.on('stanza', (el) => {
      if (el.is('message')) received.push(el.getChildText('body') ?? '');
    });
    try {
      await user.start();
      await user.send(
        clientXml(
          'message',
          { to: `alice@${IRC}`, type: 'chat', id: 'to-irc' },
          clientXml('body', {}, 'hi alice'),
        ),
      );
      const incoming = await irc.stanzas.waitFor(
        (el) => el.attrs['id'] === 'to-irc',
        'the message at the component',
      );
      expect(incoming.attrs['from']).toBe('romeo@localhost/phone');
      expect(incoming.attrs['to']).toBe(`alice@${IRC}`);
      expect(incoming.getChildText('body')).toBe('hi alice');

      await irc.xmpp.send(
        xml(
          'message',
          { from: `alice@${IRC}`, to: incoming.attrs['from'], type: 'chat', id: 'from-irc' },
          xml('body', {}, 'hi romeo'),
        ),
      );
      expect(await received.waitFor((body) => body === 'hi romeo', 'the reply at the user')).toBe('hi romeo');
    } finally {
      await user.stop().catch(() => undefined);
    }
  });
});
