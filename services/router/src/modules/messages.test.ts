import { afterEach, describe, expect, it } from 'vitest';
import { parseElement, xml } from '@switchboard/xml';
import { Harness, conditionOf, type Client } from '../test/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

// RFC 6121 §5.2.2 example.
const chat = (to: string, body = 'Art thou not Romeo, and a Montague?'): string =>
  `<message to='${to}' type='chat' id='ktx72v49' xml:lang='en'><body>${body}</body></message>`;

async function online(c: Client, priority: number): Promise<void> {
  await c.send(`<presence><priority>${priority}</priority></presence>`);
  c.received();
}

describe('messages to a bare JID (RFC 6121 §8.5.2)', () => {
  it('go to the available resource of highest priority only, changed by nothing but the archive stanza-id', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const orchard = await h.login('romeo@example.net/orchard');
    const garden = await h.login('romeo@example.net/garden');
    await online(orchard, 1);
    await online(garden, 5);
    orchard.received();
    const id = await juliet.send(chat('romeo@example.net'));
    expect(orchard.received()).toEqual([]);
    const sent = parseElement(chat('romeo@example.net'), { defaultNamespace: 'jabber:client' });
    sent.attrs['from'] = 'juliet@example.com/balcony';
    // XEP-0313 §5.1.1 / XEP-0359: the recipient's archive id comes with the message.
    sent.append(xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', id, by: 'romeo@example.net' }));
    expect(garden.deliveries()).toEqual([
      expect.objectContaining({ kind: 'stanza', id, to: 'romeo@example.net/garden', xml: sent.toString() }),
    ]);
    expect(juliet.received()).toEqual([]);
  });

  it('go to every resource sharing the highest priority, and headlines to all non-negative ones', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const a = await h.login('romeo@example.net/a');
    const b = await h.login('romeo@example.net/b');
    const c = await h.login('romeo@example.net/c');
    await online(a, 3);
    await online(b, 3);
    await online(c, 0);
    a.received();
    b.received();
    await juliet.send(chat('romeo@example.net'));
    expect(a.received()).toHaveLength(1);
    expect(b.received()).toHaveLength(1);
    expect(c.received()).toHaveLength(0);
    await juliet.send("<message to='romeo@example.net' type='headline'><body>news</body></message>");
    expect([a.received().length, b.received().length, c.received().length]).toEqual([1, 1, 1]);
  });

  it('never go to a resource of negative priority, which leaves the message for offline storage', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const romeo = await h.login('romeo@example.net/orchard');
    await online(romeo, -1);
    await juliet.send(chat('romeo@example.net'));
    expect(romeo.received()).toEqual([]);
    expect(await h.store.offline.count('romeo@example.net')).toBe(1);
  });

  it('of type groupchat bounce with service-unavailable; errors are dropped', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const romeo = await h.login('romeo@example.net/orchard');
    await online(romeo, 0);
    await juliet.send("<message to='romeo@example.net' type='groupchat' id='g1'><body>hi</body></message>");
    expect(romeo.received()).toEqual([]);
    const [bounce] = juliet.received();
    expect(bounce!.attrs).toMatchObject({ type: 'error', id: 'g1', from: 'romeo@example.net' });
    expect(conditionOf(bounce!)).toBe('service-unavailable');
    await juliet.send("<message to='romeo@example.net' type='error' id='e1'/>");
    expect(romeo.received()).toEqual([]);
    expect(juliet.received()).toEqual([]);
  });
});

describe('messages to a full JID (RFC 6121 §8.5.3)', () => {
  it('go to that resource even when another has higher priority', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const orchard = await h.login('romeo@example.net/orchard');
    const garden = await h.login('romeo@example.net/garden');
    await online(orchard, 1);
    await online(garden, 5);
    orchard.received();
    await juliet.send(chat('romeo@example.net/orchard'));
    expect(orchard.received().map((m) => m.getChildText('body'))).toEqual([
      'Art thou not Romeo, and a Montague?',
    ]);
    expect(garden.received()).toEqual([]);
  });

  it('for an unknown resource: chat is treated as bare, groupchat bounces, headline is dropped', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const romeo = await h.login('romeo@example.net/orchard');
    await online(romeo, 0);
    await juliet.send(chat('romeo@example.net/nowhere'));
    expect(romeo.received()).toHaveLength(1);
    await juliet.send(
      "<message to='romeo@example.net/nowhere' type='groupchat' id='g2'><body>x</body></message>",
    );
    expect(conditionOf(juliet.received()[0]!)).toBe('service-unavailable');
    await juliet.send("<message to='romeo@example.net/nowhere' type='headline'><body>x</body></message>");
    expect(romeo.received()).toEqual([]);
    expect(juliet.received()).toEqual([]);
  });
});

describe('offline messages (XEP-0160, XEP-0203)', () => {
  it('are stored with a delay stamp and delivered once, after the next initial presence', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(chat('romeo@example.net', 'one'));
    await juliet.send(chat('romeo@example.net', 'two'));
    await juliet.send("<message to='romeo@example.net' type='headline'><body>not kept</body></message>");
    expect(juliet.received()).toEqual([]);
    const romeo = await h.login('romeo@example.net/orchard');
    expect(romeo.received()).toEqual([]);
    await romeo.send('<presence/>');
    const messages = romeo.received().filter((el) => el.name === 'message');
    expect(messages.map((m) => m.getChildText('body'))).toEqual(['one', 'two']);
    const delay = messages[0]!.getChild('delay', 'urn:xmpp:delay');
    expect(delay?.attrs['from']).toBe('example.net');
    expect(delay?.attrs['stamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(await h.store.offline.count('romeo@example.net')).toBe(0);
    await romeo.send('<presence type="unavailable"/>');
    await romeo.send('<presence/>');
    expect(romeo.received().filter((el) => el.name === 'message')).toEqual([]);
  });

  it('stores a redelivered envelope once (idempotent by envelope id)', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(chat('romeo@example.net'), { id: 'same-envelope' });
    await juliet.send(chat('romeo@example.net'), { id: 'same-envelope' });
    expect(await h.store.offline.count('romeo@example.net')).toBe(1);
  });

  it('bounce with service-unavailable once the recipient’s storage is full', async () => {
    h = await Harness.start({ offlineCap: 2 });
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(chat('romeo@example.net', '1'));
    await juliet.send(chat('romeo@example.net', '2'));
    expect(juliet.received()).toEqual([]);
    await juliet.send(chat('romeo@example.net', '3'));
    const [bounce] = juliet.received();
    expect(bounce!.attrs).toMatchObject({
      type: 'error',
      from: 'romeo@example.net',
      to: 'juliet@example.com/balcony',
    });
    expect(conditionOf(bounce!)).toBe('service-unavailable');
    expect(bounce!.getChildText('body')).toBe('3');
  });

  it('bounce with service-unavailable when the store’s own cap is reached', async () => {
    h = await Harness.start({ storeLimits: { offlineCap: 1 } });
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(chat('romeo@example.net', '1'));
    await juliet.send(chat('romeo@example.net', '2'));
    expect(conditionOf(juliet.received()[0]!)).toBe('service-unavailable');
  });
});

describe('messages to addresses that do not exist here', () => {
  it('to an account that does not exist bounce with service-unavailable (RFC 6121 §8.5.1)', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(chat('tybalt@example.com'));
    const [bounce] = juliet.received();
    expect(bounce!.attrs).toMatchObject({ type: 'error', from: 'tybalt@example.com' });
    expect(conditionOf(bounce!)).toBe('service-unavailable');
  });

  it('to a domain not served bounce with remote-server-not-found', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(chat('mercutio@verona.example'));
    expect(conditionOf(juliet.received()[0]!)).toBe('remote-server-not-found');
  });

  it('to a component domain go to its svc stream as the envelope', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send(chat('+15550001@sms.example.com'));
    expect(await h.bus.length('svc:{sms.example.com}')).toBe(1);
    expect(juliet.received()).toEqual([]);
  });
});
