// Federation between embedded Switchboard (sb.example.com) and Prosody 0.12 from Debian
// (pr.example.net), each on private ports; names resolve through static maps on both sides.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build as buildSwitchboard, type Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { xml as sbXml } from '@switchboard/xml';
import { negotiate } from '../../services/s2s/src/outbound.js';
import { Inbox, ROOT } from '../e2e/deployments.js';
import { errorCondition, quietLogger } from '../support/standalone.js';
import { freePort, startProsody, type Prosody } from '../support/prosody.js';

const SB = 'sb.example.com';
const PR = 'pr.example.net';
const TLS_KEY = join(ROOT, 'test/fixtures/tls/server.key');
const TLS_CERT = join(ROOT, 'test/fixtures/tls/server.pem');

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
  // Messages to a bare JID reach only available resources (RFC 6121 §8.5.2.1.1).
  await xmpp.send(xml('presence'));
  return { bare: `${username}@${domain}`, xmpp, inbox };
}

const chatFrom = (bare: string, body: string) => (s: Element) =>
  s.is('message') && (s.attrs['from'] as string).startsWith(bare) && s.getChildText('body') === body;

describe('federation with Prosody', () => {
  const logs: string[] = [];
  let dataDir: string;
  let sb: Standalone;
  let prosody: Prosody;
  let sbS2sPort: number;
  let alice: User;
  let bob: User;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-s2s-'));
    const prosodyS2sPort = await freePort();
    sb = buildSwitchboard(
      {
        dataDir,
        domains: [SB],
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          sasl: { fakeSaltSecret: 's2s-e2e-fake-salt-secret' },
        },
        s2s: {
          enabled: true,
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0 },
          staticHosts: { [PR]: `127.0.0.1:${prosodyS2sPort}` },
          dns: false,
          deny: ['denied.example.net'],
          connectTimeoutMs: 10_000,
        },
      },
      { logger: quietLogger('s2s-e2e', logs) },
    );
    const ports = await sb.start();
    sbS2sPort = sb.s2sPorts()!.starttls;
    await sb.store.accounts.create(`alice@${SB}`, await deriveCredentials('alice-pw'));
    prosody = await startProsody({
      domain: PR,
      users: { bob: 'bob-pw' },
      s2s: { port: prosodyS2sPort, peers: { [SB]: sbS2sPort } },
    });
    alice = await login(ports.tcpPort, SB, 'alice', 'alice-pw');
    bob = await login(prosody.c2sPort, PR, 'bob', 'bob-pw');
  });

  afterAll(async () => {
    await alice?.xmpp.stop().catch(() => undefined);
    await bob?.xmpp.stop().catch(() => undefined);
    await prosody?.stop();
    await sb?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const report = (): string => `${prosody.diagnostics()}\nswitchboard:\n${logs.join('')}`;

  it('delivers messages both ways', async () => {
    try {
      await alice.xmpp.send(
        xml('message', { to: bob.bare, type: 'chat', id: 'm1' }, xml('body', {}, 'hi bob')),
      );
      await bob.inbox.next(chatFrom(alice.bare, 'hi bob'), 'message from alice', 15_000);
      await bob.xmpp.send(
        xml('message', { to: alice.bare, type: 'chat', id: 'm2' }, xml('body', {}, 'hi alice')),
      );
      await alice.inbox.next(chatFrom(bob.bare, 'hi alice'), 'message from bob', 15_000);
    } catch (error) {
      throw new Error(`${String(error)}\n${report()}`);
    }
  });

  it('subscribes both ways and shows presence across the domains', async () => {
    try {
      // Alice asks; Bob approves and asks back; Alice approves (RFC 6121 §3.1).
      await alice.xmpp.send(xml('presence', { to: bob.bare, type: 'subscribe' }));
      await bob.inbox.next(
        (s) => s.is('presence') && s.attrs['type'] === 'subscribe' && s.attrs['from'] === alice.bare,
        'subscribe at bob',
        15_000,
      );
      await bob.xmpp.send(xml('presence', { to: alice.bare, type: 'subscribed' }));
      // Alice then gets Bob's current presence (RFC 6121 §3.1.5 / probe answered by Prosody).
      await alice.inbox.next(
        (s) =>
          s.is('presence') &&
          s.attrs['type'] === undefined &&
          (s.attrs['from'] as string).startsWith(bob.bare),
        'presence of bob at alice',
        15_000,
      );
      await bob.xmpp.send(xml('presence', { to: alice.bare, type: 'subscribe' }));
      await alice.inbox.next(
        (s) => s.is('presence') && s.attrs['type'] === 'subscribe' && s.attrs['from'] === bob.bare,
        'subscribe at alice',
        15_000,
      );
      await alice.xmpp.send(xml('presence', { to: bob.bare, type: 'subscribed' }));
      await bob.inbox.next(
        (s) =>
          s.is('presence') &&
          s.attrs['type'] === undefined &&
          (s.attrs['from'] as string).startsWith(alice.bare),
        'presence of alice at bob',
        15_000,
      );
      // A presence change is broadcast to the remote subscriber (RFC 6121 §4.4.2).
      await alice.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
      await bob.inbox.next(
        (s) =>
          s.is('presence') &&
          (s.attrs['from'] as string).startsWith(alice.bare) &&
          s.getChildText('show') === 'away',
        'away of alice at bob',
        15_000,
      );
    } catch (error) {
      throw new Error(`${String(error)}\n${report()}`);
    }
  });

  it('bounces a message to a domain that does not resolve with remote-server-not-found', async () => {
    await alice.xmpp.send(
      xml('message', { to: 'nobody@nowhere.invalid', type: 'chat', id: 'nx1' }, xml('body', {}, 'hello?')),
    );
    const error = await alice.inbox.next(
      (s) => s.is('message') && s.attrs['type'] === 'error' && s.attrs['id'] === 'nx1',
      'bounce',
      15_000,
    );
    expect(errorCondition(error)).toBe('remote-server-not-found');
    expect(error.attrs['from']).toBe('nobody@nowhere.invalid');
  });

  it('bounces a message to a denied domain and refuses its streams', async () => {
    await alice.xmpp.send(
      xml('message', { to: 'eve@denied.example.net', type: 'chat', id: 'deny1' }, xml('body', {}, 'hello?')),
    );
    const error = await alice.inbox.next(
      (s) => s.is('message') && s.attrs['type'] === 'error' && s.attrs['id'] === 'deny1',
      'bounce',
      15_000,
    );
    expect(errorCondition(error)).toBe('policy-violation');
    const context = createSecureContext({ key: await readFile(TLS_KEY), cert: await readFile(TLS_CERT) });
    await expect(
      negotiate({
        target: { host: '127.0.0.1', port: sbS2sPort, directTls: false },
        local: 'denied.example.net',
        remote: SB,
        context,
        secret: 'unused-dialback-secret',
        dialbackAllowed: false,
        mode: 'authenticate',
        signal: AbortSignal.timeout(10_000),
      }),
    ).rejects.toThrow(/policy-violation/);
  });

  it('closes a stream that sends from a domain it did not authenticate with invalid-from', async () => {
    // The test CA's certificate names *.example.com, so this peer authenticates as mallory.example.com by
    // SASL EXTERNAL, then claims to speak for pr.example.net.
    const context = createSecureContext({ key: await readFile(TLS_KEY), cert: await readFile(TLS_CERT) });
    const stream = await negotiate({
      target: { host: '127.0.0.1', port: sbS2sPort, directTls: false },
      local: 'mallory.example.com',
      remote: SB,
      context,
      secret: 'unused-dialback-secret',
      dialbackAllowed: false,
      mode: 'authenticate',
      signal: AbortSignal.timeout(10_000),
    });
    expect(stream.method).toBe('external');
    const closed = new Promise<string>((resolve) => {
      stream.onElement(() => undefined);
      stream.onClosed((reason) => resolve(reason?.message ?? 'closed without error'));
    });
    const spoofed = sbXml(
      'message',
      { from: `bob@${PR}`, to: alice.bare, type: 'chat', id: 'spoof' },
      sbXml('body', {}, 'trust me'),
    );
    stream.conn.send(spoofed);
    expect(await closed).toMatch(/invalid-from/);
    // The spoofed message never reached Alice; an honest one from the same stream's domain would.
    const honest = await negotiate({
      target: { host: '127.0.0.1', port: sbS2sPort, directTls: false },
      local: 'mallory.example.com',
      remote: SB,
      context,
      secret: 'unused-dialback-secret',
      dialbackAllowed: false,
      mode: 'authenticate',
      signal: AbortSignal.timeout(10_000),
    });
    honest.conn.send(
      sbXml(
        'message',
        { from: 'm@mallory.example.com', to: alice.bare, type: 'chat', id: 'h1' },
        sbXml('body', {}, 'honest'),
      ),
    );
    await alice.inbox.next(chatFrom('m@mallory.example.com', 'honest'), 'honest message', 15_000);
    expect(alice.inbox.history.some((s) => s.getChildText('body') === 'trust me')).toBe(false);
    honest.conn.close();
  });
});
