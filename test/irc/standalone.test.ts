// `pnpm start` with an `irc` section: the IRC gateway runs inside the standalone process on the
// in-process bus with SQLite memberships, against a real ngircd.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '@switchboard/store';
import { build, standaloneConfigSchema, type Standalone } from '@switchboard/standalone';
import { IrcPeer } from '../../services/irc-gateway/src/irc/test/irc-peer.js';
import { startNgircd, type Ngircd } from '../../services/irc-gateway/src/irc/test/ngircd.js';
import {
  TLS_CERT,
  TLS_KEY,
  isGroupchatFrom,
  isPresenceFrom,
  joinPresence,
  login,
  quietLogger,
  statusCodes,
  type User,
} from './harness.js';

const ROOM = '#verona%127.0.0.1@irc.localhost';

describe('standalone with the IRC gateway in process (config `irc`)', () => {
  const logs: string[] = [];
  let ngircd: Ngircd;
  let dataDir: string;
  let app: Standalone;
  let juliet: User;
  let romeo: IrcPeer;

  beforeAll(async () => {
    [ngircd, dataDir] = await Promise.all([
      startNgircd(),
      mkdtemp(join(tmpdir(), 'switchboard-irc-standalone-')),
    ]);
    app = build(
      {
        dataDir,
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          sasl: { fakeSaltSecret: 'irc-standalone-fake-salt-secret' },
        },
        irc: { servers: { '127.0.0.1': { port: ngircd.port, tls: false } } },
      },
      { logger: quietLogger('irc-standalone', logs) },
    );
    const { tcpPort } = await app.start();
    await app.store.accounts.create('juliet@localhost', await deriveCredentials('juliet-pass'));
    [juliet, romeo] = await Promise.all([
      login(tcpPort, 'juliet', 'juliet-pass'),
      IrcPeer.connect(ngircd.port, 'romeo'),
    ]);
    romeo.raw('JOIN #verona');
    await romeo.next('userlist');
  }, 60_000);

  afterAll(async () => {
    await romeo?.quit();
    // Leaves first, so that no room presence is on its way to a session that is closing.
    await juliet?.send(xml('presence', { to: `${ROOM}/juliet`, type: 'unavailable' }));
    await juliet?.inbox.next(isPresenceFrom(`${ROOM}/juliet`, 'unavailable'), 'left');
    await juliet?.stop();
    await app?.close();
    await ngircd?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-80).join(''));
  });

  it('keeps the IRC gateway off unless the config has an irc section, with verified TLS on 6697 by default', () => {
    expect(standaloneConfigSchema.parse({}).irc).toBeUndefined();
    expect(standaloneConfigSchema.parse({ irc: {} }).irc).toMatchObject({
      domain: 'irc.localhost',
      defaultPort: 6697,
      defaultTls: true,
      insecureServers: [],
    });
    expect(app.irc?.domain).toBe('irc.localhost');
  });

  it('lets a user of the standalone talk in an IRC channel', async () => {
    await juliet.send(joinPresence(`${ROOM}/juliet`));
    const self = await juliet.inbox.next(isPresenceFrom(`${ROOM}/juliet`), 'self-presence', 20_000);
    expect(statusCodes(self)).toContain('110');
    await romeo.next('join', (e) => e.nick === 'juliet');
    await juliet.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('body', {}, 'Wherefore art thou')));
    expect(await romeo.next('privmsg', (e) => e.nick === 'juliet')).toMatchObject({
      message: 'Wherefore art thou',
    });
    romeo.raw('PRIVMSG #verona :Here');
    expect((await juliet.inbox.next(isGroupchatFrom(`${ROOM}/romeo`), 'romeo')).getChildText('body')).toBe(
      'Here',
    );
  });
});
