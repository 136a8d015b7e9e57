// XEP-0288 bidirectional server-to-server streams. In each case the answering server has no way to
// reach the other one by itself (no static host, no DNS: its own connection attempt would fail), so
// an answer that arrives proves it travelled back over the stream the other server opened.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { freePort, startProsody, type Prosody } from '../support/prosody.js';
import { chatEnvelope, startS2sNode, type S2sNode } from './harness.js';
import { buildFederatingSwitchboard, login, type User } from './interop.js';

describe('bidirectional streams between two Switchboard servers', () => {
  let a: S2sNode;
  let b: S2sNode;

  beforeAll(async () => {
    b = await startS2sNode('remote.example.net');
    a = await startS2sNode('sb.example.com', {
      staticHosts: { 'remote.example.net': `127.0.0.1:${b.ports.starttls}` },
    });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('answers over the stream the other server opened', async () => {
    await a.send(chatEnvelope('alice@sb.example.com/x', 'bob@remote.example.net', 'q1', 'question'));
    await b.received.waitFor((e) => e.stanzaId === 'q1', 'the question at b', 15_000);
    await b.send(chatEnvelope('bob@remote.example.net/y', 'alice@sb.example.com', 'r1', 'answer'));
    const answer = await a.received.waitFor((e) => e.stanzaId === 'r1', 'the answer at a', 15_000);
    expect(answer).toMatchObject({ from: 'bob@remote.example.net/y', to: 'alice@sb.example.com' });
  });
});

const body = (text: string) => (s: Element) => s.is('message') && s.getChildText('body') === text;

/**
 * Switchboard and a Prosody with mod_s2s_bidi. `opener` is the server that connects; the other one
 * is mapped to a port where nobody listens, so it can only answer over the opener's stream.
 */
function withProsody(opener: 'prosody' | 'switchboard', SB: string, PR: string): void {
  const logs: string[] = [];
  let dir: string;
  let sb: Standalone;
  let prosody: Prosody;
  let alice: User;
  let bob: User;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-bidi-'));
    const [nobody, prosodyS2sPort] = [await freePort(), await freePort()];
    sb = buildFederatingSwitchboard({
      name: 's2s-bidi',
      dataDir: dir,
      domain: SB,
      s2s: {
        staticHosts: { [PR]: `127.0.0.1:${opener === 'prosody' ? nobody : prosodyS2sPort}` },
        connectTimeoutMs: 10_000,
        connectAttempts: 1,
      },
      logs,
    });
    const ports = await sb.start();
    await sb.store.accounts.create(`alice@${SB}`, await deriveCredentials('alice-pw'));
    prosody = await startProsody({
      domain: PR,
      users: { bob: 'bob-pw' },
      s2s: { port: prosodyS2sPort, peers: { [SB]: opener === 'prosody' ? sb.s2sPorts()!.starttls : nobody } },
      extraModules: ['s2s_bidi'],
    });
    alice = await login(ports.tcpPort, SB, 'alice', 'alice-pw');
    bob = await login(prosody.c2sPort, PR, 'bob', 'bob-pw');
  });

  afterAll(async () => {
    await alice?.xmpp.stop().catch(() => undefined);
    await bob?.xmpp.stop().catch(() => undefined);
    await prosody?.stop();
    await sb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(`answers over the stream ${opener === 'prosody' ? 'Prosody' : 'Switchboard'} opened`, async () => {
    const [first, second] = opener === 'prosody' ? [bob, alice] : [alice, bob];
    const [firstTo, secondTo] =
      opener === 'prosody' ? [`alice@${SB}`, `bob@${PR}`] : [`bob@${PR}`, `alice@${SB}`];
    try {
      await first.xmpp.send(xml('message', { to: firstTo, type: 'chat' }, xml('body', {}, 'opening')));
      await second.inbox.next(body('opening'), 'the first message', 15_000);
      await second.xmpp.send(xml('message', { to: secondTo, type: 'chat' }, xml('body', {}, 'answer')));
      await first.inbox.next(body('answer'), 'the answer over the same stream', 15_000);
    } catch (error) {
      throw new Error(`${String(error)}\n${prosody.diagnostics()}\nswitchboard:\n${logs.join('')}`);
    }
  });
}

describe('bidirectional streams opened by Prosody', () =>
  withProsody('prosody', 'bidi.example.com', 'prbidi.example.net'));
describe('bidirectional streams opened by Switchboard', () =>
  withProsody('switchboard', 'bidi2.example.com', 'prbidi2.example.net'));
