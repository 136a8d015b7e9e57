// Federation between embedded Switchboard (ejsb.example.com) and ejabberd 23.01 from Debian
// (ej.example.net). Both find each other the way servers on the Internet do, by SRV
// `_xmpp-server._tcp` records, here served by a DNS server of the test on a loopback port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { freePort } from '../support/prosody.js';
import { startDnsServer, type DnsZone, type TestDnsServer } from './dns.js';
import { startFederatingEjabberd, type FederatingEjabberd } from './ejabberd.js';
import { CA, TLS_CERT, TLS_KEY } from './harness.js';
import { buildFederatingSwitchboard, chat, login, sentBy, subscribe, type User } from './interop.js';

const SB = 'ejsb.example.com';
const EJ = 'ej.example.net';

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
    sb = buildFederatingSwitchboard({
      name: 's2s-ejabberd',
      dataDir,
      domain: SB,
      s2s: {
        dns: true,
        dnsServers: [`127.0.0.1:${dns.port}`],
        connectTimeoutMs: 15_000,
      },
      logs,
    });
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
      await chat(alice, erin, 'e1', 'hi erin', 20_000);
      await chat(erin, alice, 'e2', 'hi alice', 20_000);
      expect(dns.queries).toContain(`SRV _xmpp-server._tcp.${EJ}`);
      expect(dns.queries).toContain(`SRV _xmpp-server._tcp.${SB}`);
    } catch (error) {
      throw new Error(`${String(error)}\n${await report()}`);
    }
  }, 60_000);

  it('subscribes both ways and shows presence across the domains', async () => {
    try {
      await subscribe(alice, erin, 20_000);
      await subscribe(erin, alice, 20_000);
      // RFC 6121 §4.4.2: a change of presence reaches the remote subscriber.
      await alice.xmpp.send(xml('presence', {}, xml('show', {}, 'dnd')));
      await erin.inbox.next(
        (s) => s.is('presence') && sentBy(s, alice.bare) && s.getChildText('show') === 'dnd',
        'dnd of alice at erin',
        20_000,
      );
    } catch (error) {
      throw new Error(`${String(error)}\n${await report()}`);
    }
  }, 60_000);
});
