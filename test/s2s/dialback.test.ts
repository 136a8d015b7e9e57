// XEP-0220 dialback against Prosody: Switchboard presents a self-signed certificate Prosody cannot
// validate, so Prosody offers no SASL EXTERNAL and Switchboard authenticates its stream by
// dialback; Prosody, as receiving server, checks the key with Switchboard's authoritative role.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { build as buildSwitchboard, type Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { Inbox, ROOT } from '../e2e/deployments.js';
import { quietLogger } from '../support/standalone.js';
import { freePort, startProsody, type Prosody } from '../support/prosody.js';

const pexec = promisify(execFile);
const SB = 'db.example.com';
const PR = 'pr2.example.net';
const TLS_KEY = join(ROOT, 'test/fixtures/tls/server.key');
const TLS_CERT = join(ROOT, 'test/fixtures/tls/server.pem');

async function login(
  port: number,
  domain: string,
  username: string,
  password: string,
): Promise<{ xmpp: Client; inbox: Inbox }> {
  const xmpp = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: 'test' });
  xmpp.reconnect.stop();
  const inbox = new Inbox();
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  await xmpp.start();
  await xmpp.send(xml('presence'));
  return { xmpp, inbox };
}

describe('dialback with Prosody when the certificate cannot be validated', () => {
  const logs: string[] = [];
  let dir: string;
  let sb: Standalone;
  let prosody: Prosody;
  let c2sPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-dialback-'));
    // Self-signed: no CA Prosody trusts has signed it.
    await pexec('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'self.key'),
      '-out',
      join(dir, 'self.pem'),
      '-days',
      '2',
      '-subj',
      `/CN=${SB}`,
      '-addext',
      `subjectAltName=DNS:${SB}`,
    ]);
    const prosodyS2sPort = await freePort();
    sb = buildSwitchboard(
      {
        dataDir: dir,
        domains: [SB],
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          sasl: { fakeSaltSecret: 's2s-dialback-fake-salt-secret' },
        },
        s2s: {
          enabled: true,
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: null },
          tls: { keyFile: join(dir, 'self.key'), certFile: join(dir, 'self.pem') },
          staticHosts: { [PR]: `127.0.0.1:${prosodyS2sPort}` },
          dns: false,
          connectTimeoutMs: 10_000,
        },
      },
      { logger: quietLogger('s2s-dialback', logs) },
    );
    c2sPort = (await sb.start()).tcpPort;
    await sb.store.accounts.create(`carol@${SB}`, await deriveCredentials('carol-pw'));
    prosody = await startProsody({
      domain: PR,
      users: { dave: 'dave-pw' },
      s2s: { port: prosodyS2sPort, peers: { [SB]: sb.s2sPorts()!.starttls } },
    });
  });

  afterAll(async () => {
    await prosody?.stop();
    await sb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('authenticates Switchboard to Prosody by dialback and delivers the message', async () => {
    const dave = await login(prosody.c2sPort, PR, 'dave', 'dave-pw');
    const carol = await login(c2sPort, SB, 'carol', 'carol-pw');
    try {
      await carol.xmpp.send(
        xml('message', { to: `dave@${PR}`, type: 'chat' }, xml('body', {}, 'by dialback')),
      );
      await dave.inbox.next(
        (s) => s.is('message') && s.getChildText('body') === 'by dialback',
        'message',
        15_000,
      );
      // Prosody could not validate the certificate, so it did not take SASL EXTERNAL: dialback it was.
      if (prosody.diagnostics().includes(`Accepting SASL EXTERNAL identity from ${SB}`))
        throw new Error('Prosody took SASL EXTERNAL, not dialback');
      if (!prosody.diagnostics().includes(`Incoming s2s connection ${SB}->${PR} complete`))
        throw new Error('Prosody did not authenticate the incoming stream');
    } catch (error) {
      throw new Error(`${String(error)}\n${prosody.diagnostics()}\nswitchboard:\n${logs.join('')}`);
    } finally {
      await carol.xmpp.stop().catch(() => undefined);
      await dave.xmpp.stop().catch(() => undefined);
    }
  });
});
