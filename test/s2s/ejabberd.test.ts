// Federation between embedded Switchboard (ejsb.example.com) and ejabberd 23.01 from Debian
// (ej.example.net). Both find each other the way servers on the Internet do, by SRV
// `_xmpp-server._tcp` records, here served by a DNS server of the test on a loopback port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build as buildSwitchboard, type Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { Inbox } from '../e2e/deployments.js';
import { quietLogger } from '../support/standalone.js';
import { startDnsServer, type DnsZone, type TestDnsServer } from './dns.js';
import { startFederatingEjabberd, type FederatingEjabberd } from './ejabberd.js';
import { CA, TLS_CERT, TLS_KEY } from './harness.js';
import { freePort } from '../support/prosody.js';

const SB = 'ejsb.example.com';
const EJ = 'ej.example.net';

interface User {
  readonly bare: string;
  readonly xmpp: Client;
  readonly inbox: Inbox;
}

async function login(port: number, domain: string, username: string, password: string): Promise<User> {
  const xmpp = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: 'test' });
  xmpp.reconnect.stop();
  const inbox = new Inbox();
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  (xmpp as unknown as { iqCallee: { set(ns: string, n: string, h: () => object): void } }).iqCallee.set(
    'jabber:iq:roster',
    'query',
    () => ({}),
  );
  await xmpp.start();
  await xmpp.send(xml('presence'));
  return { bare: `${username}@${domain}`, xmpp, inbox };
}

const from = (s: Element, bare: string): boolean =>
  ((s.attrs['from'] as string | undefined) ?? '').startsWith(bare);

describe('federation with ejabberd', () => {
  const logs: string[] = [];
  const zone: DnsZone = { srv: {}, a: { [`xmpp.${EJ}`]: ['127.0.0.1'] } };
  let dns: TestDnsServer;
  let dataDir: string;
  let sb: Standalone;
  let ejabberd: FederatingEjabberd;
  let alice: User;
  let erin: User;

  beforeAll(async () => {
    dns = await startDnsServer(zone);
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-s2s-ej-'));
    const ejS2sPort = await freePort();
    zone.srv![`_xmpp-server._tcp.${EJ}`] = [
      { priority: 0, weight: 5, port: ejS2sPort, target: `xmpp.${EJ}` },
    ];
    sb = buildSwitchboard(
      {
        dataDir,
        domains: [SB],
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          sasl: { fakeSaltSecret: 's2s-ejabberd-fake-salt-secret' },
        },
        s2s: {
          enabled: true,
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: null },
          dns: true,
          dnsServers: [`127.0.0.1:${dns.port}`],
          connectTimeoutMs: 15_000,
        },
      },
      { logger: quietLogger('s2s-ejabberd', logs) },
    );
    const ports = await sb.start();
    // ejabberd 23.01 asks DNS for SRV records (inet_res, our server) but resolves the SRV target with
    // the system's getaddrinfo (net:getaddrinfo), which only knows /etc/hosts: so the target is localhost.
    zone.srv![`_xmpp-server._tcp.${SB}`] = [
      { priority: 0, weight: 5, port: sb.s2sPorts()!.starttls, target: 'localhost' },
    ];
    await sb.store.accounts.create(`alice@${SB}`, await deriveCredentials('alice-pw'));
    ejabberd = await startFederatingEjabberd({
      domain: EJ,
      users: { erin: 'erin-pw' },
      dnsPort: dns.port,
      keyFile: TLS_KEY,
      certFile: TLS_CERT,
      caFile: CA,
      s2sPort: ejS2sPort,
    });
    alice = await login(ports.tcpPort, SB, 'alice', 'alice-pw');
    erin = await login(ejabberd.c2sPort, EJ, 'erin', 'erin-pw');
  }, 120_000);

  afterAll(async () => {
    await alice?.xmpp.stop().catch(() => undefined);
    await erin?.xmpp.stop().catch(() => undefined);
    await ejabberd?.stop();
    await sb?.close();
    await dns?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const report = async (): Promise<string> =>
    `${await ejabberd.diagnostics()}\nDNS queries: ${dns.queries.join(', ')}\nswitchboard:\n${logs.join('')}`;

  it('delivers messages both ways, each side finding the other by SRV', async () => {
    try {
      await alice.xmpp.send(
        xml('message', { to: erin.bare, type: 'chat', id: 'e1' }, xml('body', {}, 'hi erin')),
      );
      await erin.inbox.next(
        (s) => s.is('message') && from(s, alice.bare) && s.getChildText('body') === 'hi erin',
        'message from alice',
        20_000,
      );
      await erin.xmpp.send(
        xml('message', { to: alice.bare, type: 'chat', id: 'e2' }, xml('body', {}, 'hi alice')),
      );
      await alice.inbox.next(
        (s) => s.is('message') && from(s, erin.bare) && s.getChildText('body') === 'hi alice',
        'message from erin',
        20_000,
      );
      expect(dns.queries).toContain(`SRV _xmpp-server._tcp.${EJ}`);
      expect(dns.queries).toContain(`SRV _xmpp-server._tcp.${SB}`);
    } catch (error) {
      throw new Error(`${String(error)}\n${await report()}`);
    }
  }, 60_000);

  it('subscribes both ways and shows presence across the domains', async () => {
    try {
      await alice.xmpp.send(xml('presence', { to: erin.bare, type: 'subscribe' }));
      await erin.inbox.next(
        (s) => s.is('presence') && s.attrs['type'] === 'subscribe' && from(s, alice.bare),
        'subscribe at erin',
        20_000,
      );
      await erin.xmpp.send(xml('presence', { to: alice.bare, type: 'subscribed' }));
      await alice.inbox.next(
        (s) => s.is('presence') && s.attrs['type'] === undefined && from(s, erin.bare),
        'presence of erin at alice',
        20_000,
      );
      await erin.xmpp.send(xml('presence', { to: alice.bare, type: 'subscribe' }));
      await alice.inbox.next(
        (s) => s.is('presence') && s.attrs['type'] === 'subscribe' && from(s, erin.bare),
        'subscribe at alice',
        20_000,
      );
      await alice.xmpp.send(xml('presence', { to: erin.bare, type: 'subscribed' }));
      await erin.inbox.next(
        (s) => s.is('presence') && s.attrs['type'] === undefined && from(s, alice.bare),
        'presence of alice at erin',
        20_000,
      );
      // RFC 6121 §4.4.2: a change of presence reaches the remote subscriber.
      await alice.xmpp.send(xml('presence', {}, xml('show', {}, 'dnd')));
      await erin.inbox.next(
        (s) => s.is('presence') && from(s, alice.bare) && s.getChildText('show') === 'dnd',
        'dnd of alice at erin',
        20_000,
      );
    } catch (error) {
      throw new Error(`${String(error)}\n${await report()}`);
    }
  }, 60_000);
});
