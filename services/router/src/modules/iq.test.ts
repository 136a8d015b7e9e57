import { afterEach, describe, expect, it } from 'vitest';
import { Harness, befriend, conditionOf } from '../test/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('service discovery (XEP-0030)', () => {
  it('describes the server as server/im with the features of the registered modules', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(
      "<iq to='example.com' id='info1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    const query = juliet.received()[0]!.getChild('query', 'http://jabber.org/protocol/disco#info')!;
    expect(query.getChild('identity')!.attrs).toMatchObject({ category: 'server', type: 'im' });
    const features = query.getChildren('feature').map((f) => f.attrs['var']);
    expect(features).toEqual(h.routers[0]!.features);
    expect(features).toEqual(
      expect.arrayContaining([
        'http://jabber.org/protocol/disco#info',
        'http://jabber.org/protocol/disco#items',
        'urn:xmpp:ping',
        'jabber:iq:version',
        'urn:xmpp:time',
        'jabber:iq:last',
        'vcard-temp',
        'jabber:iq:private',
        'urn:xmpp:blocking',
        'msgoffline',
      ]),
    );
  });

  it('lists the component domains as the server’s items', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(
      "<iq to='example.com' id='items1' type='get'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    );
    const query = juliet.received()[0]!.getChild('query', 'http://jabber.org/protocol/disco#items')!;
    expect(query.getChildren('item').map((i) => i.attrs['jid'])).toEqual(['sms.example.com']);
  });

  it('shows an account as account/registered to itself and to subscribers, and to nobody else', async () => {
    h = await Harness.start();
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    const juliet = await h.login('juliet@example.com/balcony');
    const romeo = await h.login('romeo@example.net/orchard');
    const nurse = await h.login('nurse@example.com/kitchen');
    const ask =
      "<iq to='juliet@example.com' id='a1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
    for (const c of [juliet, romeo]) {
      await c.send(ask);
      const identity = c.received()[0]!.getChild('query')!.getChild('identity')!;
      expect(identity.attrs).toEqual({ category: 'account', type: 'registered' });
    }
    await nurse.send(ask);
    expect(conditionOf(nurse.received()[0]!)).toBe('service-unavailable');
  });
});

describe('small server queries', () => {
  it('answers software version (XEP-0092) and time in UTC (XEP-0202)', async () => {
    h = await Harness.start({ now: () => Date.UTC(2006, 11, 19, 17, 58, 35) });
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<iq to='example.com' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>");
    const version = juliet.received()[0]!.getChild('query', 'jabber:iq:version')!;
    expect([version.getChildText('name'), version.getChildText('version')]).toEqual(['Switchboard', '1.2.3']);
    await juliet.send("<iq to='example.com' id='t1' type='get'><time xmlns='urn:xmpp:time'/></iq>");
    const time = juliet.received()[0]!.getChild('time', 'urn:xmpp:time')!;
    expect([time.getChildText('tzo'), time.getChildText('utc')]).toEqual(['+00:00', '2006-12-19T17:58:35Z']);
  });

  it('answers last activity with the server uptime and, to subscribers, the time since a contact logged out (XEP-0012)', async () => {
    let clock = 1_000_000;
    h = await Harness.start({ now: () => clock });
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    const juliet = await h.login('juliet@example.com/balcony');
    clock += 90_000;
    await juliet.send("<iq to='example.com' id='l1' type='get'><query xmlns='jabber:iq:last'/></iq>");
    expect(juliet.received()[0]!.getChild('query', 'jabber:iq:last')!.attrs['seconds']).toBe('90');

    await h.registries[0]!.setLastActivity('romeo@example.net', {
      ts: clock - 903_000,
      status: 'Heading home',
    });
    await juliet.send("<iq to='romeo@example.net' id='l2' type='get'><query xmlns='jabber:iq:last'/></iq>");
    const last = juliet.received()[0]!.getChild('query', 'jabber:iq:last')!;
    expect([last.attrs['seconds'], last.getText()]).toEqual(['903', 'Heading home']);
    const nurse = await h.login('nurse@example.com/kitchen');
    await nurse.send("<iq to='romeo@example.net' id='l3' type='get'><query xmlns='jabber:iq:last'/></iq>");
    expect(conditionOf(nurse.received()[0]!)).toBe('forbidden');
  });
});

describe('unhandled requests (RFC 6120 §8.4)', () => {
  it('get service-unavailable from the server and from an account, and results are never answered', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<iq to='example.com' id='u1' type='get'><query xmlns='urn:example:unknown'/></iq>");
    const [fromServer] = juliet.received();
    expect(fromServer!.attrs).toMatchObject({ type: 'error', id: 'u1', from: 'example.com' });
    expect(conditionOf(fromServer!)).toBe('service-unavailable');
    await juliet.send(
      "<iq to='romeo@example.net' id='u2' type='set'><query xmlns='urn:example:unknown'/></iq>",
    );
    expect(conditionOf(juliet.received()[0]!)).toBe('service-unavailable');
    await juliet.send("<iq to='example.com' id='u3' type='result'/>");
    await juliet.send(
      "<iq to='romeo@example.net' id='u4' type='error'><error type='cancel'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
    expect(juliet.received()).toEqual([]);
  });

  it('to a full JID without a session get service-unavailable; with one, go to it', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const romeo = await h.login('romeo@example.net/orchard');
    await juliet.send(
      "<iq to='romeo@example.net/gone' id='f1' type='get'><query xmlns='jabber:iq:version'/></iq>",
    );
    expect(conditionOf(juliet.received()[0]!)).toBe('service-unavailable');
    await juliet.send(
      "<iq to='romeo@example.net/orchard' id='f2' type='get'><query xmlns='jabber:iq:version'/></iq>",
    );
    expect(romeo.received().map((el) => el.attrs['id'])).toEqual(['f2']);
  });
});

describe('vCards (XEP-0054)', () => {
  it('are set by their owner and read by anyone; nobody else may set them', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const romeo = await h.login('romeo@example.net/orchard');
    await juliet.send("<iq id='v1' type='get'><vCard xmlns='vcard-temp'/></iq>");
    expect(juliet.received()[0]!.getChild('vCard', 'vcard-temp')!.children).toEqual([]);
    await juliet.send(
      "<iq id='v2' type='set'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard></iq>",
    );
    expect(juliet.received()[0]!.attrs['type']).toBe('result');
    await romeo.send("<iq to='juliet@example.com' id='v3' type='get'><vCard xmlns='vcard-temp'/></iq>");
    const [card] = romeo.received();
    expect(card!.attrs['from']).toBe('juliet@example.com');
    expect(card!.getChild('vCard', 'vcard-temp')!.getChildText('FN')).toBe('Juliet Capulet');
    await romeo.send(
      "<iq to='juliet@example.com' id='v4' type='set'><vCard xmlns='vcard-temp'><FN>Imposter</FN></vCard></iq>",
    );
    expect(conditionOf(romeo.received()[0]!)).toBe('forbidden');
  });
});

describe('private XML storage (XEP-0049)', () => {
  it('stores and returns data for its owner only, and refuses reserved namespaces', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(
      "<iq type='set' id='1001'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus></query></iq>",
    );
    expect(juliet.received()[0]!.attrs['type']).toBe('result');
    await juliet.send(
      "<iq type='get' id='1002'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>",
    );
    const stored = juliet
      .received()[0]!
      .getChild('query', 'jabber:iq:private')!
      .getChild('exodus', 'exodus:prefs')!;
    expect(stored.getChildText('defaultnick')).toBe('Hamlet');
    await juliet.send(
      "<iq type='get' id='1003'><query xmlns='jabber:iq:private'><other xmlns='urn:example:none'/></query></iq>",
    );
    expect(juliet.received()[0]!.getChild('query')!.getChild('other', 'urn:example:none')!.children).toEqual(
      [],
    );
    await juliet.send(
      "<iq type='set' id='1004'><query xmlns='jabber:iq:private'><foo xmlns='jabber:client'/></query></iq>",
    );
    expect(conditionOf(juliet.received()[0]!)).toBe('not-acceptable');
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send(
      "<iq to='juliet@example.com' type='get' id='1005'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>",
    );
    expect(conditionOf(romeo.received()[0]!)).toBe('forbidden');
  });
});
