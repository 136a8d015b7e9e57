// Interoperability: the IRC gateway as a XEP-0114 component of Prosody 0.12 (Debian), not of
// Switchboard; a Prosody user talks in a channel of a real ngircd with a plain IRC client.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IrcGatewayApp } from '../../services/irc-gateway/src/app.js';
import type { Memberships } from '../../services/irc-gateway/src/persistence/memberships.js';
import { IrcPeer } from '../../services/irc-gateway/src/irc/test/irc-peer.js';
import { startNgircd, type Ngircd } from '../../services/irc-gateway/src/irc/test/ngircd.js';
import { componentTransport } from '../../services/irc-gateway/src/transports/index.js';
import { startProsody, type Prosody } from '../support/prosody.js';
import {
  DOMAIN,
  IRC_DOMAIN,
  isGroupchatFrom,
  isPresenceFrom,
  joinPresence,
  login,
  openMemberships,
  quietLogger,
  startGateway,
  statusCodes,
  type User,
} from './harness.js';

const SECRET = 'prosody-irc-component-secret';
const ROOM = `#prosody%127.0.0.1@${IRC_DOMAIN}`;

describe('IRC gateway as a XEP-0114 component of Prosody 0.12', () => {
  const logs: string[] = [];
  let prosody: Prosody | undefined;
  let ngircd: Ngircd;
  let dataDir: string;
  let memberships: Memberships;
  let gateway: IrcGatewayApp;
  let juliet: User;
  let romeo: IrcPeer;

  beforeAll(async () => {
    [prosody, ngircd, dataDir] = await Promise.all([
      startProsody({
        domain: DOMAIN,
        component: { domain: IRC_DOMAIN, secret: SECRET },
        users: { juliet: 'juliet-pass' },
      }),
      startNgircd(),
      mkdtemp(join(tmpdir(), 'irc-prosody-')),
    ]);
    memberships = openMemberships(join(dataDir, 'irc.db'));
    const logger = quietLogger('irc-prosody-gateway', logs);
    const transport = componentTransport({
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: IRC_DOMAIN,
      secret: SECRET,
      logger,
    });
    gateway = await startGateway({ ircPort: ngircd.port, memberships, logger, transport });
    await transport.online();
    [juliet, romeo] = await Promise.all([
      login(prosody.c2sPort, 'juliet', 'juliet-pass'),
      IrcPeer.connect(ngircd.port, 'romeo'),
    ]);
    romeo.raw('JOIN #prosody');
    await romeo.next('userlist');
  }, 60_000);

  afterAll(async () => {
    await romeo?.quit();
    await juliet?.stop();
    await gateway?.stop();
    await memberships?.close();
    await prosody?.stop();
    await ngircd?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(`${logs.join('')}\n${prosody?.diagnostics() ?? ''}`);
  });

  it('lets a Prosody user discover the gateway (XEP-0030 identity conference/irc)', async () => {
    const info = await juliet.iq(
      xml(
        'iq',
        { type: 'get', to: IRC_DOMAIN },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      ),
    );
    expect(info.getChild('query')?.getChild('identity')?.attrs).toMatchObject({
      category: 'conference',
      type: 'irc',
    });
  });

  it('joins an IRC channel and talks both ways through Prosody', async () => {
    await juliet.send(joinPresence(`${ROOM}/juliet`));
    const self = await juliet.inbox.next(isPresenceFrom(`${ROOM}/juliet`), 'self-presence', 20_000);
    expect(statusCodes(self)).toContain('110');
    await romeo.next('join', (e) => e.nick === 'juliet');
    await juliet.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('body', {}, 'From Prosody')));
    expect(await romeo.next('privmsg', (e) => e.nick === 'juliet')).toMatchObject({
      message: 'From Prosody',
    });
    romeo.raw('PRIVMSG #prosody :\x01ACTION waves\x01');
    expect((await juliet.inbox.next(isGroupchatFrom(`${ROOM}/romeo`), 'romeo')).getChildText('body')).toBe(
      '/me waves',
    );
  });
});
