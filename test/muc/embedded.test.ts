// XEP-0045 and XEP-0313 through `pnpm start`'s standalone: real @xmpp/client users on the client
// port, the MUC at conference.localhost on the in-process bus, rooms in SQLite under dataDir.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { standaloneConfigSchema, type Standalone } from '@switchboard/standalone';
import {
  DOMAIN,
  MUC_DOMAIN,
  NS,
  configure,
  createAccounts,
  errorCondition,
  groupchatFrom,
  joinPresence,
  login,
  presenceFrom,
  startStandalone,
  statusCodes,
  type User,
} from './harness.js';

const BALCONY = `balcony@${MUC_DOMAIN}`;
const CRYPT = `crypt@${MUC_DOMAIN}`;
const VAULT = `vault@${MUC_DOMAIN}`;

describe('the MUC service inside the standalone', () => {
  const logs: string[] = [];
  let dataDir: string;
  let app: Standalone;
  let port: number;
  let juliet: User;
  let romeo: User;
  let nurse: User;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-muc-e2e-'));
    ({ app, port } = await startStandalone(dataDir, logs));
    await createAccounts(app, ['juliet', 'romeo', 'nurse']);
    [juliet, romeo, nurse] = await Promise.all([
      login(port, 'juliet'),
      login(port, 'romeo'),
      login(port, 'nurse'),
    ]);
  });

  afterAll(async () => {
    await Promise.all([juliet, romeo, nurse].map((u) => u?.stop().catch(() => undefined)));
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-50).join(''));
  });

  it('serves conference.localhost by default and describes itself (XEP-0045 §6.1)', async () => {
    expect(app.muc?.domain).toBe(MUC_DOMAIN);
    expect(standaloneConfigSchema.parse({ muc: { enabled: false } }).muc.enabled).toBe(false);
    // Clients find the service among the server's disco#items (XEP-0045 §6.1).
    const items = await juliet.iq(
      xml('iq', { type: 'get', to: DOMAIN }, xml('query', { xmlns: NS.DISCO_ITEMS })),
    );
    expect(
      items
        .getChild('query')
        ?.getChildren('item')
        .map((i) => String(i.attrs['jid'])),
    ).toContain(MUC_DOMAIN);
    const info = await juliet.iq(
      xml('iq', { type: 'get', to: MUC_DOMAIN }, xml('query', { xmlns: NS.DISCO_INFO })),
    );
    expect(info.attrs['type']).toBe('result');
    expect(info.getChild('query')?.getChild('identity')?.attrs).toMatchObject({
      category: 'conference',
      type: 'text',
    });
  });

  it('creates a reserved room: 201 to the creator, configured through muc#owner (§10.1)', async () => {
    await juliet.send(joinPresence(BALCONY, 'juliet'));
    const created = await juliet.inbox.next(presenceFrom(`${BALCONY}/juliet`), 'the creation presence');
    expect(statusCodes(created)).toEqual(expect.arrayContaining(['110', '201']));
    const form = await juliet.iq(
      xml('iq', { type: 'get', to: BALCONY }, xml('query', { xmlns: NS.MUC_OWNER })),
    );
    expect(form.getChild('query')?.getChild('x', 'jabber:x:data')).toBeDefined();
    const done = await juliet.iq(configure(BALCONY, { roomname: 'The Balcony', persistentroom: '1' }));
    expect(done.attrs['type']).toBe('result');
    await juliet.inbox.next(
      (s) => s.name === 'message' && s.getChild('subject') !== undefined,
      'the subject',
    );
  });

  it('lets romeo join, refuses the nurse the same nick, and reflects groupchat with stanza-id', async () => {
    await romeo.send(joinPresence(BALCONY, 'romeo'));
    await romeo.inbox.next(presenceFrom(`${BALCONY}/juliet`), 'juliet in the room');
    const self = await romeo.inbox.next(presenceFrom(`${BALCONY}/romeo`), 'own presence');
    expect(statusCodes(self)).toContain('110');
    await juliet.inbox.next(presenceFrom(`${BALCONY}/romeo`), 'romeo arriving');

    await nurse.send(joinPresence(BALCONY, 'romeo'));
    const conflict = await nurse.inbox.next(presenceFrom(`${BALCONY}/romeo`, 'error'), 'the conflict');
    expect(errorCondition(conflict)).toBe('conflict');

    await romeo.send(
      xml('message', { to: BALCONY, type: 'groupchat', id: 'r-1' }, xml('body', {}, 'But soft, what light')),
    );
    for (const user of [romeo, juliet]) {
      const got = await user.inbox.next(groupchatFrom(`${BALCONY}/romeo`), 'the reflected message');
      expect(got.attrs['id']).toBe('r-1');
      expect(got.getChild('stanza-id', NS.SID)?.attrs['by']).toBe(BALCONY);
    }
  });

  it('relays private messages between occupants (§7.5)', async () => {
    await romeo.send(xml('message', { to: `${BALCONY}/juliet`, type: 'chat' }, xml('body', {}, 'psst')));
    const pm = await juliet.inbox.next(
      (s) => s.name === 'message' && s.attrs['type'] === 'chat' && s.attrs['from'] === `${BALCONY}/romeo`,
      'the private message',
    );
    expect(pm.getChildText('body')).toBe('psst');
    expect(pm.getChild('x', NS.MUC_USER)).toBeDefined();
  });

  it('sends history with delay on join, then kicks with 307 (§7.2.14, §8.2)', async () => {
    await nurse.send(joinPresence(BALCONY, 'nurse', xml('history', { maxstanzas: '5' })));
    const old = await nurse.inbox.next(groupchatFrom(`${BALCONY}/romeo`), 'the history');
    expect(old.getChildText('body')).toBe('But soft, what light');
    expect(old.getChild('delay', NS.DELAY)?.attrs['from']).toBe(BALCONY);
    await nurse.inbox.next(
      (s) => s.name === 'message' && s.getChild('subject') !== undefined,
      'subject after history',
    );

    const kick = await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: BALCONY },
        xml(
          'query',
          { xmlns: NS.MUC_ADMIN },
          xml('item', { nick: 'nurse', role: 'none' }, xml('reason', {}, 'Away!')),
        ),
      ),
    );
    expect(kick.attrs['type']).toBe('result');
    const kicked = await nurse.inbox.next(presenceFrom(`${BALCONY}/nurse`, 'unavailable'), 'the kick');
    expect(statusCodes(kicked)).toEqual(['110', '307']);
    const seen = await romeo.inbox.next(presenceFrom(`${BALCONY}/nurse`, 'unavailable'), 'the kick, seen');
    expect(statusCodes(seen)).toEqual(['307']);
  });

  it('refuses members-only with registration-required and a wrong password with not-authorized (§7.2.6, §7.2.8)', async () => {
    await juliet.send(joinPresence(CRYPT, 'juliet'));
    await juliet.inbox.next(presenceFrom(`${CRYPT}/juliet`), 'crypt created');
    expect((await juliet.iq(configure(CRYPT, { membersonly: '1' }))).attrs['type']).toBe('result');
    await romeo.send(joinPresence(CRYPT, 'romeo'));
    const refused = await romeo.inbox.next(presenceFrom(`${CRYPT}/romeo`, 'error'), 'members-only refusal');
    expect(errorCondition(refused)).toBe('registration-required');

    await juliet.send(joinPresence(VAULT, 'juliet'));
    await juliet.inbox.next(presenceFrom(`${VAULT}/juliet`), 'vault created');
    const locked = await juliet.iq(
      configure(VAULT, { passwordprotectedroom: '1', roomsecret: 'nightingale' }),
    );
    expect(locked.attrs['type']).toBe('result');
    await romeo.send(joinPresence(VAULT, 'romeo', xml('password', {}, 'lark')));
    const wrong = await romeo.inbox.next(presenceFrom(`${VAULT}/romeo`, 'error'), 'password refusal');
    expect(errorCondition(wrong)).toBe('not-authorized');
    await romeo.send(joinPresence(VAULT, 'romeo', xml('password', {}, 'nightingale')));
    expect(statusCodes(await romeo.inbox.next(presenceFrom(`${VAULT}/romeo`), 'admitted'))).toContain('110');
  });

  it('answers a XEP-0313 archive query with the room messages and a complete fin', async () => {
    const queryId = 'q-balcony';
    const fin = await romeo.iq(
      xml(
        'iq',
        { type: 'set', to: BALCONY },
        xml(
          'query',
          { xmlns: NS.MAM, queryid: queryId },
          xml('set', { xmlns: NS.RSM }, xml('max', {}, '10')),
        ),
      ),
    );
    expect(fin.attrs['type']).toBe('result');
    expect(fin.getChild('fin', NS.MAM)?.attrs['complete']).toBe('true');
    const result = await romeo.inbox.next(
      (s) => s.getChild('result', NS.MAM)?.attrs['queryid'] === queryId,
      'the archived message',
    );
    const archived = result.getChild('result', NS.MAM)?.getChild('forwarded')?.getChild('message');
    expect(archived?.getChildText('body')).toBe('But soft, what light');
  });

  it('removes an occupant whose client went offline: the router sends unavailable to the room', async () => {
    await nurse.send(joinPresence(BALCONY, 'nurse2'));
    await juliet.inbox.next(presenceFrom(`${BALCONY}/nurse2`), 'the nurse back in the room');
    await nurse.stop();
    await juliet.inbox.next(
      presenceFrom(`${BALCONY}/nurse2`, 'unavailable'),
      'the nurse gone with her session',
    );
    nurse = await login(port, 'nurse');
  });

  it('keeps a persistent room and its archive across a restart, and drops temporary rooms', async () => {
    await Promise.all([juliet, romeo, nurse].map((u) => u.stop()));
    await app.close();
    ({ app, port } = await startStandalone(dataDir, logs));
    [juliet, romeo, nurse] = await Promise.all([
      login(port, 'juliet'),
      login(port, 'romeo'),
      login(port, 'nurse'),
    ]);

    const info = await romeo.iq(
      xml('iq', { type: 'get', to: BALCONY }, xml('query', { xmlns: NS.DISCO_INFO })),
    );
    expect(info.attrs['type']).toBe('result');
    expect(info.getChild('query')?.getChild('identity')?.attrs['name']).toBe('The Balcony');
    const gone = await romeo.iq(
      xml('iq', { type: 'get', to: VAULT }, xml('query', { xmlns: NS.DISCO_INFO })),
    );
    expect(errorCondition(gone)).toBe('item-not-found');

    // juliet is still the owner: her join is not a creation, and romeo's history survived.
    await juliet.send(joinPresence(BALCONY, 'juliet'));
    const self = await juliet.inbox.next(presenceFrom(`${BALCONY}/juliet`), 'rejoin');
    expect(statusCodes(self)).not.toContain('201');
    expect(self.getChild('x', NS.MUC_USER)?.getChild('item')?.attrs['affiliation']).toBe('owner');
    const old = await juliet.inbox.next(groupchatFrom(`${BALCONY}/romeo`), 'history after restart');
    expect(old.getChildText('body')).toBe('But soft, what light');
  });
});
