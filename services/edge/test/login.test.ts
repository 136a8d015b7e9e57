import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, xml } from '@xmpp/client';
import { WebSocket } from 'ws';
import { createMetrics } from '@switchboard/kit';
import { NS } from '@switchboard/xml';
import { onlineClient, startEdge, type TestEdge } from './harness.js';

// Node 20 has no global WebSocket; @xmpp/websocket uses the global one.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

type XmppClient = ReturnType<typeof client>;

let t: TestEdge;
const metrics = createMetrics({ service: 'edge-test', defaultMetrics: false });

beforeAll(async () => {
  t = await startEdge({ websocket: { tls: true } }, metrics);
  await t.createAccount('alice', 'wonderland');
});

afterAll(async () => {
  await t.stop();
});

async function withClient<T>(
  service: string,
  run: (xmpp: XmppClient) => Promise<T>,
  resource = 'phone',
): Promise<T> {
  const xmpp = client({ service, domain: 'localhost', username: 'alice', password: 'wonderland', resource });
  xmpp.on('error', () => undefined);
  try {
    await onlineClient(xmpp);
    return await run(xmpp);
  } finally {
    await xmpp.stop().catch(() => undefined);
  }
}

async function exchangeThroughBus(xmpp: XmppClient, resource: string): Promise<void> {
  const full = `alice@localhost/${resource}`;
  expect(xmpp.jid?.toString()).toBe(full);
  const start = await t.routes.waitFor((e) => e.kind === 'session-start' && e.from === full, 'session-start');
  expect(start.edgeId).toBe(t.edge.edgeId);

  const id = `m-${resource}`;
  await xmpp.send(xml('message', { to: 'bob@localhost', type: 'chat', id }, xml('body', {}, 'hello bob')));
  const sent = await t.routes.waitFor(
    (e) => e.kind === 'message' && e.stanzaId === id,
    'the message envelope',
  );
  expect(sent).toMatchObject({ from: full, to: 'bob@localhost', type: 'chat', sessionId: start.sessionId });
  expect(sent.xml).toContain(`from="${full}"`);
  expect(sent.xml).toContain('hello bob');

  const received = new Promise<string>((resolve) => {
    xmpp.on('stanza', (stanza) => {
      if (stanza.is('message')) resolve(stanza.getChildText('body') ?? '');
    });
  });
  await t.deliver({
    v: 1,
    kind: 'stanza',
    id: `d-${resource}`,
    sessionId: start.sessionId,
    to: full,
    xml: `<message xmlns="jabber:client" from="bob@localhost/desk" to="${full}" type="chat"><body>hi alice</body></message>`,
    ts: Date.now(),
  });
  expect(await received).toBe('hi alice');
}

describe('@xmpp/client logs in and exchanges stanzas through the bus', () => {
  it('over STARTTLS on the TCP port, encrypted', async () => {
    await withClient(
      `xmpp://127.0.0.1:${t.ports.tcpPort}`,
      async (xmpp) => {
        expect(xmpp.isSecure()).toBe(true);
        await exchangeThroughBus(xmpp, 'starttls');
      },
      'starttls',
    );
    await t.routes.waitFor(
      (e) => e.kind === 'session-end' && e.from === 'alice@localhost/starttls',
      'session-end',
    );
  });

  it('over direct TLS (XEP-0368)', async () => {
    await withClient(
      `xmpps://127.0.0.1:${t.ports.tlsPort}`,
      async (xmpp) => {
        expect(xmpp.isSecure()).toBe(true);
        await exchangeThroughBus(xmpp, 'direct');
      },
      'direct',
    );
  });

  it('over WebSocket (RFC 7395) on wss, which the edge counts as encrypted', async () => {
    // requireTls is on and insecure loopback is not allowed: SASL is offered only because the socket is TLS.
    await withClient(
      `wss://127.0.0.1:${t.ports.httpPort}/xmpp-websocket`,
      async (xmpp) => {
        expect(xmpp.isSecure()).toBe(true);
        await exchangeThroughBus(xmpp, 'websocket');
      },
      'websocket',
    );
    await t.routes.waitFor(
      (e) => e.kind === 'session-end' && e.from === 'alice@localhost/websocket',
      'session-end',
    );
  });

  it('rejects a wrong password with not-authorized', async () => {
    const xmpp = client({
      service: `xmpp://127.0.0.1:${t.ports.tcpPort}`,
      domain: 'localhost',
      username: 'alice',
      password: 'looking-glass',
    });
    xmpp.on('error', () => undefined);
    await expect(xmpp.start()).rejects.toMatchObject({ condition: 'not-authorized' });
    await xmpp.stop().catch(() => undefined);
  });

  it('advertises the WebSocket endpoint in host-meta (XEP-0156)', async () => {
    const base = `https://127.0.0.1:${t.ports.httpPort}`;
    const json = (await (await fetch(`${base}/.well-known/host-meta.json`)).json()) as {
      links: { rel: string; href: string }[];
    };
    expect(json.links).toContainEqual({
      rel: 'urn:xmpp:alt-connections:websocket',
      href: `wss://127.0.0.1:${t.ports.httpPort}/xmpp-websocket`,
    });
    const xrd = await (await fetch(`${base}/.well-known/host-meta`)).text();
    expect(xrd).toContain("rel='urn:xmpp:alt-connections:websocket'");
    expect(xrd).toContain('http://docs.oasis-open.org/ns/xri/xrd-1.0');
  });

  it('refuses a WebSocket handshake without the xmpp subprotocol', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${t.ports.httpPort}/xmpp-websocket`);
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(1002);
  });

  it('counts connections, logins and stanzas in the metrics registry', async () => {
    await withClient(`xmpps://127.0.0.1:${t.ports.tlsPort}`, (xmpp) => xmpp.send(xml('presence')), 'metrics');
    await t.routes.waitFor((e) => e.kind === 'presence' && e.from === 'alice@localhost/metrics', 'presence');
    const { body } = await metrics.scrape();
    expect(body).toMatch(/edge_connections_total\{transport="tls",service="edge-test"\} [1-9]/);
    expect(body).toMatch(/edge_logins_total\{result="ok",service="edge-test"\} [1-9]/);
    expect(body).toMatch(/edge_stanzas_in_total\{kind="presence",service="edge-test"\} [1-9]/);
    expect(body).toMatch(/edge_delivery_lag_seconds_count\{service="edge-test"\} [1-9]/);
  });

  it('frames WebSocket streams with <open/> and answers in the framing namespace', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${t.ports.httpPort}/xmpp-websocket`, ['xmpp']);
    const frames: string[] = [];
    const gotFeatures = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        frames.push(data.toString());
        if (data.toString().includes('features')) resolve();
      }),
    );
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send(`<open xmlns="${NS.FRAMING}" to="localhost" version="1.0"/>`);
    await gotFeatures;
    expect(frames[0]).toMatch(/^<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"[^>]* from="localhost"/);
    expect(frames[1]).toContain('SCRAM-SHA-256');
    ws.close();
  });
});
