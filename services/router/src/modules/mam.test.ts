import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import { encodeEnvelope, type Envelope } from '@switchboard/protocol';
import { deriveCredentials, openEmbeddedStore } from '@switchboard/store';
import type { Element } from '@switchboard/xml';
import { build, createMemorySessionRegistry } from '../app.js';
import { routerConfigSchema, toRouterConfig } from '../config.js';
import { Harness, conditionOf, type Client } from '../test/harness.js';

const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
const SID = 'urn:xmpp:sid:0';

let h: Harness;
afterEach(async () => {
  await h.close();
});

async function online(c: Client): Promise<void> {
  await c.send('<presence/>');
  c.received();
}

/** Sends a MAM query (XEP-0313 §4.1) and splits what comes back into results and the IQ. */
async function query(
  c: Client,
  options: { fields?: string; rsm?: string; queryid?: string; to?: string } = {},
): Promise<{ results: Element[]; iq: Element }> {
  const form =
    options.fields === undefined
      ? ''
      : `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field>${options.fields}</x>`;
  const to = options.to === undefined ? '' : ` to='${options.to}'`;
  await c.send(
    `<iq type='set' id='juliet1'${to}><query xmlns='${MAM}' queryid='${options.queryid ?? 'f27'}'>${form}${options.rsm === undefined ? '' : `<set xmlns='${RSM}'>${options.rsm}</set>`}</query></iq>`,
  );
  const all = c.received();
  const iq = all.find((s) => s.name === 'iq');
  expect(iq, 'the IQ answer').toBeDefined();
  // §4.2: the results arrive before the IQ result.
  expect(all.indexOf(iq!)).toBe(all.length - 1);
  return { results: all.filter((s) => s.name === 'message'), iq: iq! };
}

const bodies = (results: Element[]): string[] =>
  results.map(
    (r) => r.getChild('result', MAM)?.getChild('forwarded')?.getChild('message')?.getChildText('body') ?? '',
  );

describe('message archive (XEP-0313)', () => {
  it('archives both sides and stamps the recipient copy with a stanza-id (XEP-0359)', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    const juliet = await h.login('juliet@example.com/balcony');
    await online(romeo);
    await online(juliet);
    await romeo.send(
      `<message to='juliet@example.com' type='chat' id='m1'><body>Hail!</body><stanza-id xmlns='${SID}' by='juliet@example.com' id='forged'/></message>`,
    );
    const [got] = juliet.received();
    const sids = got!.getChildren('stanza-id', SID);
    expect(sids).toHaveLength(1);
    expect(sids[0]!.attrs['by']).toBe('juliet@example.com');
    expect(sids[0]!.attrs['id']).not.toBe('forged');
    const mine = await query(juliet);
    expect(mine.results[0]!.getChild('result', MAM)?.attrs['id']).toBe(sids[0]!.attrs['id']);
    const theirs = await query(romeo);
    expect(bodies(theirs.results)).toEqual(['Hail!']);
    expect(await h.store.archive.count('romeo@example.net')).toBe(1);
    // Chat states alone and headlines are not archived.
    await romeo.send(
      "<message to='juliet@example.com' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    );
    await romeo.send("<message to='juliet@example.com' type='headline'><body>news</body></message>");
    expect(await h.store.archive.count('juliet@example.com')).toBe(1);
  });

  it('returns results as forwarded messages with delay, paged with RSM (§4.2, §4.3, Examples 4 and 5)', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    const juliet = await h.login('juliet@example.com/balcony');
    await online(juliet);
    for (let i = 1; i <= 7; i++) {
      await romeo.send(
        `<message to='juliet@example.com' type='chat' id='m${i}'><body>line ${i}</body></message>`,
      );
    }
    juliet.received();
    const first = await query(juliet, { rsm: '<max>3</max>' });
    expect(bodies(first.results)).toEqual(['line 1', 'line 2', 'line 3']);
    const result = first.results[0]!;
    expect(result.attrs['to']).toBe('juliet@example.com/balcony');
    const r = result.getChild('result', MAM)!;
    expect(r.attrs['queryid']).toBe('f27');
    const forwarded = r.getChild('forwarded', 'urn:xmpp:forward:0')!;
    expect(Date.parse(forwarded.getChild('delay', 'urn:xmpp:delay')!.attrs['stamp']!)).not.toBeNaN();
    expect(forwarded.getChild('message')!.getNS()).toBe('jabber:client');
    expect(forwarded.getChild('message')!.attrs['from']).toBe('romeo@example.net/orchard');
    const fin = first.iq.getChild('fin', MAM)!;
    expect(first.iq.attrs).toMatchObject({ type: 'result', id: 'juliet1' });
    expect(fin.attrs['complete']).toBeUndefined();
    const set = fin.getChild('set', RSM)!;
    expect(set.getChild('first')!.attrs['index']).toBe('0');
    expect(set.getChildText('count')).toBe('7');
    const last = set.getChildText('last')!;
    const second = await query(juliet, { rsm: `<max>3</max><after>${last}</after>` });
    expect(bodies(second.results)).toEqual(['line 4', 'line 5', 'line 6']);
    const third = await query(juliet, {
      rsm: `<max>3</max><after>${second.iq.getChild('fin', MAM)!.getChild('set', RSM)!.getChildText('last')!}</after>`,
    });
    expect(bodies(third.results)).toEqual(['line 7']);
    expect(third.iq.getChild('fin', MAM)!.attrs['complete']).toBe('true');
    // XEP-0059 §2.5: an empty <before/> asks for the last page.
    const lastPage = await query(juliet, { rsm: '<max>2</max><before/>' });
    expect(bodies(lastPage.results)).toEqual(['line 6', 'line 7']);
    const firstId = lastPage.iq.getChild('fin', MAM)!.getChild('set', RSM)!.getChildText('first')!;
    const previous = await query(juliet, { rsm: `<max>2</max><before>${firstId}</before>` });
    expect(bodies(previous.results)).toEqual(['line 4', 'line 5']);
  });

  it('filters by with, start and end, and answers an unknown cursor with item-not-found', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    const nurse = await h.login('nurse@example.com/kitchen');
    const juliet = await h.login('juliet@example.com/balcony');
    await online(juliet);
    await romeo.send("<message to='juliet@example.com' type='chat'><body>from romeo</body></message>");
    await nurse.send("<message to='juliet@example.com' type='chat'><body>from nurse</body></message>");
    await juliet.send("<message to='romeo@example.net' type='chat'><body>to romeo</body></message>");
    juliet.received();
    const withRomeo = await query(juliet, {
      fields: "<field var='with'><value>romeo@example.net</value></field>",
    });
    expect(bodies(withRomeo.results)).toEqual(['from romeo', 'to romeo']);
    const future = await query(juliet, {
      fields: "<field var='start'><value>2999-01-01T00:00:00Z</value></field>",
    });
    expect(future.results).toEqual([]);
    expect(future.iq.getChild('fin', MAM)!.getChild('set', RSM)!.getChildText('count')).toBe('0');
    const past = await query(juliet, {
      fields: "<field var='end'><value>2000-01-01T00:00:00Z</value></field>",
    });
    expect(past.results).toEqual([]);
    const byId = await query(juliet, {
      fields: `<field var='ids'><value>${withRomeo.results[1]!.getChild('result', MAM)!.attrs['id']}</value></field>`,
    });
    expect(bodies(byId.results)).toEqual(['to romeo']);
    const unknown = await query(juliet, { rsm: '<after>nope</after>' });
    expect(conditionOf(unknown.iq)).toBe('item-not-found');
    const bad = await query(juliet, { fields: "<field var='colour'><value>red</value></field>" });
    expect(conditionOf(bad.iq)).toBe('bad-request');
  });

  it('keeps preferences and archives by them (§6), and lets only the owner in', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    const juliet = await h.login('juliet@example.com/balcony');
    await online(juliet);
    await juliet.send(
      `<iq type='set' id='juliet3'><prefs xmlns='${MAM}' default='always'><always/><never><jid>romeo@example.net</jid></never></prefs></iq>`,
    );
    const [set] = juliet.received();
    expect(set!.attrs['type']).toBe('result');
    await juliet.send(`<iq type='get' id='juliet2'><prefs xmlns='${MAM}'/></iq>`);
    const [got] = juliet.received();
    const prefs = got!.getChild('prefs', MAM)!;
    expect(prefs.attrs['default']).toBe('always');
    expect(
      prefs
        .getChild('never')!
        .getChildren('jid')
        .map((j) => j.getText()),
    ).toEqual(['romeo@example.net']);
    await romeo.send("<message to='juliet@example.com' type='chat'><body>secret</body></message>");
    const [delivered] = juliet.received();
    expect(delivered!.getChild('stanza-id', SID)).toBeUndefined();
    expect(await h.store.archive.count('juliet@example.com')).toBe(0);
    const snoop = await query(romeo, { to: 'juliet@example.com' });
    expect(conditionOf(snoop.iq)).toBe('forbidden');
    const disco = await (async () => {
      await juliet.send(
        "<iq type='get' id='d1' to='juliet@example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
      );
      return juliet.received()[0]!;
    })();
    const features = disco
      .getChild('query')!
      .getChildren('feature')
      .map((f) => f.attrs['var']);
    expect(features).toEqual(expect.arrayContaining([MAM, `${MAM}#extended`, SID]));
  });
});

describe('archive retention and cap (router config mam)', () => {
  const DAY = 86_400_000;
  const NOW = Date.parse('2026-03-01T12:00:00Z');

  it('keeps maxPerUser messages per user and purges those older than retentionDays', async () => {
    const store = openEmbeddedStore({ path: ':memory:' });
    const bus = createMemoryBus();
    try {
      const file = routerConfigSchema.parse({
        domains: ['example.com'],
        partitions: 1,
        mam: { retentionDays: 1, maxPerUser: 3 },
      });
      const router = build(toRouterConfig(file, 'r'), {
        bus,
        store,
        sessions: createMemorySessionRegistry(),
        logger: createLogger({ service: 'router', level: 'silent' }),
        now: () => NOW,
      });
      let n = 0;
      const deliver = async (ts: number): Promise<void> => {
        const id = `e${++n}`;
        const xml = `<message xmlns='jabber:client' from='romeo@example.com/orchard' to='juliet@example.com' type='chat' id='${id}'><body>${n}</body></message>`;
        const env: Envelope = {
          v: 1,
          id,
          kind: 'message',
          edgeId: 'edge1',
          sessionId: 's',
          from: 'romeo@example.com/orchard',
          to: 'juliet@example.com',
          type: 'chat',
          stanzaId: id,
          xml,
          ts,
        };
        await router.handleBatch([{ stream: 'route:{0}', id: `${n}-0`, payload: encodeEnvelope(env) }]);
      };
      await store.accounts.create('juliet@example.com', await deriveCredentials('x', 1));
      await deliver(NOW - 3 * DAY);
      await deliver(NOW - 2 * DAY);
      expect(await store.archive.count('juliet@example.com')).toBe(1);
      for (let i = 0; i < 4; i++) await deliver(NOW - 1000 + i);
      const page = await store.archive.query('juliet@example.com', { max: 10 });
      expect(page.messages.map((m) => m.id)).toEqual(['e4', 'e5', 'e6']);
    } finally {
      await store.close();
      await bus.close();
    }
  });
});
