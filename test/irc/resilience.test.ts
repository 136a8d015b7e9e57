// The gateway's own reconnect and rejoin (irc-framework's gives up and does not rejoin), and TLS
// towards IRC with certificate verification and the per-server exception list, against ngircd.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IrcGatewayApp } from '../../services/irc-gateway/src/app.js';
import type { Memberships } from '../../services/irc-gateway/src/persistence/memberships.js';
import { IrcPeer } from '../../services/irc-gateway/src/irc/test/irc-peer.js';
import { startNgircd, type Ngircd } from '../../services/irc-gateway/src/irc/test/ngircd.js';
import {
  IRC_DOMAIN,
  TLS_CERT,
  TLS_DH,
  TLS_KEY,
  errorCondition,
  isGroupchatFrom,
  isPresenceFrom,
  joinPresence,
  login,
  openMemberships,
  quietLogger,
  startGateway,
  startSwitchboard,
  statusCodes,
  type Switchboard,
  type User,
} from './harness.js';

describe('IRC gateway resilience and TLS against ngircd', () => {
  const logs: string[] = [];
  let ngircd: Ngircd;
  let switchboard: Switchboard;
  let dataDir: string;
  let memberships: Memberships;
  let gateway: IrcGatewayApp;
  let juliet: User;
  const start = (insecureServers: string[] = []): Promise<IrcGatewayApp> =>
    startGateway({
      ircPort: ngircd.port,
      memberships,
      bus: switchboard.app.bus,
      logger: quietLogger('irc-resilience', logs),
      tlsServers: { localhost: ngircd.tlsPort!, '127.0.0.2': ngircd.tlsPort! },
      insecureServers,
    });

  beforeAll(async () => {
    [ngircd, switchboard, dataDir] = await Promise.all([
      startNgircd({ tls: { certFile: TLS_CERT, keyFile: TLS_KEY, dhFile: TLS_DH } }),
      startSwitchboard(logs),
      mkdtemp(join(tmpdir(), 'irc-resilience-')),
    ]);
    memberships = openMemberships(join(dataDir, 'irc.db'));
    gateway = await start();
    await switchboard.createAccount('juliet', 'juliet-pass');
    juliet = await login(switchboard.tcpPort, 'juliet', 'juliet-pass');
  }, 60_000);

  afterAll(async () => {
    await juliet?.stop();
    await gateway?.stop();
    await switchboard?.stop();
    await memberships?.close();
    await ngircd?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(`${logs.slice(-60).join('')}\n${ngircd?.log() ?? ''}`);
  });

  it('connects over TLS when the server’s certificate verifies', async () => {
    const room = `#secure%localhost@${IRC_DOMAIN}`;
    await juliet.send(joinPresence(`${room}/juliet`));
    const self = await juliet.inbox.next(isPresenceFrom(`${room}/juliet`), 'self-presence over TLS', 20_000);
    expect(statusCodes(self)).toContain('110');
    await juliet.send(xml('presence', { to: `${room}/juliet`, type: 'unavailable' }));
    await juliet.inbox.next(isPresenceFrom(`${room}/juliet`, 'unavailable'), 'left');
  });

  it('refuses a certificate that does not name the server, unless the server is on the exception list', async () => {
    await juliet.send(joinPresence(`#secure%127.0.0.2@${IRC_DOMAIN}/juliet`, 'tls-bad'));
    const error = await juliet.inbox.next(
      (s) => s.is('presence') && s.attrs['id'] === 'tls-bad',
      'the refusal',
      20_000,
    );
    expect(errorCondition(error)).toBe('remote-server-not-found');

    // The same server on the exception list: the certificate is not checked.
    await gateway.stop();
    gateway = await start(['127.0.0.2']);
    const room = `#secure%127.0.0.2@${IRC_DOMAIN}`;
    await juliet.send(joinPresence(`${room}/juliet`));
    const self = await juliet.inbox.next(
      isPresenceFrom(`${room}/juliet`),
      'joined without verification',
      20_000,
    );
    expect(statusCodes(self)).toContain('110');
    await juliet.send(xml('presence', { to: `${room}/juliet`, type: 'unavailable' }));
    await juliet.inbox.next(isPresenceFrom(`${room}/juliet`, 'unavailable'), 'left');
  });

  it('reconnects with backoff after the IRC server went away and rejoins, telling the user', async () => {
    const room = `#phoenix%127.0.0.1@${IRC_DOMAIN}`;
    let romeo = await IrcPeer.connect(ngircd.port, 'romeo');
    romeo.raw('JOIN #phoenix');
    await romeo.next('userlist');
    await juliet.send(joinPresence(`${room}/juliet`));
    await juliet.inbox.next(
      (s) => isPresenceFrom(`${room}/juliet`)(s) && statusCodes(s).includes('110'),
      'joined',
      20_000,
    );
    await romeo.next('join', (e) => e.nick === 'juliet');

    const port = ngircd.port;
    await ngircd.stop();
    ngircd = await startNgircd({ port, tls: { certFile: TLS_CERT, keyFile: TLS_KEY, dhFile: TLS_DH } });
    romeo = await IrcPeer.connect(ngircd.port, 'romeo');
    romeo.raw('JOIN #phoenix');
    await romeo.next('join', (e) => e.nick === 'juliet', 20_000);
    const notice = await juliet.inbox.next(
      (s) =>
        s.is('message') && s.attrs['from'] === room && /re-established/.test(s.getChildText('body') ?? ''),
      'the explanation',
      20_000,
    );
    expect(notice.getChildText('body')).toContain('#phoenix');
    romeo.raw('PRIVMSG #phoenix :you are back');
    expect(
      (await juliet.inbox.next(isGroupchatFrom(`${room}/romeo`), 'after the reconnect')).getChildText('body'),
    ).toBe('you are back');
    await romeo.quit();
    // Its own waits allow 20 s each (the gateway's jittered backoff on a loaded machine): the test as a
    // whole gets more than one of them.
  }, 60_000);
});
