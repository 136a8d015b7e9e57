// The s2s resolver (RFC 6120 §3.2, XEP-0368) through node:dns with setServers, against a real DNS
// server on a loopback port; and an outbound stream that DNS sends to a direct TLS port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver } from '../../services/s2s/src/resolver.js';
import { startDnsServer, type TestDnsServer } from './dns.js';
import { chatEnvelope, startS2sNode, type S2sNode } from './harness.js';

describe('s2s resolver over DNS', () => {
  let dns: TestDnsServer;
  const srv = {
    '_xmpps-server._tcp.mixed.example.net': [
      { priority: 20, weight: 0, port: 5270, target: 'late-tls.mixed.example.net' },
      { priority: 10, weight: 0, port: 5270, target: 'tls.mixed.example.net' },
    ],
    '_xmpp-server._tcp.mixed.example.net': [
      { priority: 10, weight: 0, port: 5269, target: 'plain.mixed.example.net' },
      { priority: 5, weight: 0, port: 15269, target: 'first.mixed.example.net' },
    ],
    '_xmpp-server._tcp.refused.example.net': [{ priority: 0, weight: 0, port: 0, target: '.' }],
  };
  const a = {
    'tls.mixed.example.net': ['127.0.0.2'],
    'late-tls.mixed.example.net': ['127.0.0.4'],
    'plain.mixed.example.net': ['127.0.0.3'],
    'first.mixed.example.net': ['127.0.0.1', '127.0.0.5'],
    'bare.example.net': ['127.0.0.6'],
  };

  beforeAll(async () => {
    dns = await startDnsServer({ srv, a });
  });

  afterAll(async () => {
    await dns?.close();
  });

  const resolver = (): ReturnType<typeof createResolver> =>
    createResolver({ staticHosts: {}, dns: true, servers: [`127.0.0.1:${dns.port}`], timeoutMs: 2000 });

  it('orders SRV targets by priority, direct TLS first within a priority, each resolved to its addresses', async () => {
    expect(await resolver().resolve('mixed.example.net')).toEqual({
      targets: [
        { host: '127.0.0.1', port: 15269, directTls: false },
        { host: '127.0.0.5', port: 15269, directTls: false },
        { host: '127.0.0.2', port: 5270, directTls: true },
        { host: '127.0.0.3', port: 5269, directTls: false },
        { host: '127.0.0.4', port: 5270, directTls: true },
      ],
    });
    expect(dns.queries).toEqual(
      expect.arrayContaining([
        'SRV _xmpps-server._tcp.mixed.example.net',
        'SRV _xmpp-server._tcp.mixed.example.net',
      ]),
    );
  });

  it('falls back to the A record on port 5269 when there is no SRV record', async () => {
    expect(await resolver().resolve('bare.example.net')).toEqual({
      targets: [{ host: '127.0.0.6', port: 5269, directTls: false }],
    });
  });

  it('treats a "." target as "no service here" and an unknown domain as not found', async () => {
    expect(await resolver().resolve('refused.example.net')).toEqual({ failure: 'not-found' });
    expect(await resolver().resolve('nowhere.example.net')).toEqual({ failure: 'not-found' });
  });

  it('answers from the static map without asking DNS', async () => {
    const before = dns.queries.length;
    const fixed = createResolver({
      staticHosts: { 'mixed.example.net': '127.0.0.9:7000' },
      dns: true,
      servers: [`127.0.0.1:${dns.port}`],
    });
    expect(await fixed.resolve('mixed.example.net')).toEqual({
      targets: [{ host: '127.0.0.9', port: 7000, directTls: false }],
    });
    expect(dns.queries.length).toBe(before);
  });
});

describe('s2s outbound over a direct TLS port found by _xmpps-server', () => {
  let dns: TestDnsServer;
  let remote: S2sNode;
  let local: S2sNode;

  beforeAll(async () => {
    remote = await startS2sNode('tls-only.example.net', { ports: { starttls: 0, directTls: 0 } });
    dns = await startDnsServer({
      srv: {
        '_xmpps-server._tcp.tls-only.example.net': [
          { priority: 0, weight: 0, port: remote.ports.directTls!, target: 'xmpp.tls-only.example.net' },
        ],
      },
      a: { 'xmpp.tls-only.example.net': ['127.0.0.1'] },
    });
    local = await startS2sNode('sb.example.com', { dns: true, dnsServers: [`127.0.0.1:${dns.port}`] });
  });

  afterAll(async () => {
    await local?.close();
    await remote?.close();
    await dns?.close();
  });

  it('delivers through TLS from the first byte', async () => {
    await local.send(
      chatEnvelope('alice@sb.example.com/a', 'bob@tls-only.example.net', 'x1', 'over direct TLS'),
    );
    const env = await remote.received.waitFor(
      (e) => e.stanzaId === 'x1',
      'the message at the remote',
      15_000,
    );
    expect(env).toMatchObject({ from: 'alice@sb.example.com/a', to: 'bob@tls-only.example.net' });
    expect(remote.logs.join('')).not.toContain('STARTTLS is required');
  });
});
