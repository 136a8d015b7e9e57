import { afterEach, describe, expect, it } from 'vitest';
import type { Element } from '@switchboard/xml';
import { Harness } from '../test/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

const ROSTER = 'jabber:iq:roster';
const pushed = (els: Element[]): Record<string, string>[] =>
  els
    .filter((el) => el.name === 'iq' && el.attrs['type'] === 'set')
    .map((el) => el.getChild('query', ROSTER)!.getChild('item')!.attrs);
const presences = (els: Element[]): string[][] =>
  els
    .filter((el) => el.name === 'presence')
    .map((el) => [el.attrs['from'] ?? '', el.attrs['type'] ?? 'available']);

describe('subscription handshake (RFC 6121 §3.1)', () => {
  it('romeo subscribes to juliet, she approves: pushes on both sides, then her presence reaches him', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    const juliet = await h.login('juliet@example.com/balcony');
    for (const c of [romeo, juliet]) {
      await c.send("<iq id='r' type='get'><query xmlns='jabber:iq:roster'/></iq>");
      await c.send('<presence/>');
      c.received();
    }
    // RFC 6121 §3.1.1 example.
    await romeo.send("<presence id='xk3h1v69' to='juliet@example.com' type='subscribe'/>");
    // §3.1.2: Romeo's server pushes the pending item.
    expect(pushed(romeo.received())).toEqual([
      { jid: 'juliet@example.com', subscription: 'none', ask: 'subscribe' },
    ]);
    // §3.1.3: Juliet's server delivers the request, stamped with Romeo's bare JID, and keeps no visible item.
    const request = juliet.received();
    expect(request.map((el) => [el.name, el.attrs['from'], el.attrs['type']])).toEqual([
      ['presence', 'romeo@example.net', 'subscribe'],
    ]);

    // §3.1.4: Juliet approves.
    await juliet.send("<presence id='h4v1c4kj' to='romeo@example.net' type='subscribed'/>");
    expect(pushed(juliet.received())).toEqual([{ jid: 'romeo@example.net', subscription: 'from' }]);
    const atRomeo = romeo.received();
    // §3.1.5/§3.1.6: the approval, his roster push, and her current presence.
    expect(presences(atRomeo)).toEqual([
      ['juliet@example.com', 'subscribed'],
      ['juliet@example.com/balcony', 'available'],
    ]);
    expect(pushed(atRomeo)).toEqual([{ jid: 'juliet@example.com', subscription: 'to' }]);
    expect(await h.store.rosters.getItem('romeo@example.net', 'juliet@example.com')).toMatchObject({
      subscription: 'to',
    });
    expect(await h.store.rosters.getItem('juliet@example.com', 'romeo@example.net')).toMatchObject({
      subscription: 'from',
    });

    // Later presence of Juliet's reaches Romeo; his does not reach her (she is not subscribed).
    await juliet.send('<presence><show>chat</show></presence>');
    expect(presences(romeo.received())).toEqual([['juliet@example.com/balcony', 'available']]);
    juliet.received();
    await romeo.send('<presence><show>away</show></presence>');
    expect(presences(juliet.received())).toEqual([]);
  });

  it('keeps a request for an offline contact and delivers it with her next initial presence', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send("<presence id='xk3h1v69' to='juliet@example.com' type='subscribe'/>");
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send('<presence/>');
    const got = juliet.received().filter((el) => el.attrs['type'] === 'subscribe');
    expect(got.map((el) => el.attrs['from'])).toEqual(['romeo@example.net']);
  });

  it('answers a repeated request from an already subscribed contact on the user’s behalf (RFC 6121 §3.1.3)', async () => {
    h = await Harness.start();
    await h.store.rosters.update('juliet@example.com', 'romeo@example.net', () => ({
      jid: 'romeo@example.net',
      subscription: 'from',
      groups: [],
    }));
    // Romeo's server lost its side of the subscription (A.3.1 "From" row: the request is answered for Juliet).
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send('<presence/>');
    juliet.received();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    romeo.received();
    await romeo.send("<presence to='juliet@example.com' type='subscribe'/>");
    expect(juliet.received().filter((el) => el.attrs['type'] === 'subscribe')).toEqual([]);
    const atRomeo = romeo.received();
    expect(pushed(atRomeo)).toEqual([]);
    expect(presences(atRomeo)).toEqual([
      ['juliet@example.com', 'subscribed'],
      ['juliet@example.com/balcony', 'available'],
    ]);
  });

  it('on unsubscribe stops the presence: the contact’s resources send unavailable (RFC 6121 §3.3)', async () => {
    h = await Harness.start();
    await h.store.rosters.update('juliet@example.com', 'romeo@example.net', () => ({
      jid: 'romeo@example.net',
      subscription: 'from',
      groups: [],
    }));
    await h.store.rosters.update('romeo@example.net', 'juliet@example.com', () => ({
      jid: 'juliet@example.com',
      subscription: 'to',
      groups: [],
    }));
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send('<presence/>');
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    romeo.received();
    juliet.received();
    await romeo.send("<presence id='ul4bs71n' to='juliet@example.com' type='unsubscribe'/>");
    expect(presences(romeo.received())).toEqual([['juliet@example.com/balcony', 'unavailable']]);
    expect(await h.store.rosters.getItem('juliet@example.com', 'romeo@example.net')).toMatchObject({
      subscription: 'none',
    });
  });

  it('denies a request to an account that does not exist with unsubscribed', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send("<iq id='r' type='get'><query xmlns='jabber:iq:roster'/></iq>");
    await romeo.send('<presence/>');
    romeo.received();
    await romeo.send("<presence to='tybalt@example.com' type='subscribe'/>");
    const got = romeo.received();
    expect(pushed(got)).toEqual([
      { jid: 'tybalt@example.com', subscription: 'none', ask: 'subscribe' },
      { jid: 'tybalt@example.com', subscription: 'none' },
    ]);
    expect(presences(got)).toEqual([['tybalt@example.com', 'unsubscribed']]);
  });
});
