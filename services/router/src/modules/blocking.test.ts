import { afterEach, describe, expect, it } from 'vitest';
import { Harness, befriend, conditionOf } from '../test/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

const BLOCKING = 'urn:xmpp:blocking';

describe('blocking command (XEP-0191)', () => {
  it('blocks a contact: pushes to interested resources, presence stops, stanzas both ways are refused; unblock restores', async () => {
    h = await Harness.start();
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    const juliet = await h.login('juliet@example.com/balcony');
    const chamber = await h.login('juliet@example.com/chamber');
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    await juliet.send('<presence/>');
    // XEP-0191 §3.2 example.
    await juliet.send("<iq type='get' id='blocklist1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
    const list = juliet.received().find((el) => el.attrs['id'] === 'blocklist1')!;
    expect(list.getChild('blocklist', BLOCKING)!.children).toEqual([]);
    romeo.received();
    chamber.received();

    // §3.3 example.
    await juliet.send(
      "<iq type='set' id='block1'><block xmlns='urn:xmpp:blocking'><item jid='romeo@example.net'/></block></iq>",
    );
    const mine = juliet.received();
    expect(mine.map((el) => [el.attrs['type'], el.attrs['id'] === 'block1'])).toEqual([
      ['result', true],
      ['set', false],
    ]);
    expect(mine[1]!.getChild('block', BLOCKING)!.getChild('item')!.attrs['jid']).toBe('romeo@example.net');
    expect(chamber.received()).toEqual([]);
    // The blocked contact sees Juliet go unavailable.
    expect(romeo.received().map((el) => [el.attrs['from'], el.attrs['type']])).toEqual([
      ['juliet@example.com/balcony', 'unavailable'],
    ]);
    expect(await h.store.blocklists.list('juliet@example.com')).toEqual(['romeo@example.net']);

    // §3.4: his message bounces with service-unavailable, his presence is dropped.
    await romeo.send("<message to='juliet@example.com' type='chat' id='m1'><body>hello?</body></message>");
    expect(conditionOf(romeo.received()[0]!)).toBe('service-unavailable');
    await romeo.send('<presence><show>away</show></presence>');
    expect(juliet.received()).toEqual([]);
    romeo.received();
    // §3.5: hers to him is refused with not-acceptable and <blocked/>.
    await juliet.send("<message to='romeo@example.net' type='chat' id='m2'><body>bye</body></message>");
    const [refused] = juliet.received();
    expect(conditionOf(refused!)).toBe('not-acceptable');
    expect(refused!.getChild('error')!.getChild('blocked', 'urn:xmpp:blocking:errors')).toBeDefined();
    // Her presence updates no longer reach him.
    await juliet.send('<presence><show>dnd</show></presence>');
    expect(romeo.received().filter((el) => el.name === 'presence')).toEqual([]);
    juliet.received();

    // §3.4 (unblock all): the list empties and messages flow again.
    await juliet.send("<iq type='set' id='unblock1'><unblock xmlns='urn:xmpp:blocking'/></iq>");
    const after = juliet.received();
    expect(after.map((el) => el.attrs['type'])).toEqual(['result', 'set']);
    expect(await h.store.blocklists.list('juliet@example.com')).toEqual([]);
    romeo.received();
    await romeo.send(
      "<message to='juliet@example.com/balcony' type='chat' id='m3'><body>again</body></message>",
    );
    expect(juliet.received().map((el) => el.getChildText('body'))).toEqual(['again']);
  });

  it('matches a blocked domain against every JID of it', async () => {
    h = await Harness.start();
    await h.store.blocklists.add('juliet@example.com', ['example.net']);
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send('<presence/>');
    juliet.received();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send("<iq to='juliet@example.com' id='q' type='get'><vCard xmlns='vcard-temp'/></iq>");
    expect(conditionOf(romeo.received()[0]!)).toBe('service-unavailable');
  });

  it('refuses a block without items with bad-request', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'/></iq>");
    expect(conditionOf(juliet.received()[0]!)).toBe('bad-request');
  });
});
