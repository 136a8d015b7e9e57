import { afterEach, describe, expect, it } from 'vitest';
import { Harness, conditionOf } from '../test/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

const ROSTER = 'jabber:iq:roster';

// RFC 6121 §2.3.1 example (nurse added with a group).
const addNurse = `<iq id='ph1xaz53' type='set'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' name='Nurse'><group>Servants</group></item></query></iq>`;

describe('roster get (RFC 6121 §2.2)', () => {
  it('returns the items and the version, with no from on the result', async () => {
    h = await Harness.start();
    await h.store.rosters.update('juliet@example.com', 'romeo@example.net', () => ({
      jid: 'romeo@example.net',
      name: 'Romeo',
      subscription: 'both',
      groups: ['Friends'],
    }));
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<iq id='bv1bs71f' type='get'><query xmlns='jabber:iq:roster'/></iq>");
    const [result] = juliet.received();
    expect(result!.attrs).toEqual({ to: 'juliet@example.com/balcony', type: 'result', id: 'bv1bs71f' });
    const query = result!.getChild('query', ROSTER)!;
    expect(query.attrs['ver']).toBe((await h.store.rosters.get('juliet@example.com')).version);
    const items = query.getChildren('item');
    expect(items.map((i) => i.attrs)).toEqual([
      { jid: 'romeo@example.net', name: 'Romeo', subscription: 'both' },
    ]);
    expect(items[0]!.getChildText('group')).toBe('Friends');
  });

  it('is answered with service-unavailable when it targets someone else’s roster', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<iq to='romeo@example.net' id='r1' type='get'><query xmlns='jabber:iq:roster'/></iq>");
    expect(conditionOf(juliet.received()[0]!)).toBe('service-unavailable');
  });
});

describe('roster set (RFC 6121 §2.3)', () => {
  it('adds the item, answers with an empty result and pushes it to every resource that asked for the roster', async () => {
    h = await Harness.start();
    const balcony = await h.login('juliet@example.com/balcony');
    const chamber = await h.login('juliet@example.com/chamber');
    const hall = await h.login('juliet@example.com/hall');
    await balcony.send("<iq id='g1' type='get'><query xmlns='jabber:iq:roster'/></iq>");
    await chamber.send("<iq id='g2' type='get'><query xmlns='jabber:iq:roster'/></iq>");
    balcony.received();
    chamber.received();
    await balcony.send(addNurse);
    const fromBalcony = balcony.received();
    const result = fromBalcony.find((el) => el.attrs['type'] === 'result')!;
    expect(result.attrs['id']).toBe('ph1xaz53');
    expect(result.children).toHaveLength(0);
    const version = (await h.store.rosters.get('juliet@example.com')).version;
    for (const stanzas of [fromBalcony.filter((el) => el.attrs['type'] === 'set'), chamber.received()]) {
      expect(stanzas).toHaveLength(1);
      const query = stanzas[0]!.getChild('query', ROSTER)!;
      expect(query.attrs['ver']).toBe(version);
      expect(query.getChild('item')!.attrs).toEqual({
        jid: 'nurse@example.com',
        name: 'Nurse',
        subscription: 'none',
      });
    }
    expect(hall.received()).toEqual([]);
  });

  it('ignores a subscription value other than remove (RFC 6121 §2.1.2.5)', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(
      "<iq id='s1' type='set'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' subscription='both' ask='subscribe'/></query></iq>",
    );
    expect(juliet.received()[0]!.attrs['type']).toBe('result');
    expect(await h.store.rosters.getItem('juliet@example.com', 'nurse@example.com')).toEqual({
      jid: 'nurse@example.com',
      subscription: 'none',
      groups: [],
    });
  });

  it.each([
    ['two items', "<item jid='nurse@example.com'/><item jid='romeo@example.net'/>", 'bad-request'],
    [
      'a duplicate group',
      "<item jid='nurse@example.com'><group>A</group><group>A</group></item>",
      'bad-request',
    ],
    ['an empty group', "<item jid='nurse@example.com'><group></group></item>", 'not-acceptable'],
    ['a malformed JID', "<item jid='nurse@@example.com'/>", 'jid-malformed'],
  ])('with %s is refused with %s (RFC 6121 §2.3.3)', async (_what, items, condition) => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(`<iq id='bad' type='set'><query xmlns='jabber:iq:roster'>${items}</query></iq>`);
    const [reply] = juliet.received();
    expect(reply!.attrs['type']).toBe('error');
    expect(conditionOf(reply!)).toBe(condition);
    expect((await h.store.rosters.get('juliet@example.com')).items).toEqual([]);
  });
});

describe('roster remove (RFC 6121 §2.5)', () => {
  it('of an absent item is item-not-found', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(
      "<iq id='hm4hs97y' type='set'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' subscription='remove'/></query></iq>",
    );
    expect(conditionOf(juliet.received()[0]!)).toBe('item-not-found');
  });

  it('of a mutual subscription sends unsubscribe and unsubscribed to the contact and pushes the removal', async () => {
    h = await Harness.start();
    await h.store.rosters.update('juliet@example.com', 'nurse@example.com', () => ({
      jid: 'nurse@example.com',
      subscription: 'both',
      groups: [],
    }));
    await h.store.rosters.update('nurse@example.com', 'juliet@example.com', () => ({
      jid: 'juliet@example.com',
      subscription: 'both',
      groups: [],
    }));
    const juliet = await h.login('juliet@example.com/balcony');
    const nurse = await h.login('nurse@example.com/kitchen');
    await nurse.send("<iq id='n1' type='get'><query xmlns='jabber:iq:roster'/></iq>");
    await nurse.send('<presence/>');
    await juliet.send("<iq id='g' type='get'><query xmlns='jabber:iq:roster'/></iq>");
    await juliet.send('<presence/>');
    juliet.received();
    nurse.received();
    await juliet.send(
      "<iq id='hm4hs97y' type='set'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' subscription='remove'/></query></iq>",
    );
    const mine = juliet.received();
    const push = mine.find((el) => el.attrs['type'] === 'set')!;
    expect(push.getChild('query', ROSTER)!.getChild('item')!.attrs).toEqual({
      jid: 'nurse@example.com',
      subscription: 'remove',
    });
    expect(mine.some((el) => el.attrs['type'] === 'result' && el.attrs['id'] === 'hm4hs97y')).toBe(true);
    const theirs = nurse.received();
    const presences = theirs
      .filter((el) => el.name === 'presence')
      .map((el) => [el.attrs['type'], el.attrs['from']]);
    expect(presences).toEqual([
      ['unsubscribe', 'juliet@example.com'],
      ['unsubscribed', 'juliet@example.com'],
      ['unavailable', 'juliet@example.com/balcony'],
    ]);
    expect(await h.store.rosters.getItem('juliet@example.com', 'nurse@example.com')).toBeNull();
    // The contact keeps the item, with no subscription left either way (RFC 6121 §2.5.2 example).
    expect(await h.store.rosters.getItem('nurse@example.com', 'juliet@example.com')).toMatchObject({
      subscription: 'none',
    });
    const nursePushes = theirs.filter((el) => el.name === 'iq');
    expect(nursePushes.at(-1)!.getChild('query', ROSTER)!.getChild('item')!.attrs['subscription']).toBe(
      'none',
    );
  });
});

describe('roster versioning (RFC 6121 §2.6)', () => {
  it('answers an up-to-date version with an empty result', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(addNurse);
    const ver = (await h.store.rosters.get('juliet@example.com')).version;
    juliet.received();
    await juliet.send(`<iq id='r1' type='get'><query xmlns='jabber:iq:roster' ver='${ver}'/></iq>`);
    const replies = juliet.received();
    expect(replies).toHaveLength(1);
    expect(replies[0]!.attrs['type']).toBe('result');
    expect(replies[0]!.children).toHaveLength(0);
  });

  it('answers an older version with an empty result then the changes as pushes, the last one carrying the version', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(addNurse);
    const old = (await h.store.rosters.get('juliet@example.com')).version;
    await juliet.send(
      "<iq id='a2' type='set'><query xmlns='jabber:iq:roster'><item jid='romeo@example.net'/></query></iq>",
    );
    await juliet.send(
      "<iq id='a3' type='set'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' subscription='remove'/></query></iq>",
    );
    juliet.received();
    const current = (await h.store.rosters.get('juliet@example.com')).version;
    await juliet.send(`<iq id='r2' type='get'><query xmlns='jabber:iq:roster' ver='${old}'/></iq>`);
    const [result, ...pushes] = juliet.received();
    expect(result!.attrs).toMatchObject({ type: 'result', id: 'r2' });
    expect(result!.children).toHaveLength(0);
    const items = pushes.map((p) => p.getChild('query', ROSTER)!.getChild('item')!.attrs);
    expect(items).toEqual(
      expect.arrayContaining([
        { jid: 'romeo@example.net', subscription: 'none' },
        { jid: 'nurse@example.com', subscription: 'remove' },
      ]),
    );
    expect(items).toHaveLength(2);
    expect(pushes.at(-1)!.getChild('query', ROSTER)!.attrs['ver']).toBe(current);
  });

  it('answers an unknown version with the full roster', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(addNurse);
    juliet.received();
    await juliet.send("<iq id='r3' type='get'><query xmlns='jabber:iq:roster' ver='no-such-version'/></iq>");
    const [result] = juliet.received();
    expect(
      result!
        .getChild('query', ROSTER)!
        .getChildren('item')
        .map((i) => i.attrs['jid']),
    ).toEqual(['nurse@example.com']);
  });
});
