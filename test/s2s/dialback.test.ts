// XEP-0220 dialback against Prosody: Switchboard presents a self-signed certificate Prosody cannot
// validate, so Prosody offers no SASL EXTERNAL and Switchboard authenticates its stream by
// dialback; Prosody, as receiving server, checks the key with Switchboard's authoritative role.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { freePort, startProsody, type Prosody } from '../support/prosody.js';
import { selfSignedCertificate } from './harness.js';
import { buildFederatingSwitchboard, login } from './interop.js';

const SB = 'db.example.com';
const PR = 'pr2.example.net';

describe('dialback with Prosody when the certificate cannot be validated', () => {
  const logs: string[] = [];
  let dir: string;
  let sb: Standalone;
  let prosody: Prosody;
  let c2sPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-dialback-'));
    // Self-signed: no CA Prosody trusts has signed it.
    const tls = await selfSignedCertificate(dir, SB);
    const prosodyS2sPort = await freePort();
    sb = buildFederatingSwitchboard({
      name: 's2s-dialback',
      dataDir: dir,
      domain: SB,
      s2s: {
        tls,
        staticHosts: { [PR]: `127.0.0.1:${prosodyS2sPort}` },
        connectTimeoutMs: 10_000,
      },
      logs,
    });
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
