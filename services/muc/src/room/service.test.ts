// The room logic against stanzas from the examples of XEP-0045 (section numbers cited per test).
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { parseElement, type Element } from '@switchboard/xml';
import { openSqliteMucStorage } from '../storage/sqlite.js';
import type { MucStorage } from '../storage/storage.js';
import { NS } from './namespaces.js';
import { MucService } from './service.js';

const SERVICE = 'chat.shakespeare.lit';
const ROOM = 'coven@chat.shakespeare.lit';
const CRONE = 'crone1@shakespeare.lit/desktop';
const WICCA = 'wiccarocks@shakespeare.lit/laptop';
const HAG = 'hag66@shakespeare.lit/pda';

const storages: MucStorage[] = [];
afterEach(async () => {
  await Promise.all(storages.splice(0).map((s) => s.close()));
});

function harness(options: { now?: () => number } = {}) {
  const sent: Element[] = [];
  const storage = openSqliteMucStorage({ path: ':memory:' });
  storages.push(storage);
  let n = 0;
  const service = new MucService({
    domain: SERVICE,
    storage,
    send: (el) => {
      sent.push(el);
      return Promise.resolve();
    },
    logger: createLogger({ service: 'muc-test', level: 'silent' }),
    newId: () => `sid-${++n}`,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  /** Handles one stanza and returns what the service sent because of it. */
  async function send(stanza: string): Promise<Element[]> {
    const before = sent.length;
    await service.handle(parseElement(stanza));
    return sent.slice(before);
  }
  /** Creates coven as an instant room owned by crone1 (§10.1.2), returning nothing of interest. */
  async function instantRoom(config: Record<string, string> = {}): Promise<void> {
    await send(`<presence from='${CRONE}' to='${ROOM}/firstwitch'><x xmlns='${NS.MUC}'/></presence>`);
    const fields = Object.entries(config)
      .map(([name, value]) => `<field var='muc#roomconfig_${name}'><value>${value}</value></field>`)
      .join('');
    const out = await send(
      `<iq from='${CRONE}' id='create1' to='${ROOM}' type='set'><query xmlns='${NS.MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'>${fields}</x></query></iq>`,
    );
    expect(out.find((s) => s.name === 'iq')?.attrs['type']).toBe('result');
  }
  async function join(from: string, nick: string, extra = ''): Promise<Element[]> {
    return send(`<presence from='${from}' to='${ROOM}/${nick}'><x xmlns='${NS.MUC}'>${extra}</x></presence>`);
  }
  return { service, storage, send, sent, instantRoom, join };
}

const to = (jid: string) => (s: Element) => s.attrs['to'] === jid;
const statuses = (s: Element | undefined): string[] =>
  s
    ?.getChild('x', NS.MUC_USER)
    ?.getChildren('status')
    .map((c) => c.attrs['code'] ?? '') ?? [];
const item = (s: Element | undefined): Record<string, string> =>
  s?.getChild('x', NS.MUC_USER)?.getChild('item')?.attrs ?? {};
const errorOf = (s: Element | undefined): string | undefined =>
  s?.getChild('error')?.getChildElements()[0]?.getName();

describe('creating a room (XEP-0045 §10.1)', () => {
  it('gives the creator 201 and 110 as owner and moderator, and keeps the room locked until configured', async () => {
    const h = harness();
    // Example 153
    const out = await h.send(
      `<presence from='${CRONE}' to='${ROOM}/firstwitch'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
    );
    const self = out.find((s) => s.name === 'presence');
    expect(self?.attrs['from']).toBe(`${ROOM}/firstwitch`);
    expect(self?.attrs['to']).toBe(CRONE);
    expect(item(self)).toMatchObject({ affiliation: 'owner', role: 'moderator' });
    expect(statuses(self)).toEqual(expect.arrayContaining(['110', '201']));
    // Locked: others may not enter yet (§10.1.1).
    const refused = await h.join(WICCA, 'thirdwitch');
    expect(refused[0]?.attrs['type']).toBe('error');
    expect(errorOf(refused[0])).toBe('item-not-found');
  });

  it('hands the owner the muc#roomconfig form and applies the submitted one (reserved room, §10.1.3)', async () => {
    const h = harness();
    await h.join(CRONE, 'firstwitch');
    // Example 160
    const [form] = await h.send(
      `<iq from='${CRONE}' id='create1' to='${ROOM}' type='get'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`,
    );
    const x = form?.getChild('query', NS.MUC_OWNER)?.getChild('x', NS.DATA);
    const vars = x?.getChildren('field').map((f) => f.attrs['var']);
    expect(vars).toEqual(
      expect.arrayContaining(['FORM_TYPE', 'muc#roomconfig_roomname', 'muc#roomconfig_persistentroom']),
    );
    // Example 162 (abridged)
    const [result] = await h.send(`<iq from='${CRONE}' id='create2' to='${ROOM}' type='set'>
      <query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>
        <field var='muc#roomconfig_roomname'><value>A Dark Cave</value></field>
        <field var='muc#roomconfig_persistentroom'><value>1</value></field>
        <field var='muc#roomconfig_whois'><value>anyone</value></field>
      </x></query></iq>`);
    expect(result?.attrs['type']).toBe('result');
    const stored = await h.storage.getRoom(ROOM);
    expect(stored?.config).toMatchObject({ name: 'A Dark Cave', persistent: true, whois: 'anyone' });
    expect((await h.join(WICCA, 'thirdwitch')).some((s) => s.attrs['type'] === 'error')).toBe(false);
  });

  it('destroys the locked room when the owner cancels the configuration (§10.1.3)', async () => {
    const h = harness();
    await h.join(CRONE, 'firstwitch');
    await h.send(
      `<iq from='${CRONE}' id='c' to='${ROOM}' type='set'><query xmlns='${NS.MUC_OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`,
    );
    const [info] = await h.send(
      `<iq from='${WICCA}' id='d' to='${ROOM}' type='get'><query xmlns='${NS.DISCO_INFO}'/></iq>`,
    );
    expect(errorOf(info)).toBe('item-not-found');
  });
});

describe('entering and leaving (XEP-0045 §7.2, §7.14)', () => {
  it('sends existing occupants first, then the own presence with 110, then subject; jids only to moderators', async () => {
    const h = harness();
    await h.instantRoom();
    const out = await h.join(WICCA, 'thirdwitch');
    const toWicca = out.filter(to(WICCA));
    // §7.2.3 order: the existing occupant, then self, then the subject (§7.2.15).
    expect(toWicca.map((s) => s.attrs['from'])).toEqual([`${ROOM}/firstwitch`, `${ROOM}/thirdwitch`, ROOM]);
    expect(item(toWicca[0])).toMatchObject({ affiliation: 'owner', role: 'moderator' });
    expect(item(toWicca[0])['jid']).toBeUndefined(); // semi-anonymous: participants see no real JIDs
    expect(statuses(toWicca[1])).toEqual(['110']);
    expect(item(toWicca[1])).toMatchObject({ affiliation: 'none', role: 'participant', jid: WICCA });
    expect(toWicca[2]?.getChild('subject')).toBeDefined();
    const toCrone = out.find(to(CRONE));
    expect(item(toCrone)).toMatchObject({ role: 'participant', jid: WICCA }); // the moderator sees it
  });

  it('adds 100 for a non-anonymous room', async () => {
    const h = harness();
    await h.instantRoom({ whois: 'anyone' });
    const out = await h.join(WICCA, 'thirdwitch');
    expect(statuses(out.find((s) => s.attrs['from'] === `${ROOM}/thirdwitch` && to(WICCA)(s)))).toEqual([
      '110',
      '100',
    ]);
    expect(item(out.find((s) => to(WICCA)(s) && s.attrs['from'] === `${ROOM}/firstwitch`))['jid']).toBe(
      CRONE,
    );
  });

  it('refuses a nick in use with conflict (§7.2.9, example 30)', async () => {
    const h = harness();
    await h.instantRoom();
    const [error] = await h.join(WICCA, 'firstwitch');
    expect(error?.name).toBe('presence');
    expect(error?.attrs).toMatchObject({ type: 'error', from: `${ROOM}/firstwitch`, to: WICCA });
    expect(errorOf(error)).toBe('conflict');
    expect(error?.getChild('error')?.attrs).toMatchObject({ type: 'cancel', by: ROOM });
  });

  it('refuses a join without a nick with jid-malformed (§7.2.1)', async () => {
    const h = harness();
    await h.instantRoom();
    const [error] = await h.send(`<presence from='${WICCA}' to='${ROOM}'><x xmlns='${NS.MUC}'/></presence>`);
    expect(errorOf(error)).toBe('jid-malformed');
  });

  it('asks for the password with not-authorized and admits with it (§7.2.6)', async () => {
    const h = harness();
    await h.instantRoom({ passwordprotectedroom: '1', roomsecret: 'cauldronburn' });
    expect(errorOf((await h.join(WICCA, 'thirdwitch'))[0])).toBe('not-authorized');
    const ok = await h.join(WICCA, 'thirdwitch', '<password>cauldronburn</password>');
    expect(ok.some((s) => s.attrs['type'] === 'error')).toBe(false);
  });

  it('refuses non-members of a members-only room with registration-required (§7.2.8)', async () => {
    const h = harness();
    await h.instantRoom({ membersonly: '1' });
    expect(errorOf((await h.join(WICCA, 'thirdwitch'))[0])).toBe('registration-required');
  });

  it('broadcasts unavailable with 110 to the leaver and destroys a temporary room with its last occupant', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    // Example 82
    const out = await h.send(`<presence from='${WICCA}' to='${ROOM}/thirdwitch' type='unavailable'/>`);
    expect(statuses(out.find(to(WICCA)))).toEqual(['110']);
    expect(out.find(to(CRONE))?.attrs['type']).toBe('unavailable');
    await h.send(`<presence from='${CRONE}' to='${ROOM}/firstwitch' type='unavailable'/>`);
    expect(await h.storage.getRoom(ROOM)).toBeNull();
  });

  it('changes a nick with 303 then the new presence (§7.6)', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    const out = await h.send(`<presence from='${WICCA}' to='${ROOM}/oldhag'/>`);
    const gone = out.find((s) => to(CRONE)(s) && s.attrs['type'] === 'unavailable');
    expect(gone?.attrs['from']).toBe(`${ROOM}/thirdwitch`);
    expect(statuses(gone)).toEqual(['303']);
    expect(item(gone)['nick']).toBe('oldhag');
    const back = out.find((s) => to(CRONE)(s) && s.attrs['type'] === undefined);
    expect(back?.attrs['from']).toBe(`${ROOM}/oldhag`);
  });
});

describe('messages (XEP-0045 §7.4, §7.5, §8.1)', () => {
  it('reflects a groupchat message to everyone with the sender id kept and a stanza-id by the room', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    // Example 48, with a forged stanza-id that must be dropped (XEP-0359 §5)
    const out = await h.send(
      `<message from='${HAG}' to='${ROOM}' type='groupchat' id='lzfed24s'><body>x</body></message>`,
    );
    expect(errorOf(out[0])).toBe('not-acceptable'); // not an occupant
    const reflected = await h.send(`<message from='${WICCA}' id='hysf1v37' to='${ROOM}' type='groupchat'>
      <body>Harpier cries: 'tis time, 'tis time.</body>
      <stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='${ROOM}'/></message>`);
    expect(reflected.map((s) => s.attrs['to']).sort()).toEqual([CRONE, WICCA].sort());
    const assigned = new Set<string | undefined>();
    for (const s of reflected) {
      expect(s.attrs).toMatchObject({ from: `${ROOM}/thirdwitch`, type: 'groupchat', id: 'hysf1v37' });
      const ids = s.getChildren('stanza-id', NS.SID);
      expect(ids).toHaveLength(1);
      expect(ids[0]?.attrs['by']).toBe(ROOM);
      assigned.add(ids[0]?.attrs['id']);
    }
    // One id for the one message, the room's own, not the forged one.
    expect(assigned.size).toBe(1);
    expect(assigned.has('forged')).toBe(false);
  });

  it('relays a private message from the occupant JID with a muc#user marker (§7.5)', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    // Example 49
    const [pm] = await h.send(
      `<message from='${WICCA}' id='hgn27af1' to='${ROOM}/firstwitch' type='chat'><body>I'll give thee a wind.</body></message>`,
    );
    expect(pm?.attrs).toMatchObject({ from: `${ROOM}/thirdwitch`, to: CRONE, type: 'chat', id: 'hgn27af1' });
    expect(pm?.getChild('x', NS.MUC_USER)).toBeDefined();
    const [missing] = await h.send(
      `<message from='${WICCA}' id='p2' to='${ROOM}/nobody' type='chat'><body>?</body></message>`,
    );
    expect(errorOf(missing)).toBe('item-not-found');
  });

  it('lets moderators change the subject, not participants unless allowed, and shows it on join (§8.1)', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    const [refused] = await h.send(
      `<message from='${WICCA}' id='s1' to='${ROOM}' type='groupchat'><subject>Mine</subject></message>`,
    );
    expect(errorOf(refused)).toBe('forbidden');
    // Example 99
    const changed = await h.send(
      `<message from='${CRONE}' id='lh2bs617' to='${ROOM}' type='groupchat'><subject>Fire Burn and Cauldron Bubble!</subject></message>`,
    );
    expect(changed).toHaveLength(2);
    const joined = await h.join(HAG, 'secondwitch');
    const subject = joined.find((s) => s.getChild('subject') !== undefined);
    expect(subject?.attrs['from']).toBe(`${ROOM}/firstwitch`);
    expect(subject?.getChildText('subject')).toBe('Fire Burn and Cauldron Bubble!');
  });

  it('silences visitors in a moderated room with forbidden (§7.4)', async () => {
    const h = harness();
    await h.instantRoom({ moderatedroom: '1' });
    const joined = await h.join(WICCA, 'thirdwitch');
    expect(item(joined.find((s) => to(WICCA)(s) && s.attrs['from'] === `${ROOM}/thirdwitch`))['role']).toBe(
      'visitor',
    );
    const [error] = await h.send(
      `<message from='${WICCA}' to='${ROOM}' type='groupchat'><body>hi</body></message>`,
    );
    expect(errorOf(error)).toBe('forbidden');
  });

  it('sends history on join with delay, honouring maxstanzas (§7.2.14)', async () => {
    let clock = Date.parse('2002-10-13T23:58:37Z');
    const h = harness({ now: () => clock });
    await h.instantRoom();
    for (const n of [1, 2, 3]) {
      clock += 1000;
      await h.send(
        `<message from='${CRONE}' id='m${n}' to='${ROOM}' type='groupchat'><body>${n}</body></message>`,
      );
    }
    const two = (await h.join(WICCA, 'thirdwitch', "<history maxstanzas='2'/>")).filter(
      (s) => to(WICCA)(s) && s.getChild('body') !== undefined,
    );
    expect(two.map((s) => s.getChildText('body'))).toEqual(['2', '3']);
    expect(two[0]?.getChild('delay', NS.DELAY)?.attrs).toMatchObject({
      from: ROOM,
      stamp: '2002-10-13T23:58:39.000Z',
    });
    const none = (await h.join(HAG, 'secondwitch', "<history maxstanzas='0'/>")).filter(
      (s) => s.getChild('body') !== undefined,
    );
    expect(none).toEqual([]);
  });
});

describe('redelivery and history windows', () => {
  it('archives a redelivered groupchat message once, under the stanza key as its stanza-id', async () => {
    const h = harness();
    await h.instantRoom();
    const stanza = `<message from='${CRONE}' id='m1' to='${ROOM}' type='groupchat'><body>once</body></message>`;
    await h.service.handle(parseElement(stanza), 'envelope-1');
    await h.service.handle(parseElement(stanza), 'envelope-1');
    const page = await h.storage.queryArchive(ROOM, { max: 10 });
    expect(page.messages.map((m) => m.id)).toEqual(['envelope-1']);
  });

  it('reflects but does not archive a message with a no-store hint (XEP-0334)', async () => {
    const h = harness();
    await h.instantRoom();
    const out = await h.send(
      `<message from='${CRONE}' to='${ROOM}' type='groupchat'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>`,
    );
    expect(out).toHaveLength(1);
    expect((await h.storage.queryArchive(ROOM, { max: 10 })).messages).toEqual([]);
  });

  it('limits history by seconds (§7.2.14)', async () => {
    let clock = Date.parse('2002-10-13T23:58:37Z');
    const h = harness({ now: () => clock });
    await h.instantRoom();
    await h.send(`<message from='${CRONE}' to='${ROOM}' type='groupchat'><body>old</body></message>`);
    clock += 600_000;
    await h.send(`<message from='${CRONE}' to='${ROOM}' type='groupchat'><body>recent</body></message>`);
    clock += 10_000;
    const history = (await h.join(WICCA, 'thirdwitch', "<history seconds='60'/>")).filter(
      (s) => s.getChild('body') !== undefined,
    );
    expect(history.map((s) => s.getChildText('body'))).toEqual(['recent']);
  });
});

describe('moderation (XEP-0045 §8, §9, §10)', () => {
  it('kicks with 307 to everyone, 110 to the kicked, and refuses participants (§8.2)', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    await h.join(HAG, 'secondwitch');
    const [forbidden] = await h.send(
      `<iq from='${HAG}' id='k0' to='${ROOM}' type='set'><query xmlns='${NS.MUC_ADMIN}'><item nick='thirdwitch' role='none'/></query></iq>`,
    );
    expect(errorOf(forbidden)).toBe('forbidden');
    // Example 108
    const out = await h.send(`<iq from='${CRONE}' id='kick1' to='${ROOM}' type='set'>
      <query xmlns='http://jabber.org/protocol/muc#admin'><item nick='thirdwitch' role='none'><reason>Avaunt, you cullion!</reason></item></query></iq>`);
    const kicked = out.find(to(WICCA));
    expect(kicked?.attrs['type']).toBe('unavailable');
    expect(statuses(kicked)).toEqual(['110', '307']);
    expect(kicked?.getChild('x', NS.MUC_USER)?.getChild('item')?.getChildText('reason')).toBe(
      'Avaunt, you cullion!',
    );
    expect(statuses(out.find(to(HAG)))).toEqual(['307']);
    expect(out.find((s) => s.name === 'iq')?.attrs['type']).toBe('result');
  });

  it('bans with 301 and refuses the outcast with forbidden (§9.1, §7.2.7)', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    // Example 116
    const out = await h.send(`<iq from='${CRONE}' id='ban1' to='${ROOM}' type='set'>
      <query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast' jid='wiccarocks@shakespeare.lit'><reason>Treason</reason></item></query></iq>`);
    expect(statuses(out.find(to(WICCA)))).toEqual(['110', '301']);
    expect(errorOf((await h.join(WICCA, 'thirdwitch'))[0])).toBe('forbidden');
    const [list] = await h.send(
      `<iq from='${CRONE}' id='ban2' to='${ROOM}' type='get'><query xmlns='${NS.MUC_ADMIN}'><item affiliation='outcast'/></query></iq>`,
    );
    expect(list?.getChild('query')?.getChild('item')?.attrs['jid']).toBe('wiccarocks@shakespeare.lit');
  });

  it('mediates invitations into a members-only room and makes the invitee a member (§7.8.2)', async () => {
    const h = harness();
    await h.instantRoom({ membersonly: '1' });
    // Example 56
    const [invitation] = await h.send(`<message from='${CRONE}' id='nzd143v8' to='${ROOM}'>
      <x xmlns='http://jabber.org/protocol/muc#user'><invite to='hecate@shakespeare.lit'><reason>Hey Hecate, this is the place for all good witches!</reason></invite></x></message>`);
    expect(invitation?.attrs).toMatchObject({ from: ROOM, to: 'hecate@shakespeare.lit' });
    const invite = invitation?.getChild('x', NS.MUC_USER)?.getChild('invite');
    expect(invite?.attrs['from']).toBe(CRONE);
    expect(invite?.getChildText('reason')).toContain('Hecate');
    const admitted = await h.join('hecate@shakespeare.lit/broom', 'hecate');
    expect(admitted.some((s) => s.attrs['type'] === 'error')).toBe(false);
    // Example 59: the decline goes back to the inviter.
    const [decline] = await h.send(`<message from='${WICCA}' id='jk2vs61v' to='${ROOM}'>
      <x xmlns='http://jabber.org/protocol/muc#user'><decline to='crone1@shakespeare.lit'><reason>Sorry</reason></decline></x></message>`);
    expect(decline?.attrs).toMatchObject({ from: ROOM, to: 'crone1@shakespeare.lit' });
    expect(decline?.getChild('x', NS.MUC_USER)?.getChild('decline')?.attrs['from']).toBe(
      'wiccarocks@shakespeare.lit',
    );
  });

  it('destroys a room, telling occupants with <destroy/> (§10.9)', async () => {
    const h = harness();
    await h.instantRoom({ persistentroom: '1' });
    await h.join(WICCA, 'thirdwitch');
    // Example 201
    const out = await h.send(`<iq from='${CRONE}' id='begone' to='${ROOM}' type='set'>
      <query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='darkcave@chat.shakespeare.lit'><reason>Macbeth doth come.</reason></destroy></query></iq>`);
    const notice = out.find(to(WICCA));
    expect(notice?.attrs['type']).toBe('unavailable');
    expect(notice?.getChild('x', NS.MUC_USER)?.getChild('destroy')?.attrs['jid']).toBe(
      'darkcave@chat.shakespeare.lit',
    );
    expect(await h.storage.getRoom(ROOM)).toBeNull();
  });
});

describe('discovery (XEP-0045 §6)', () => {
  it('lists public rooms only and describes a room with muc_* features', async () => {
    const h = harness();
    await h.instantRoom({ persistentroom: '1', roomname: 'The Coven' });
    await h.send(`<presence from='${HAG}' to='hidden@${SERVICE}/me'/>`); // instant room of an old client
    await h.send(
      `<iq from='${HAG}' id='h' to='hidden@${SERVICE}' type='set'><query xmlns='${NS.MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_publicroom'><value>0</value></field></x></query></iq>`,
    );
    const [service] = await h.send(
      `<iq from='${WICCA}' id='d1' to='${SERVICE}' type='get'><query xmlns='${NS.DISCO_INFO}'/></iq>`,
    );
    expect(service?.getChild('query')?.getChild('identity')?.attrs).toMatchObject({
      category: 'conference',
      type: 'text',
    });
    const [items] = await h.send(
      `<iq from='${WICCA}' id='d2' to='${SERVICE}' type='get'><query xmlns='${NS.DISCO_ITEMS}'/></iq>`,
    );
    expect(
      items
        ?.getChild('query')
        ?.getChildren('item')
        .map((i) => i.attrs),
    ).toEqual([{ jid: ROOM, name: 'The Coven' }]);
    const [info] = await h.send(
      `<iq from='${WICCA}' id='d3' to='${ROOM}' type='get'><query xmlns='${NS.DISCO_INFO}'/></iq>`,
    );
    const features = info
      ?.getChild('query')
      ?.getChildren('feature')
      .map((f) => f.attrs['var']);
    expect(features).toEqual(
      expect.arrayContaining([
        NS.MUC,
        'muc_persistent',
        'muc_public',
        'muc_open',
        'muc_semianonymous',
        NS.MAM,
      ]),
    );
  });
});

describe('archive (XEP-0313)', () => {
  it('pages through the room archive with RSM and marks the last page complete', async () => {
    const h = harness();
    await h.instantRoom();
    for (const n of [1, 2, 3]) {
      await h.send(
        `<message from='${CRONE}' id='m${n}' to='${ROOM}' type='groupchat'><body>${n}</body></message>`,
      );
    }
    const page1 = await h.send(`<iq from='${CRONE}' id='q1' to='${ROOM}' type='set'>
      <query xmlns='urn:xmpp:mam:2' queryid='f27'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></query></iq>`);
    const results = page1.filter((s) => s.name === 'message');
    expect(results.map((s) => s.getChild('result', NS.MAM)?.attrs['queryid'])).toEqual(['f27', 'f27']);
    const forwarded = results[0]?.getChild('result', NS.MAM)?.getChild('forwarded', NS.FORWARD);
    expect(forwarded?.getChild('message')?.getChildText('body')).toBe('1');
    expect(forwarded?.getChild('message')?.attrs['from']).toBe(`${ROOM}/firstwitch`);
    const fin = page1.find((s) => s.name === 'iq')?.getChild('fin', NS.MAM);
    expect(fin?.attrs['complete']).toBeUndefined();
    const last = fin?.getChild('set', NS.RSM)?.getChildText('last');
    const page2 = await h.send(`<iq from='${CRONE}' id='q2' to='${ROOM}' type='set'>
      <query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>${last}</after></set></query></iq>`);
    expect(
      page2
        .filter((s) => s.name === 'message')
        .map((s) => s.getChild('result')?.getChild('forwarded')?.getChild('message')?.getChildText('body')),
    ).toEqual(['3']);
    expect(page2.find((s) => s.name === 'iq')?.getChild('fin')?.attrs['complete']).toBe('true');
  });
});

describe('iqs to occupants', () => {
  it('relays a vCard query to the occupant and its answer back under the original id', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    const [relayed] = await h.send(
      `<iq from='${WICCA}' id='v1' to='${ROOM}/firstwitch' type='get'><vCard xmlns='vcard-temp'/></iq>`,
    );
    expect(relayed?.attrs).toMatchObject({ from: `${ROOM}/thirdwitch`, to: CRONE, type: 'get' });
    const [answer] = await h.send(
      `<iq from='${CRONE}' id='${relayed?.attrs['id']}' to='${ROOM}/thirdwitch' type='result'><vCard xmlns='vcard-temp'><FN>Crone</FN></vCard></iq>`,
    );
    expect(answer?.attrs).toMatchObject({ from: `${ROOM}/firstwitch`, to: WICCA, id: 'v1', type: 'result' });
    expect(answer?.getChild('vCard')?.getChildText('FN')).toBe('Crone');
  });

  it('answers a self-ping of a joined occupant and refuses one from outside (XEP-0410)', async () => {
    const h = harness();
    await h.instantRoom();
    const [pong] = await h.send(
      `<iq from='${CRONE}' id='p1' to='${ROOM}/firstwitch' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
    expect(pong?.attrs['type']).toBe('result');
    const [refused] = await h.send(
      `<iq from='${WICCA}' id='p2' to='${ROOM}/firstwitch' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
    expect(errorOf(refused)).toBe('not-acceptable');
  });
});

describe('several sessions under one nick', () => {
  it('lets a second session of the same user share the nick and sends room traffic to both', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    const phone = 'wiccarocks@shakespeare.lit/phone';
    const joined = await h.join(phone, 'thirdwitch');
    expect(joined.some((s) => s.attrs['type'] === 'error')).toBe(false);
    expect(joined.every(to(phone))).toBe(true); // the others see no second arrival
    expect(statuses(joined.find((s) => s.attrs['from'] === `${ROOM}/thirdwitch`))).toContain('110');
    const reflected = await h.send(
      `<message from='${CRONE}' to='${ROOM}' type='groupchat'><body>hi</body></message>`,
    );
    expect(reflected.map((s) => s.attrs['to']).sort()).toEqual([CRONE, WICCA, phone].sort());
    // One session leaving keeps the occupant; the last one takes it out.
    const first = await h.send(`<presence from='${WICCA}' to='${ROOM}/thirdwitch' type='unavailable'/>`);
    expect(first.map((s) => s.attrs['to'])).toEqual([WICCA]);
    const last = await h.send(`<presence from='${phone}' to='${ROOM}/thirdwitch' type='unavailable'/>`);
    expect(last.find(to(CRONE))?.attrs['type']).toBe('unavailable');
  });
});

describe('ghost occupants', () => {
  it('removes an occupant whose session bounces a room message as gone', async () => {
    const h = harness();
    await h.instantRoom();
    await h.join(WICCA, 'thirdwitch');
    const out = await h.send(`<message from='${WICCA}' to='${ROOM}/firstwitch' type='error'>
      <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
    const gone = out.find(to(CRONE));
    expect(gone?.attrs).toMatchObject({ type: 'unavailable', from: `${ROOM}/thirdwitch` });
  });
});
