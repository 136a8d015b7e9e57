// Interoperability: our MUC as a XEP-0114 component of Prosody 0.12 (Debian), with @xmpp/client
// users logged into Prosody, not Switchboard: the room logic must not depend on our router.
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  build,
  componentTransport,
  openSqliteMucStorage,
  toMucConfig,
  mucSettingsSchema,
  type MucApp,
  type MucStorage,
} from '../../services/muc/src/app.js';
import { startProsody, type Prosody } from '../support/prosody.js';
import {
  DOMAIN,
  MUC_DOMAIN,
  NS,
  configure,
  errorCondition,
  groupchatFrom,
  joinPresence,
  login,
  presenceFrom,
  quietLogger,
  statusCodes,
  type User,
} from './harness.js';

const SECRET = 'prosody-muc-component-secret';
const ROOM = `heath@${MUC_DOMAIN}`;

describe('the MUC service as a XEP-0114 component of Prosody 0.12', () => {
  const logs: string[] = [];
  let prosody: Prosody | undefined;
  let storage: MucStorage;
  let muc: MucApp;
  let first: User;
  let second: User;

  beforeAll(async () => {
    prosody = await startProsody({
      domain: DOMAIN,
      component: { domain: MUC_DOMAIN, secret: SECRET },
      users: { first: 'first-pass', second: 'second-pass' },
    });
    const logger = quietLogger(logs);
    const transport = componentTransport({
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: MUC_DOMAIN,
      secret: SECRET,
      logger,
    });
    storage = openSqliteMucStorage({ path: ':memory:' });
    muc = build(toMucConfig(mucSettingsSchema.parse({ domain: MUC_DOMAIN })), { transport, storage, logger });
    await muc.start();
    await transport.online();
    [first, second] = await Promise.all([login(prosody.c2sPort, 'first'), login(prosody.c2sPort, 'second')]);
  });

  afterAll(async () => {
    await Promise.all([first, second].map((u) => u?.stop().catch(() => undefined)));
    await muc?.stop();
    await storage?.close();
    await prosody?.stop();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-50).join(''), prosody?.diagnostics());
  });

  it('creates an instant room, admits a second user and reflects messages and private messages', async () => {
    await first.send(joinPresence(ROOM, 'first'));
    const created = await first.inbox.next(presenceFrom(`${ROOM}/first`), 'the creation presence', 10_000);
    expect(statusCodes(created)).toEqual(expect.arrayContaining(['110', '201']));
    // XEP-0045 §10.1.2: an empty submit accepts the default configuration.
    expect((await first.iq(configure(ROOM, {}))).attrs['type']).toBe('result');

    await second.send(joinPresence(ROOM, 'first'));
    const conflict = await second.inbox.next(presenceFrom(`${ROOM}/first`, 'error'), 'the nick conflict');
    expect(errorCondition(conflict)).toBe('conflict');
    await second.send(joinPresence(ROOM, 'second'));
    expect(statusCodes(await second.inbox.next(presenceFrom(`${ROOM}/second`), 'own presence'))).toContain(
      '110',
    );
    await first.inbox.next(presenceFrom(`${ROOM}/second`), 'the newcomer');

    await second.send(
      xml('message', { to: ROOM, type: 'groupchat', id: 'p-1' }, xml('body', {}, 'over the heath')),
    );
    for (const user of [first, second]) {
      const got = await user.inbox.next(groupchatFrom(`${ROOM}/second`), 'the reflected message');
      expect(got.attrs['id']).toBe('p-1');
      expect(got.getChild('stanza-id', NS.SID)?.attrs['by']).toBe(ROOM);
    }

    await first.send(xml('message', { to: `${ROOM}/second`, type: 'chat' }, xml('body', {}, 'a word')));
    const pm = await second.inbox.next(
      (s) => s.name === 'message' && s.attrs['type'] === 'chat' && s.attrs['from'] === `${ROOM}/first`,
      'the private message',
    );
    expect(pm.getChildText('body')).toBe('a word');
  });

  it('removes an occupant whose client disconnects: Prosody sends the unavailable presence', async () => {
    await second.stop();
    const left = await first.inbox.next(
      presenceFrom(`${ROOM}/second`, 'unavailable'),
      'the departure',
      10_000,
    );
    expect(statusCodes(left)).toEqual([]);
    const occupants = await first.iq(
      xml('iq', { type: 'get', to: ROOM }, xml('query', { xmlns: NS.DISCO_INFO })),
    );
    const count = occupants
      .getChild('query')
      ?.getChild('x', 'jabber:x:data')
      ?.getChildren('field')
      .find((f) => f.attrs['var'] === 'muc#roominfo_occupants')
      ?.getChildText('value');
    expect(count).toBe('1');
  });
});
