import { afterEach, describe, expect, it } from 'vitest';
import { parseElement, type Element } from '@switchboard/xml';
import { Harness, befriend, conditionOf, type Client } from '../test/harness.js';
import { capsVer } from './caps.js';

const PUBSUB = 'http://jabber.org/protocol/pubsub';
const EVENT = 'http://jabber.org/protocol/pubsub#event';
const ERRORS = 'http://jabber.org/protocol/pubsub#errors';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const METADATA = 'urn:xmpp:avatar:metadata';
const BOOKMARKS = 'urn:xmpp:bookmarks:1';
const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';
const NODE = 'https://example.org/client';

let h: Harness;
afterEach(async () => {
  await h.close();
});

/** A client's disco#info (XEP-0115 §5) and the caps element its presence carries. */
function capabilities(notify: readonly string[]): { query: string; ver: string } {
  const features = ['http://jabber.org/protocol/caps', DISCO_INFO, ...notify.map((n) => `${n}+notify`)];
  const inner = `<identity category='client' type='phone' name='Test'/>${features.map((f) => `<feature var='${f}'/>`).join('')}`;
  const ver = capsVer(parseElement(`<query xmlns='${DISCO_INFO}'>${inner}</query>`), 'sha-1')!;
  return { query: inner, ver };
}

/**
 * Sends available presence with caps; answers the server's disco#info query
 * (XEP-0115 §6.2) when it comes, and returns what else arrived.
 */
async function onlineWithCaps(c: Client, notify: readonly string[]): Promise<Element[]> {
  const { query, ver } = capabilities(notify);
  await c.send(
    `<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${NODE}' ver='${ver}'/></presence>`,
  );
  const got = c.received();
  const rest: Element[] = [];
  for (const s of got) {
    const q = s.getChild('query', DISCO_INFO);
    if (s.name === 'iq' && s.attrs['type'] === 'get' && q !== undefined) {
      expect(q.attrs['node']).toBe(`${NODE}#${ver}`);
      await c.send(
        `<iq type='result' id='${s.attrs['id']}' to='${s.attrs['from']}'><query xmlns='${DISCO_INFO}' node='${NODE}#${ver}'>${query}</query></iq>`,
      );
      rest.push(...c.received());
    } else rest.push(s);
  }
  return rest;
}

const events = (stanzas: Element[], node: string): Element[] =>
  stanzas.filter((s) => s.getChild('event', EVENT)?.getChild('items')?.attrs['node'] === node);

// XEP-0084 §4.2, Example 3 (metadata), with publish-options.
const publishMetadata = (id: string, options = '') =>
  `<iq type='set' id='publish2'><pubsub xmlns='${PUBSUB}'><publish node='${METADATA}'><item id='${id}'><metadata xmlns='${METADATA}'><info bytes='12345' id='${id}' height='64' type='image/png' width='64'/></metadata></item></publish>${options}</pubsub></iq>`;

const publishOptions = (fields: Record<string, string>) =>
  `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>${Object.entries(
    fields,
  )
    .map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`)
    .join('')}</x></publish-options>`;

async function iq(c: Client, stanza: string): Promise<Element> {
  await c.send(stanza);
  const all = c.received();
  const id = parseElement(stanza).attrs['id'];
  const reply = all.find((s) => s.name === 'iq' && s.attrs['id'] === id);
  expect(reply, `the answer to ${id}`).toBeDefined();
  return reply!;
}

describe('personal eventing (XEP-0163)', () => {
  it('auto-creates a node on publish and notifies contacts whose caps say +notify, learnt by disco#info', async () => {
    h = await Harness.start();
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    await befriend(h.store, 'juliet@example.com', 'nurse@example.com');
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send('<presence/>');
    const romeo = await h.login('romeo@example.net/orchard');
    const nurse = await h.login('nurse@example.com/kitchen');
    await onlineWithCaps(romeo, [METADATA]);
    await onlineWithCaps(nurse, []);
    juliet.received();
    const reply = await iq(juliet, publishMetadata('111f4b3c50d7b0df729d299bc6f8e9ef9066971f'));
    expect(reply.attrs['type']).toBe('result');
    expect(reply.getChild('pubsub', PUBSUB)?.getChild('publish')?.getChild('item')?.attrs['id']).toBe(
      '111f4b3c50d7b0df729d299bc6f8e9ef9066971f',
    );
    const [event] = events(romeo.received(), METADATA);
    expect(event!.attrs).toMatchObject({ from: 'juliet@example.com', to: 'romeo@example.net/orchard' });
    const item = event!.getChild('event', EVENT)!.getChild('items')!.getChild('item')!;
    expect(item.attrs['id']).toBe('111f4b3c50d7b0df729d299bc6f8e9ef9066971f');
    expect(item.getChild('metadata', METADATA)?.getChild('info')?.attrs['bytes']).toBe('12345');
    // The nurse's client did not ask for avatar notifications.
    expect(events(nurse.received(), METADATA)).toEqual([]);
  });

  it('sends the last item to a contact that comes online with +notify, whose caps are already known (§4.3.4)', async () => {
    h = await Harness.start();
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    const juliet = await h.login('juliet@example.com/balcony');
    await iq(juliet, publishMetadata('first'));
    await iq(juliet, publishMetadata('second'));
    const orchard = await h.login('romeo@example.net/orchard');
    const first = await onlineWithCaps(orchard, [METADATA]);
    expect(
      events(first, METADATA).map(
        (e) => e.getChild('event', EVENT)!.getChild('items')!.getChild('item')!.attrs['id'],
      ),
    ).toEqual(['second']);
    // Same client, so same ver: no new disco#info query, the last item comes straight away.
    const garden = await h.login('romeo@example.net/garden');
    const { ver } = capabilities([METADATA]);
    await garden.send(
      `<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${NODE}' ver='${ver}'/></presence>`,
    );
    const got = garden.received();
    expect(got.some((s) => s.getChild('query', DISCO_INFO) !== undefined)).toBe(false);
    expect(events(got, METADATA)).toHaveLength(1);
  });

  it('sends the last item again to a new session of the owner, unless the node says never', async () => {
    h = await Harness.start();
    const balcony = await h.login('juliet@example.com/balcony');
    await iq(balcony, publishMetadata('mine'));
    await iq(
      balcony,
      `<iq type='set' id='b1'><pubsub xmlns='${PUBSUB}'><publish node='${BOOKMARKS}'><item id='room@conference.example.com'><conference xmlns='${BOOKMARKS}'/></item></publish>${publishOptions(
        { 'pubsub#access_model': 'whitelist', 'pubsub#send_last_published_item': 'never' },
      )}</pubsub></iq>`,
    );
    for (let round = 0; round < 2; round++) {
      const chamber = await h.login('juliet@example.com/chamber');
      const got = await onlineWithCaps(chamber, [METADATA, BOOKMARKS]);
      expect(events(got, METADATA), `round ${round}`).toHaveLength(1);
      expect(events(got, BOOKMARKS)).toEqual([]);
      await chamber.logout();
    }
  });

  it('keeps a whitelist node like bookmarks to the owner: notifications and items (XEP-0402)', async () => {
    h = await Harness.start();
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    const balcony = await h.login('juliet@example.com/balcony');
    const chamber = await h.login('juliet@example.com/chamber');
    await onlineWithCaps(chamber, [BOOKMARKS]);
    const romeo = await h.login('romeo@example.net/orchard');
    await onlineWithCaps(romeo, [BOOKMARKS]);
    balcony.received();
    // XEP-0402 §3.1, Example 3.
    const reply = await iq(
      balcony,
      `<iq type='set' id='pip1'><pubsub xmlns='${PUBSUB}'><publish node='${BOOKMARKS}'><item id='theplay@conference.shakespeare.lit'><conference xmlns='${BOOKMARKS}' name='The Play&apos;s the Thing' autojoin='true'><nick>JC</nick></conference></item></publish>${publishOptions(
        {
          'pubsub#persist_items': 'true',
          'pubsub#max_items': 'max',
          'pubsub#send_last_published_item': 'never',
          'pubsub#access_model': 'whitelist',
        },
      )}</pubsub></iq>`,
    );
    expect(reply.attrs['type']).toBe('result');
    expect(events(chamber.received(), BOOKMARKS)).toHaveLength(1);
    expect(events(romeo.received(), BOOKMARKS)).toEqual([]);
    const denied = await iq(
      romeo,
      `<iq type='get' id='snoop' to='juliet@example.com'><pubsub xmlns='${PUBSUB}'><items node='${BOOKMARKS}'/></pubsub></iq>`,
    );
    expect(conditionOf(denied)).toBe('not-allowed');
    expect(denied.getChild('error')?.getChild('closed-node', ERRORS)).toBeDefined();
    const mine = await iq(
      balcony,
      `<iq type='get' id='items1'><pubsub xmlns='${PUBSUB}'><items node='${BOOKMARKS}'/></pubsub></iq>`,
    );
    const items = mine.getChild('pubsub', PUBSUB)!.getChild('items')!.getChildren('item');
    expect(items.map((i) => i.attrs['id'])).toEqual(['theplay@conference.shakespeare.lit']);
    expect(items[0]!.getChild('conference', BOOKMARKS)?.getChildText('nick')).toBe('JC');
    expect((await h.store.pep.getNode('juliet@example.com', BOOKMARKS))?.maxItems).toBeGreaterThan(1);
  });

  it('fails a publish whose options differ from the node (precondition-not-met) until the owner reconfigures it', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await iq(juliet, publishMetadata('a'));
    const open = publishOptions({ 'pubsub#access_model': 'open' });
    const failed = await iq(juliet, publishMetadata('b', open));
    expect(conditionOf(failed)).toBe('conflict');
    expect(failed.getChild('error')?.getChild('precondition-not-met', ERRORS)).toBeDefined();
    const form = await iq(
      juliet,
      `<iq type='get' id='config1'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='${METADATA}'/></pubsub></iq>`,
    );
    expect(form.attrs['type']).toBe('result');
    await iq(
      juliet,
      `<iq type='set' id='config2'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='${METADATA}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub></iq>`,
    );
    expect((await iq(juliet, publishMetadata('b', open))).attrs['type']).toBe('result');
  });

  it('serves items by access model: open to anyone (OMEMO device list), presence to subscribers only', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const stranger = await h.login('benvolio@example.net/street');
    await iq(
      juliet,
      `<iq type='set' id='omemo1'><pubsub xmlns='${PUBSUB}'><publish node='${DEVICELIST}'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='12345'/></list></item></publish>${publishOptions(
        { 'pubsub#access_model': 'open' },
      )}</pubsub></iq>`,
    );
    const list = await iq(
      stranger,
      `<iq type='get' id='omemo2' to='juliet@example.com'><pubsub xmlns='${PUBSUB}'><items node='${DEVICELIST}'/></pubsub></iq>`,
    );
    expect(list.getChild('pubsub', PUBSUB)!.getChild('items')!.getChild('item')!.attrs['id']).toBe('current');
    await iq(juliet, publishMetadata('avatar'));
    const avatar = await iq(
      stranger,
      `<iq type='get' id='av' to='juliet@example.com'><pubsub xmlns='${PUBSUB}'><items node='${METADATA}'/></pubsub></iq>`,
    );
    expect(conditionOf(avatar)).toBe('not-authorized');
    expect(avatar.getChild('error')?.getChild('presence-subscription-required', ERRORS)).toBeDefined();
    const missing = await iq(
      stranger,
      `<iq type='get' id='nn' to='juliet@example.com'><pubsub xmlns='${PUBSUB}'><items node='nope'/></pubsub></iq>`,
    );
    expect(conditionOf(missing)).toBe('item-not-found');
    const forbidden = await iq(
      stranger,
      `<iq type='set' id='pp' to='juliet@example.com'><pubsub xmlns='${PUBSUB}'><publish node='x'><item><x xmlns='y'/></item></publish></pubsub></iq>`,
    );
    expect(conditionOf(forbidden)).toBe('forbidden');
  });

  it('notifies retractions and node deletion, and announces pubsub/pep on the account (§6.1)', async () => {
    h = await Harness.start();
    const balcony = await h.login('juliet@example.com/balcony');
    const chamber = await h.login('juliet@example.com/chamber');
    await onlineWithCaps(chamber, [METADATA]);
    await iq(balcony, publishMetadata('old'));
    chamber.received();
    await iq(
      balcony,
      `<iq type='set' id='retract1'><pubsub xmlns='${PUBSUB}'><retract node='${METADATA}' notify='true'><item id='old'/></retract></pubsub></iq>`,
    );
    const [retraction] = events(chamber.received(), METADATA);
    expect(retraction!.getChild('event', EVENT)!.getChild('items')!.getChild('retract')!.attrs['id']).toBe(
      'old',
    );
    await iq(
      balcony,
      `<iq type='set' id='delete1'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='${METADATA}'/></pubsub></iq>`,
    );
    const [deleted] = chamber.received();
    expect(deleted!.getChild('event', EVENT)!.getChild('delete')!.attrs['node']).toBe(METADATA);
    expect(await h.store.pep.getNode('juliet@example.com', METADATA)).toBeNull();
    const info = await iq(
      balcony,
      `<iq type='get' id='disco1' to='juliet@example.com'><query xmlns='${DISCO_INFO}'/></iq>`,
    );
    const query = info.getChild('query', DISCO_INFO)!;
    expect(query.getChildren('identity').map((i) => `${i.attrs['category']}/${i.attrs['type']}`)).toContain(
      'pubsub/pep',
    );
    expect(query.getChildren('feature').map((f) => f.attrs['var'])).toEqual(
      expect.arrayContaining([`${PUBSUB}#publish`, `${PUBSUB}#publish-options`]),
    );
  });
});
