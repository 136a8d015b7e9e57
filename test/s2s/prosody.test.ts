// Federation between embedded Switchboard (sb.example.com) and Prosody 0.12 from Debian
// (pr.example.net), each on private ports; names resolve through static maps on both sides.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { xml as sbXml } from '@switchboard/xml';
import { negotiate, type NegotiatedStream } from '../../services/s2s/src/outbound.js';
import { errorCondition } from '../support/standalone.js';
import { freePort, startProsody, type Prosody } from '../support/prosody.js';
import { TLS_CERT, TLS_KEY } from './harness.js';
import {
  buildFederatingSwitchboard,
  chat,
  chatFrom,
  login,
  sentBy,
  subscribe,
  type User,
} from './interop.js';

const SB = 'sb.example.com';
const PR = 'pr.example.net';

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
    sb = buildFederatingSwitchboard({
      name: 's2s-e2e',
      dataDir,
      domain: SB,
      s2s: {
        ports: { starttls: 0, directTls: 0 },
        staticHosts: { [PR]: `127.0.0.1:${prosodyS2sPort}` },
        deny: ['denied.example.net'],
        connectTimeoutMs: 10_000,
      },
      logs,
    });
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

  /** An s2s stream to Switchboard as `local`, authenticated by SASL EXTERNAL with the test certificate. */
  const negotiateAs = async (local: string): Promise<NegotiatedStream> =>
    negotiate({
      target: { host: '127.0.0.1', port: sbS2sPort, directTls: false },
      local,
      remote: SB,
      context: createSecureContext({ key: await readFile(TLS_KEY), cert: await readFile(TLS_CERT) }),
      secret: 'unused-dialback-secret',
      dialbackAllowed: false,
      mode: 'authenticate',
      signal: AbortSignal.timeout(10_000),
    });

  it('delivers messages both ways', async () => {
    try {
      await chat(alice, bob, 'm1', 'hi bob', 15_000);
      await chat(bob, alice, 'm2', 'hi alice', 15_000);
    } catch (error) {
      throw new Error(`${String(error)}\n${report()}`);
    }
  });

  it('subscribes both ways and shows presence across the domains', async () => {
    try {
      // Alice asks; Bob approves and asks back; Alice approves (RFC 6121 §3.1). Each approval brings
      // the contact's current presence (RFC 6121 §3.1.5 / probe answered by Prosody).
      await subscribe(alice, bob, 15_000);
      await subscribe(bob, alice, 15_000);
      // A presence change is broadcast to the remote subscriber (RFC 6121 §4.4.2).
      await alice.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
      await bob.inbox.next(
        (s) => s.is('presence') && sentBy(s, alice.bare) && s.getChildText('show') === 'away',
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
    await expect(negotiateAs('denied.example.net')).rejects.toThrow(/policy-violation/);
  });

  it('closes a stream that sends from a domain it did not authenticate with invalid-from', async () => {
    // The test CA's certificate names *.example.com, so this peer authenticates as mallory.example.com by
    // SASL EXTERNAL, then claims to speak for pr.example.net.
    const stream = await negotiateAs('mallory.example.com');
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
    const honest = await negotiateAs('mallory.example.com');
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
