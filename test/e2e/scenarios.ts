// One scenario suite, run against every deployment (embedded.test.ts, cluster.test.ts): real
// clients over real sockets, stanzas after the RFC 6121 / XEP examples.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '@switchboard/protocol';
import { CA_FILE, type Deployment, type Session } from './deployments.js';

const ROSTER = 'jabber:iq:roster';
const PYTHON = '/usr/bin/python3';
const SLIXMPP_PEER = fileURLToPath(new URL('./slixmpp-peer.py', import.meta.url));

// ---- stanza predicates ----

const bareOf = (jid: string | undefined): string => (jid ?? '').split('/')[0]!;

export const isMessage =
  (id: string) =>
  (s: Element): boolean =>
    s.is('message') && s.attrs.id === id;

export const isPresence =
  (from: string, type?: string) =>
  (s: Element): boolean =>
    s.is('presence') &&
    (from.includes('/') ? s.attrs.from === from : bareOf(s.attrs.from as string) === from) &&
    (type === undefined ? s.attrs.type === undefined : s.attrs.type === type);

/** A roster push (RFC 6121 §2.1.6) about `jid`, with that subscription state when given. */
export const isRosterPush =
  (jid: string, subscription?: string) =>
  (s: Element): boolean => {
    if (!s.is('iq') || s.attrs.type !== 'set') return false;
    const item = s.getChild('query', ROSTER)?.getChild('item');
    return (
      item?.attrs.jid === jid && (subscription === undefined || item.attrs.subscription === subscription)
    );
  };

function rosterItem(push: Element): Element {
  return push.getChild('query', ROSTER)!.getChild('item')!;
}

// ---- users and sessions ----

let serial = 0;

/**
 * Fresh accounts for one test, named after `roles` with a suffix. In a cluster every user gets a
 * partition of its own and consecutive users sit on different edges, so every exchange between
 * them crosses routers and edges.
 */
export async function cast<R extends string>(d: Deployment, roles: readonly R[]): Promise<Record<R, string>> {
  const out = {} as Record<R, string>;
  const taken = new Set<number>();
  for (const role of roles) {
    let user: string;
    let p: number;
    do {
      user = `${role}${++serial}`;
      p = partitionOf(`${user}@${d.domain}`, d.partitions);
    } while (d.partitions >= roles.length && taken.has(p));
    taken.add(p);
    await d.createAccount(user, `${user}-secret`);
    out[role] = user;
  }
  return out;
}

/** Logs in, asks for the roster (an interested resource, RFC 6121 §2.1.6) and sends initial presence. */
export async function online(
  d: Deployment,
  user: string,
  resource: string,
  presence: Element[] = [],
  options: { edge?: number } = {},
): Promise<Session> {
  const s = await d.connect(user, resource, options);
  await s.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
  await s.send(xml('presence', {}, ...presence));
  // RFC 6121 §4.2.2: the server reflects initial presence to the user's resources; once back, it was processed.
  await s.inbox.next(isPresence(s.jid), `${s.jid}'s reflected initial presence`);
  return s;
}

/**
 * Resolves once everything `from` sent to `to` before has been processed in `to`'s partition: a
 * vCard get (XEP-0054) to a bare JID is answered there, behind earlier stanzas between the two.
 */
export async function barrier(from: Session, to: string): Promise<void> {
  await from.iq(xml('iq', { type: 'get', to }, xml('vCard', { xmlns: 'vcard-temp' })));
}

/** The subscription handshake both ways (RFC 6121 §3.1), ending in subscription 'both' on both rosters. */
export async function befriend(a: Session, b: Session): Promise<void> {
  await a.send(xml('presence', { to: b.bare, type: 'subscribe' }));
  await b.inbox.next(isPresence(a.bare, 'subscribe'), 'subscribe from a');
  await b.send(xml('presence', { to: a.bare, type: 'subscribed' }));
  await a.inbox.next(isRosterPush(b.bare, 'to'), 'push to a: subscription to');
  await b.send(xml('presence', { to: a.bare, type: 'subscribe' }));
  await a.inbox.next(isPresence(b.bare, 'subscribe'), 'subscribe from b');
  await a.send(xml('presence', { to: b.bare, type: 'subscribed' }));
  await a.inbox.next(isRosterPush(b.bare, 'both'), 'push to a: subscription both');
  await b.inbox.next(isRosterPush(a.bare, 'both'), 'push to b: subscription both');
}

function chat(to: string, id: string, body: string): Element {
  return xml('message', { to, type: 'chat', id }, xml('body', {}, body));
}

/** Lines a child process prints, awaited one by one. */
function lines(stream: NodeJS.ReadableStream): {
  next(what: string, timeoutMs?: number): Promise<string>;
  all: string[];
} {
  const all: string[] = [];
  const unread: string[] = [];
  let waiter: ((line: string) => void) | undefined;
  createInterface({ input: stream }).on('line', (line) => {
    all.push(line);
    if (waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      w(line);
    } else unread.push(line);
  });
  return {
    all,
    next: (what, timeoutMs = 15_000) => {
      const line = unread.shift();
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; output: ${all.join('\n')}`)),
          timeoutMs,
        );
        waiter = (l) => {
          clearTimeout(timer);
          resolve(l);
        };
      });
    },
  };
}

// ---- the suite ----

// ---- modern clients: carbons, archive, PEP, push (XEP-0280, XEP-0313, XEP-0163, XEP-0357) ----

const CARBONS = 'urn:xmpp:carbons:2';
const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const AVATAR_METADATA = 'urn:xmpp:avatar:metadata';
const BOOKMARKS = 'urn:xmpp:bookmarks:1';

interface IqResponder {
  get(xmlns: string, name: string, handler: (ctx: { element: Element }) => Element | boolean): void;
  set(xmlns: string, name: string, handler: (ctx: { element: Element }) => Element | boolean): void;
}
const responder = (s: Session): IqResponder => (s.xmpp as unknown as { iqCallee: IqResponder }).iqCallee;

/** A PEP notification (XEP-0163 §4.3) for `node`, with the item id when given. */
const isEvent =
  (node: string, itemId?: string) =>
  (s: Element): boolean => {
    const items = s.is('message') ? s.getChild('event', PUBSUB_EVENT)?.getChild('items') : undefined;
    if (items?.attrs.node !== node) return false;
    return itemId === undefined || items.getChild('item')?.attrs.id === itemId;
  };

/**
 * Makes a client advertise XEP-0115 caps with `+notify` for `nodes`: answers
 * disco#info for its caps node and returns the `<c/>` for its presence.
 */
function advertiseCaps(s: Session, nodes: readonly string[]): Element {
  const node = 'https://switchboard.example/e2e';
  // A feature of its own per client, so each run makes the server learn the caps afresh.
  const features = [
    DISCO_INFO,
    'http://jabber.org/protocol/caps',
    `urn:example:${s.jid}`,
    ...nodes.map((n) => `${n}+notify`),
  ];
  const sorted = [...features].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  // XEP-0115 §5.1: identities, then features, each followed by '<'.
  const ver = createHash('sha1')
    .update(`client/phone//e2e<${sorted.map((f) => `${f}<`).join('')}`)
    .digest('base64');
  responder(s).get(DISCO_INFO, 'query', (ctx) =>
    xml(
      'query',
      { xmlns: DISCO_INFO, node: ctx.element.attrs.node as string },
      xml('identity', { category: 'client', type: 'phone', name: 'e2e' }),
      ...features.map((f) => xml('feature', { var: f })),
    ),
  );
  return xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node, ver });
}

function publishOptions(fields: Record<string, string>): Element {
  return xml(
    'publish-options',
    {},
    xml(
      'x',
      { xmlns: 'jabber:x:data', type: 'submit' },
      xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, `${PUBSUB}#publish-options`)),
      ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))),
    ),
  );
}

// XEP-0084 §4.2 metadata item.
function avatarMetadata(id: string): Element {
  return xml(
    'iq',
    { type: 'set' },
    xml(
      'pubsub',
      { xmlns: PUBSUB },
      xml(
        'publish',
        { node: AVATAR_METADATA },
        xml(
          'item',
          { id },
          xml(
            'metadata',
            { xmlns: AVATAR_METADATA },
            xml('info', { bytes: '12345', id, height: '64', width: '64', type: 'image/png' }),
          ),
        ),
      ),
    ),
  );
}

/** The <set/> of a MAM query's <fin/> (XEP-0313 §4.3). */
const finSet = (iq: Element): Element => iq.getChild('fin', MAM)!.getChild('set', RSM)!;

/** Every scenario, against the deployment `start` makes. */
export function scenarioSuite(name: string, start: () => Promise<Deployment>): void {
  describe(`XMPP scenarios: ${name}`, () => {
    let d: Deployment;

    beforeAll(async () => {
      d = await start();
    }, 90_000);

    afterAll(async () => {
      await d?.stop();
    });

    afterEach((ctx) => {
      if (ctx.task.result?.state === 'fail' && d !== undefined) process.stderr.write(`${d.diagnostics()}\n`);
    });

    it('gets, sets, pushes and removes roster items (RFC 6121 §2.1.3, §2.3, §2.5)', async () => {
      const u = await cast(d, ['juliet', 'nurse']);
      const juliet = await d.connect(u.juliet, 'balcony');
      const chamber = await d.connect(u.juliet, 'chamber');
      const nurse = `${u.nurse}@${d.domain}`;

      // §2.1.3: roster get; a new account has an empty roster.
      const empty = await juliet.iq(
        xml('iq', { type: 'get', id: 'bv1bs71f' }, xml('query', { xmlns: ROSTER })),
      );
      expect(empty.getChild('query', ROSTER)?.getChildren('item')).toEqual([]);
      await chamber.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));

      // §2.3.2: roster set, pushed to every interested resource, the sender's included.
      await juliet.iq(
        xml(
          'iq',
          { type: 'set', id: 'rs1' },
          xml(
            'query',
            { xmlns: ROSTER },
            xml('item', { jid: nurse, name: 'Nurse' }, xml('group', {}, 'Servants')),
          ),
        ),
      );
      for (const s of [juliet, chamber]) {
        const push = await s.inbox.next(isRosterPush(nurse), `the roster push to ${s.jid}`);
        expect(rosterItem(push).attrs).toMatchObject({ jid: nurse, name: 'Nurse', subscription: 'none' });
        expect(rosterItem(push).getChildText('group')).toBe('Servants');
        // §2.1.6: a push comes from the user's bare JID or no one.
        expect([undefined, juliet.bare]).toContain(push.attrs.from);
      }
      const full = await chamber.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
      const items = full.getChild('query', ROSTER)!.getChildren('item');
      expect(items.map((i) => [i.attrs.jid, i.attrs.name, i.attrs.subscription] as unknown[])).toEqual([
        [nurse, 'Nurse', 'none'],
      ]);

      // §2.5.2: delete with subscription='remove'; the push says remove.
      await chamber.iq(
        xml(
          'iq',
          { type: 'set', id: 'delete_1' },
          xml('query', { xmlns: ROSTER }, xml('item', { jid: nurse, subscription: 'remove' })),
        ),
      );
      for (const s of [juliet, chamber]) {
        await s.inbox.next(isRosterPush(nurse, 'remove'), `the remove push to ${s.jid}`);
      }
      const after = await juliet.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
      expect(after.getChild('query', ROSTER)?.getChildren('item')).toEqual([]);
    });

    it('runs the subscription handshake with roster pushes and presence on both sides (RFC 6121 §3.1)', async () => {
      const u = await cast(d, ['romeo', 'juliet']);
      const romeo = await online(d, u.romeo, 'orchard');
      const juliet = await online(d, u.juliet, 'balcony');

      // §3.1.1: <presence id='xk3h1v69' to='juliet@example.com' type='subscribe'/>
      await romeo.send(xml('presence', { id: 'xk3h1v69', to: juliet.bare, type: 'subscribe' }));
      // §3.1.2: the user's server pushes the pending item: subscription none, ask subscribe.
      const pending = await romeo.inbox.next(isRosterPush(juliet.bare), 'push: ask=subscribe');
      expect(rosterItem(pending).attrs).toMatchObject({ subscription: 'none', ask: 'subscribe' });
      // §3.1.3: the contact receives the request from the user's bare JID.
      const request = await juliet.inbox.next(
        isPresence(romeo.bare, 'subscribe'),
        'the subscription request',
      );
      expect(request.attrs.from).toBe(romeo.bare);

      // §3.1.5: <presence id='h4v1c4kj' to='romeo@example.net' type='subscribed'/>
      await juliet.send(xml('presence', { id: 'h4v1c4kj', to: romeo.bare, type: 'subscribed' }));
      const from = await juliet.inbox.next(isRosterPush(romeo.bare), 'push to the contact: from');
      expect(rosterItem(from).attrs.subscription).toBe('from');
      // §3.1.6: the user gets a push with subscription 'to', the approval, then the contact's presence.
      const to = await romeo.inbox.next(isRosterPush(juliet.bare, 'to'), 'push to the user: to');
      expect(rosterItem(to).attrs.ask).toBeUndefined();
      await romeo.inbox.next(isPresence(juliet.bare, 'subscribed'), 'the approval');
      const available = await romeo.inbox.next(isPresence(juliet.jid), "the contact's presence");
      // As in the §3.1.5 example: to the user's bare JID, from each of the contact's available resources.
      expect(available.attrs.to).toBe(romeo.bare);

      // The other way round ends in 'both' on both sides, and juliet gets romeo's presence.
      await juliet.send(xml('presence', { to: romeo.bare, type: 'subscribe' }));
      await romeo.inbox.next(isPresence(juliet.bare, 'subscribe'), 'the reverse request');
      await romeo.send(xml('presence', { to: juliet.bare, type: 'subscribed' }));
      await juliet.inbox.next(isRosterPush(romeo.bare, 'both'), 'push to juliet: both');
      await romeo.inbox.next(isRosterPush(juliet.bare, 'both'), 'push to romeo: both');
      await juliet.inbox.next(isPresence(romeo.jid), "romeo's presence");
    });

    it('broadcasts presence to subscribers and sends unavailable when a session ends (RFC 6121 §4.2, §4.4, §4.5.2)', async () => {
      const u = await cast(d, ['romeo', 'juliet']);
      const romeo = await online(d, u.romeo, 'orchard');
      const juliet = await online(d, u.juliet, 'balcony');
      await befriend(romeo, juliet);

      // §4.4.1: subsequent presence goes to every subscriber.
      await romeo.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'I shall return!')));
      const away = await juliet.inbox.next(
        (s) => isPresence(romeo.jid)(s) && s.getChildText('show') === 'away',
        'the away broadcast',
      );
      expect(away.getChildText('status')).toBe('I shall return!');

      // §4.5.2: the stream closes without unavailable presence; the server sends it on the user's behalf.
      await romeo.stop();
      await juliet.inbox.next(isPresence(romeo.jid, 'unavailable'), 'unavailable after the stream closed');
    });

    it("answers the user's presence probes at login with the contacts' current presence (RFC 6121 §4.2.2, §4.3)", async () => {
      const u = await cast(d, ['romeo', 'juliet']);
      const first = await online(d, u.romeo, 'orchard');
      const juliet = await online(d, u.juliet, 'balcony', [
        xml('show', {}, 'dnd'),
        xml('status', {}, 'in the garden'),
      ]);
      await befriend(first, juliet);
      await first.stop();

      const romeo = await online(d, u.romeo, 'street');
      const probed = await romeo.inbox.next(
        isPresence(juliet.jid),
        "juliet's presence, answered to the probe",
      );
      expect(probed.getChildText('show')).toBe('dnd');
      expect(probed.getChildText('status')).toBe('in the garden');
      // §4.2.2: the contacts learn of the new resource too.
      await juliet.inbox.next(isPresence(romeo.jid), "romeo's new resource");
    });

    it('delivers directed presence to a non-subscriber and follows it with unavailable (RFC 6121 §4.6)', async () => {
      const u = await cast(d, ['juliet', 'nurse']);
      const juliet = await online(d, u.juliet, 'balcony');
      const nurse = await online(d, u.nurse, 'chamber');
      await juliet.send(xml('presence', { to: nurse.jid }, xml('status', {}, 'A word, nurse')));
      const directed = await nurse.inbox.next(isPresence(juliet.jid), 'the directed presence');
      expect(directed.getChildText('status')).toBe('A word, nurse');
      // §4.6.3: broadcast unavailable also goes to entities that got directed presence.
      await juliet.send(xml('presence', { type: 'unavailable' }));
      await nurse.inbox.next(isPresence(juliet.jid, 'unavailable'), 'unavailable after directed presence');
    });

    it('delivers a chat message to a bare JID to the highest-priority resource, and to all with equal priority (RFC 6121 §8.5.2.1.1)', async () => {
      const u = await cast(d, ['juliet', 'romeo']);
      const juliet = await online(d, u.juliet, 'balcony');
      const low = await online(d, u.romeo, 'low', [xml('priority', {}, '1')]);
      const high = await online(d, u.romeo, 'high', [xml('priority', {}, '5')]);
      // The other resource learns of `high` only after the router stored its priority.
      await low.inbox.next(isPresence(high.jid), "the high resource's presence, seen by the low one");

      await juliet.send(chat(low.bare, 'prio-1', 'To the highest'));
      const got = await high.inbox.next(isMessage('prio-1'), 'the message at the high resource');
      expect(got.attrs.from).toBe(juliet.jid);
      // Same sender, same recipient: in order (RFC 6120 §10.1). Had prio-1 reached `low`, it would be first.
      await juliet.send(chat(low.jid, 'prio-2', 'To the low one by name'));
      await low.inbox.next(isMessage('prio-2'), 'the full-JID message at low');
      expect(low.inbox.history.filter(isMessage('prio-1'))).toEqual([]);

      await low.send(xml('presence', {}, xml('priority', {}, '5')));
      await high.inbox.next(
        (s) => isPresence(low.jid)(s) && s.getChildText('priority') === '5',
        "low's new priority, seen by high",
      );
      await juliet.send(chat(low.bare, 'equal-1', 'To both'));
      await Promise.all([
        low.inbox.next(isMessage('equal-1'), 'the chat at low'),
        high.inbox.next(isMessage('equal-1'), 'the chat at high'),
      ]);
    });

    it('delivers a message to a full JID to that resource only (RFC 6121 §8.5.3.1)', async () => {
      const u = await cast(d, ['juliet', 'romeo']);
      const juliet = await online(d, u.juliet, 'balcony');
      const orchard = await online(d, u.romeo, 'orchard', [xml('priority', {}, '9')]);
      const street = await online(d, u.romeo, 'street');
      await juliet.send(chat(street.jid, 'full-1', 'Only to the street'));
      const got = await street.inbox.next(isMessage('full-1'), 'the message at the named resource');
      expect(got.attrs.to).toBe(street.jid);
      await juliet.send(chat(orchard.jid, 'full-2', 'Only to the orchard'));
      await orchard.inbox.next(isMessage('full-2'), 'the second message at orchard');
      expect(orchard.inbox.history.filter(isMessage('full-1'))).toEqual([]);
    });

    it('stores a message for an offline user and delivers it with a delay stamp at the next login (RFC 6121 §8.5.2.2.1, XEP-0160, XEP-0203)', async () => {
      const u = await cast(d, ['juliet', 'romeo']);
      const juliet = await online(d, u.juliet, 'balcony');
      const romeo = `${u.romeo}@${d.domain}`;
      await juliet.send(chat(romeo, 'offline-1', 'Wherefore art thou Romeo?'));
      await juliet.send(chat(romeo, 'offline-2', 'Deny thy father and refuse thy name'));
      await barrier(juliet, romeo);

      const s = await d.connect(u.romeo, 'orchard');
      // XEP-0160 §3: offline messages come after initial presence.
      await s.send(xml('presence'));
      const got = await s.inbox.collect(
        (m) => m.is('message') && m.attrs.from === juliet.jid,
        2,
        'the offline messages',
      );
      expect(got.map((m) => String(m.attrs.id))).toEqual(['offline-1', 'offline-2']);
      expect(got[0]!.getChildText('body')).toBe('Wherefore art thou Romeo?');
      const delay = got[0]!.getChild('delay', 'urn:xmpp:delay');
      expect(delay?.attrs.from).toBe(d.domain);
      expect(Number.isNaN(Date.parse(String(delay?.attrs.stamp)))).toBe(false);
    });

    it('bounces a message to a nonexistent user with service-unavailable (RFC 6121 §8.5.1)', async () => {
      const u = await cast(d, ['juliet']);
      const juliet = await online(d, u.juliet, 'balcony');
      const nobody = `nobody${++serial}@${d.domain}`;
      await juliet.send(chat(nobody, 'ghost-1', 'Is anyone there?'));
      const bounced = await juliet.inbox.next(isMessage('ghost-1'), 'the error');
      expect(bounced.attrs).toMatchObject({ type: 'error', from: nobody, to: juliet.jid });
      const error = bounced.getChild('error');
      expect(error?.attrs.type).toBe('cancel');
      expect(error?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    });

    it('answers ping, software version and service discovery addressed to the server (XEP-0199, XEP-0092, XEP-0030)', async () => {
      const u = await cast(d, ['juliet']);
      const juliet = await d.connect(u.juliet, 'balcony');
      const pong = await juliet.iq(
        xml('iq', { type: 'get', to: d.domain, id: 'c2s1' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      );
      expect(pong.attrs).toMatchObject({ type: 'result', from: d.domain, id: 'c2s1' });

      const version = await juliet.iq(
        xml('iq', { type: 'get', to: d.domain }, xml('query', { xmlns: 'jabber:iq:version' })),
      );
      expect(version.getChild('query', 'jabber:iq:version')?.getChildText('name')).toBe('Switchboard');

      const info = await juliet.iq(
        xml(
          'iq',
          { type: 'get', to: d.domain },
          xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
        ),
      );
      const query = info.getChild('query', 'http://jabber.org/protocol/disco#info')!;
      expect(query.getChild('identity')?.attrs).toMatchObject({ category: 'server', type: 'im' });
      const features = query.getChildren('feature').map((f) => f.attrs.var as string);
      expect(features).toEqual(
        expect.arrayContaining(['urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:blocking']),
      );
    });

    it('stops messages from a blocked contact with service-unavailable until unblocked (XEP-0191 §3.3, §3.4)', async () => {
      const u = await cast(d, ['juliet', 'romeo']);
      const juliet = await online(d, u.juliet, 'balcony');
      const romeo = await online(d, u.romeo, 'orchard');
      const block = (verb: string): Element =>
        xml(
          'iq',
          { type: 'set' },
          xml(verb, { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: romeo.bare })),
        );

      await juliet.iq(block('block'));
      await romeo.send(chat(juliet.bare, 'blocked-1', 'Hear me!'));
      const bounced = await romeo.inbox.next(isMessage('blocked-1'), 'the blocked message bounced');
      expect(bounced.attrs.type).toBe('error');
      expect(
        bounced.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
      ).toBeDefined();

      await juliet.iq(block('unblock'));
      await romeo.send(chat(juliet.bare, 'unblocked-1', 'Now hear me'));
      await juliet.inbox.next(isMessage('unblocked-1'), 'the message after unblocking');
      expect(juliet.inbox.history.filter(isMessage('blocked-1'))).toEqual([]);
    });

    it('closes the older stream with a conflict stream error when the same full JID logs in again (RFC 6120 §7.7.2.2)', async () => {
      const u = await cast(d, ['juliet']);
      const first = await online(d, u.juliet, 'balcony');
      const second = await d.connect(u.juliet, 'balcony', { edge: (first.endpoint.edge + 1) % d.edges });
      expect(await first.streamError()).toBe('conflict');
      expect(second.jid).toBe(first.jid);
      const pong = await second.iq(
        xml('iq', { type: 'get', to: d.domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      );
      expect(pong.attrs.type).toBe('result');
    });

    it('answers a versioned roster get with the full roster, then an empty result, then the changes as pushes (RFC 6121 §2.6)', async () => {
      const u = await cast(d, ['juliet', 'nurse', 'tybalt']);
      const juliet = await d.connect(u.juliet, 'balcony');
      const nurse = `${u.nurse}@${d.domain}`;
      const tybalt = `${u.tybalt}@${d.domain}`;
      const rosterGet = (ver: string): Element =>
        xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER, ver }));
      const rosterSet = (jid: string, name: string): Element =>
        xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, xml('item', { jid, name })));

      await juliet.iq(rosterGet(''));
      await juliet.iq(rosterSet(nurse, 'Nurse'));
      await juliet.inbox.next(isRosterPush(nurse), 'the push for the nurse');

      // §2.6.2: ver='' is a client that caches the roster but has none yet: the full roster, with a version.
      const full = await juliet.iq(rosterGet(''));
      const query = full.getChild('query', ROSTER)!;
      const v1 = String(query.attrs.ver);
      expect(v1).not.toBe('');
      expect(query.getChildren('item').map((i) => i.attrs.jid as string)).toEqual([nurse]);

      // §2.6.3: nothing changed since v1: an empty IQ result, no roster.
      const same = await juliet.iq(rosterGet(v1));
      expect(same.attrs.type).toBe('result');
      expect(same.getChild('query', ROSTER)).toBeUndefined();

      await juliet.iq(rosterSet(tybalt, 'Tybalt'));
      const change = await juliet.inbox.next(isRosterPush(tybalt), 'the push for tybalt');
      // §2.6.1: every push carries the new version.
      const v2 = String(change.getChild('query', ROSTER)?.attrs.ver);
      expect(v2).not.toBe(v1);

      // §2.6.3: with v1 the server sends either the full roster or an empty result followed by pushes.
      const stale = await juliet.iq(rosterGet(v1));
      const again = stale.getChild('query', ROSTER);
      if (again !== undefined) {
        expect(again.attrs.ver).toBe(v2);
        expect(again.getChildren('item').map((i) => i.attrs.jid as string)).toEqual(
          expect.arrayContaining([nurse, tybalt]),
        );
      } else {
        const push = await juliet.inbox.next(isRosterPush(tybalt), 'the push that brings v1 up to date');
        expect(rosterItem(push).attrs).toMatchObject({ name: 'Tybalt', subscription: 'none' });
        // The last push carries the version the client is now at; the nurse was there already at v1.
        expect(push.getChild('query', ROSTER)?.attrs.ver).toBe(v2);
        expect(juliet.inbox.history.indexOf(stale)).toBeLessThan(juliet.inbox.history.indexOf(push));
        expect(
          juliet.inbox.history.filter(isRosterPush(nurse)).length,
          'the nurse was pushed only for her own roster set',
        ).toBe(1);
      }
    });

    it('approves a pre-approved subscription request on the user’s behalf (RFC 6121 §3.4)', async () => {
      const u = await cast(d, ['juliet', 'romeo']);
      const juliet = await online(d, u.juliet, 'balcony');
      const romeo = await online(d, u.romeo, 'orchard');

      // §3.4.2: <presence id='pg81vx64' to='romeo@example.net' type='subscribed'/> before any request.
      await juliet.send(xml('presence', { id: 'pg81vx64', to: romeo.bare, type: 'subscribed' }));
      const noted = await juliet.inbox.next(isRosterPush(romeo.bare), 'the push noting the pre-approval');
      expect(rosterItem(noted).attrs).toMatchObject({ subscription: 'none', approved: 'true' });

      // §3.4.1: the contact's later request is answered by the server, not delivered to the user.
      await romeo.send(xml('presence', { id: 'xk3h1v69', to: juliet.bare, type: 'subscribe' }));
      await romeo.inbox.next(isPresence(juliet.bare, 'subscribed'), 'the automatic approval');
      const to = await romeo.inbox.next(isRosterPush(juliet.bare, 'to'), "romeo's push: subscription to");
      expect(rosterItem(to).attrs.ask).toBeUndefined();
      await romeo.inbox.next(isPresence(juliet.jid), "juliet's presence, now that romeo is subscribed");
      await juliet.inbox.next(isRosterPush(romeo.bare, 'from'), "juliet's push: subscription from");

      // The roster get is answered in juliet's partition after anything the request caused there.
      const mine = await juliet.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
      expect(mine.getChild('query', ROSTER)?.getChild('item')?.attrs).toMatchObject({
        jid: romeo.bare,
        subscription: 'from',
      });
      expect(juliet.inbox.history.filter(isPresence(romeo.bare, 'subscribe'))).toEqual([]);
      const theirs = await romeo.iq(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
      expect(theirs.getChild('query', ROSTER)?.getChild('item')?.attrs).toMatchObject({
        jid: juliet.bare,
        subscription: 'to',
      });
    });

    it('ends subscriptions with unsubscribe and unsubscribed: pushes on both sides and unavailable presence (RFC 6121 §3.2, §3.3)', async () => {
      const u = await cast(d, ['romeo', 'juliet']);
      const romeo = await online(d, u.romeo, 'orchard');
      const juliet = await online(d, u.juliet, 'balcony');
      await befriend(romeo, juliet);

      // §3.3.1: the user unsubscribes from the contact's presence: <presence id='ul4bs71n' type='unsubscribe'/>.
      await romeo.send(xml('presence', { id: 'ul4bs71n', to: juliet.bare, type: 'unsubscribe' }));
      // §3.3.2: the user's server pushes subscription 'from' (was 'both').
      await romeo.inbox.next(isRosterPush(juliet.bare, 'from'), "romeo's push: subscription from");
      // §3.3.3: the contact's server delivers the request, pushes 'to', and sends unavailable from each resource.
      const request = await juliet.inbox.next(isPresence(romeo.bare, 'unsubscribe'), 'the unsubscribe');
      expect(request.attrs.from).toBe(romeo.bare);
      await juliet.inbox.next(isRosterPush(romeo.bare, 'to'), "juliet's push: subscription to");
      await romeo.inbox.next(isPresence(juliet.jid, 'unavailable'), "juliet's unavailable presence");

      // §3.2.1: the user cancels the contact's subscription: <presence id='ij5b1v7g' type='unsubscribed'/>.
      await romeo.send(xml('presence', { id: 'ij5b1v7g', to: juliet.bare, type: 'unsubscribed' }));
      // §3.2.2: the user's server pushes 'none' and sends unavailable from each of the user's resources.
      await romeo.inbox.next(isRosterPush(juliet.bare, 'none'), "romeo's push: subscription none");
      await juliet.inbox.next(isPresence(romeo.jid, 'unavailable'), "romeo's unavailable presence");
      // §3.2.3: the contact's server delivers the cancellation and pushes 'none'.
      await juliet.inbox.next(isPresence(romeo.bare, 'unsubscribed'), 'the cancellation');
      await juliet.inbox.next(isRosterPush(romeo.bare, 'none'), "juliet's push: subscription none");

      // Neither side receives the other's presence any more (RFC 6121 §4.4.2).
      await romeo.send(xml('presence', {}, xml('show', {}, 'away')));
      await juliet.send(xml('presence', {}, xml('show', {}, 'xa')));
      await Promise.all([
        romeo.inbox.next(
          (s) => isPresence(romeo.jid)(s) && s.getChildText('show') === 'away',
          'own reflection',
        ),
        juliet.inbox.next(
          (s) => isPresence(juliet.jid)(s) && s.getChildText('show') === 'xa',
          'own reflection',
        ),
      ]);
      // Each broadcast was handed on before its reflection came back; a barrier from the contact
      // then one to oneself (answered in one's own partition) comes after anything it delivered.
      await barrier(romeo, juliet.bare);
      await barrier(juliet, romeo.bare);
      await Promise.all([barrier(juliet, juliet.bare), barrier(romeo, romeo.bare)]);
      expect(
        juliet.inbox.history.filter((s) => isPresence(romeo.jid)(s) && s.getChildText('show') === 'away'),
      ).toEqual([]);
      expect(
        romeo.inbox.history.filter((s) => isPresence(juliet.jid)(s) && s.getChildText('show') === 'xa'),
      ).toEqual([]);
    });

    it('keeps bare-JID chat away from negative-priority resources and stores it offline when only those are online (RFC 6121 §8.5.2.1.1, §8.5.2.2.1)', async () => {
      const u = await cast(d, ['juliet', 'romeo']);
      const juliet = await online(d, u.juliet, 'balcony');
      const shy = await online(d, u.romeo, 'shy', [xml('priority', {}, '-1')]);
      const desk = await online(d, u.romeo, 'desk', [xml('priority', {}, '0')]);
      await shy.inbox.next(isPresence(desk.jid), "desk's presence, seen by shy");

      await juliet.send(chat(shy.bare, 'neg-1', 'To the one who listens'));
      await desk.inbox.next(isMessage('neg-1'), 'the chat at the non-negative resource');

      // §8.5.2.2: all available resources with negative priority count as none: offline storage.
      await desk.stop();
      await shy.inbox.next(isPresence(desk.jid, 'unavailable'), "desk's unavailable presence, seen by shy");
      await juliet.send(chat(shy.bare, 'neg-2', 'Is anyone there?'));
      // Same sender, same recipient, in order (RFC 6120 §10.1): shy would have had neg-1 and neg-2 by now.
      await juliet.send(chat(shy.jid, 'neg-3', 'Only to the shy one'));
      await shy.inbox.next(isMessage('neg-3'), 'the full-JID chat at the negative resource');
      expect(shy.inbox.history.filter((s) => isMessage('neg-1')(s) || isMessage('neg-2')(s))).toEqual([]);

      const back = await online(d, u.romeo, 'desk', [xml('priority', {}, '0')]);
      const stored = await back.inbox.next(isMessage('neg-2'), 'the stored chat at the next login');
      expect(stored.getChild('delay', 'urn:xmpp:delay')?.attrs.from).toBe(d.domain);
    });

    it('delivers a headline to every non-negative resource and bounces groupchat to a bare JID (RFC 6121 §8.5.2.1.2, §8.5.2.1.3, §8.5.2.2.3)', async () => {
      const u = await cast(d, ['juliet', 'romeo', 'tybalt']);
      const juliet = await online(d, u.juliet, 'balcony');
      const shy = await online(d, u.romeo, 'shy', [xml('priority', {}, '-1')]);
      const low = await online(d, u.romeo, 'low', [xml('priority', {}, '1')]);
      const high = await online(d, u.romeo, 'high', [xml('priority', {}, '5')]);
      await shy.inbox.next(isPresence(high.jid), "high's presence, seen by shy");
      await low.inbox.next(isPresence(high.jid), "high's presence, seen by low");

      await juliet.send(
        xml('message', { to: low.bare, type: 'headline', id: 'news-1' }, xml('body', {}, 'Verona news')),
      );
      await Promise.all([
        low.inbox.next(isMessage('news-1'), 'the headline at low'),
        high.inbox.next(isMessage('news-1'), 'the headline at high'),
      ]);

      const groupchat = (to: string, id: string): Element =>
        xml('message', { to, type: 'groupchat', id }, xml('body', {}, 'Hear ye'));
      for (const [to, id] of [
        [low.bare, 'gc-1'],
        [`${u.tybalt}@${d.domain}`, 'gc-2'],
      ] as const) {
        await juliet.send(groupchat(to, id));
        const bounced = await juliet.inbox.next(isMessage(id), `the groupchat error for ${to}`);
        expect(bounced.attrs).toMatchObject({ type: 'error', from: to, to: juliet.jid });
        expect(
          bounced.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
        ).toBeDefined();
      }

      // Same sender, same recipient, in order: neither the headline nor the groupchat reached shy.
      await juliet.send(chat(shy.jid, 'shy-1', 'Only to the shy one'));
      await shy.inbox.next(isMessage('shy-1'), 'the full-JID chat at shy');
      expect(shy.inbox.history.filter((s) => isMessage('news-1')(s) || isMessage('gc-1')(s))).toEqual([]);
      expect(high.inbox.history.filter(isMessage('gc-1'))).toEqual([]);
    });

    it('lets a contact read the vCard the user set, but not change it (XEP-0054 §3.1, §3.2)', async () => {
      const u = await cast(d, ['juliet', 'romeo']);
      const juliet = await d.connect(u.juliet, 'balcony');
      const romeo = await d.connect(u.romeo, 'orchard');
      // XEP-0054 Example 4, abridged.
      const vcard = xml(
        'vCard',
        { xmlns: 'vcard-temp' },
        xml('FN', {}, 'Peter Saint-Andre'),
        xml('N', {}, xml('FAMILY', {}, 'Saint-Andre'), xml('GIVEN', {}, 'Peter')),
        xml('NICKNAME', {}, 'stpeter'),
      );
      await juliet.iq(xml('iq', { type: 'set', id: 'v2' }, vcard));

      const read = await romeo.iq(
        xml('iq', { type: 'get', to: juliet.bare, id: 'v3' }, xml('vCard', { xmlns: 'vcard-temp' })),
      );
      const got = read.getChild('vCard', 'vcard-temp');
      expect(got?.getChildText('FN')).toBe('Peter Saint-Andre');
      expect(got?.getChild('N')?.getChildText('GIVEN')).toBe('Peter');
      expect(got?.getChildText('NICKNAME')).toBe('stpeter');

      await expect(
        romeo.iq(
          xml(
            'iq',
            { type: 'set', to: juliet.bare },
            xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, 'Romeo')),
          ),
        ),
      ).rejects.toMatchObject({ condition: 'forbidden' });
      const still = await romeo.iq(
        xml('iq', { type: 'get', to: juliet.bare }, xml('vCard', { xmlns: 'vcard-temp' })),
      );
      expect(still.getChild('vCard', 'vcard-temp')?.getChildText('FN')).toBe('Peter Saint-Andre');
    });

    it('stores private XML for its owner only and refuses reserved namespaces (XEP-0049 §3)', async () => {
      const u = await cast(d, ['hamlet', 'romeo']);
      const hamlet = await d.connect(u.hamlet, 'castle');
      const romeo = await d.connect(u.romeo, 'orchard');
      const exodus = (...children: Element[]): Element =>
        xml('query', { xmlns: 'jabber:iq:private' }, xml('exodus', { xmlns: 'exodus:prefs' }, ...children));

      // XEP-0049 Examples 1 and 3: store, then get, the exodus:prefs fragment.
      await hamlet.iq(xml('iq', { type: 'set', id: '1001' }, exodus(xml('defaultnick', {}, 'Hamlet'))));
      const got = await hamlet.iq(xml('iq', { type: 'get', id: '1001' }, exodus()));
      expect(
        got
          .getChild('query', 'jabber:iq:private')
          ?.getChild('exodus', 'exodus:prefs')
          ?.getChildText('defaultnick'),
      ).toBe('Hamlet');

      // §3: another user's private data is off limits.
      await expect(romeo.iq(xml('iq', { type: 'get', to: hamlet.bare }, exodus()))).rejects.toMatchObject({
        condition: 'forbidden',
      });
      await expect(
        romeo.iq(xml('iq', { type: 'set', to: hamlet.bare }, exodus(xml('defaultnick', {}, 'Romeo')))),
      ).rejects.toMatchObject({ condition: 'forbidden' });
      const unchanged = await hamlet.iq(xml('iq', { type: 'get' }, exodus()));
      expect(
        unchanged
          .getChild('query', 'jabber:iq:private')
          ?.getChild('exodus', 'exodus:prefs')
          ?.getChildText('defaultnick'),
      ).toBe('Hamlet');

      // §2: a namespace the protocol itself uses is reserved and not acceptable as private data.
      await expect(
        hamlet.iq(
          xml(
            'iq',
            { type: 'set' },
            xml('query', { xmlns: 'jabber:iq:private' }, xml('query', { xmlns: 'jabber:iq:private' })),
          ),
        ),
      ).rejects.toMatchObject({ condition: 'not-acceptable' });
    });

    it('answers a last activity query to the server with its uptime (XEP-0012 §5)', async () => {
      const u = await cast(d, ['romeo']);
      const romeo = await d.connect(u.romeo, 'orchard');
      // XEP-0012 Example 5: <iq id='last3' to='montague.net' type='get'><query xmlns='jabber:iq:last'/></iq>
      const uptime = await romeo.iq(
        xml('iq', { type: 'get', to: d.domain, id: 'last3' }, xml('query', { xmlns: 'jabber:iq:last' })),
      );
      expect(uptime.attrs).toMatchObject({ type: 'result', from: d.domain });
      const seconds = Number(uptime.getChild('query', 'jabber:iq:last')?.attrs.seconds);
      expect(Number.isInteger(seconds)).toBe(true);
      expect(seconds).toBeGreaterThanOrEqual(0);
    });

    it('copies messages to the other resource as carbons (XEP-0280 §6)', async () => {
      const opened: Session[] = [];
      const track = (s: Session): Session => (opened.push(s), s);
      try {
        const u = await cast(d, ['romeo', 'juliet']);
        const romeo = track(await online(d, u.romeo, 'orchard'));
        const balcony = track(await online(d, u.juliet, 'balcony', [xml('priority', {}, '5')]));
        const chamber = track(await online(d, u.juliet, 'chamber'));
        await chamber.iq(xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS })));

        // To the bare JID: the highest-priority resource gets it, the other a <received/> copy.
        await romeo.send(chat(balcony.bare, 'carbon-1', 'Wherefore art thou, Romeo?'));
        await balcony.inbox.next(isMessage('carbon-1'), 'the message itself');
        const received = await chamber.inbox.next(
          (s) => s.is('message') && s.getChild('received', CARBONS) !== undefined,
          'the received carbon',
        );
        expect(received.attrs.from).toBe(chamber.bare);
        const inner = received
          .getChild('received', CARBONS)!
          .getChild('forwarded', 'urn:xmpp:forward:0')!
          .getChild('message')!;
        expect(inner.attrs).toMatchObject({ id: 'carbon-1', from: romeo.jid });
        expect(inner.getChildText('body')).toBe('Wherefore art thou, Romeo?');

        // What another resource sends comes back as <sent/>.
        await balcony.send(chat(romeo.jid, 'carbon-2', 'Neither, fair saint'));
        await romeo.inbox.next(isMessage('carbon-2'), 'the reply');
        const sent = await chamber.inbox.next(
          (s) => s.is('message') && s.getChild('sent', CARBONS) !== undefined,
          'the sent carbon',
        );
        expect(
          sent.getChild('sent', CARBONS)!.getChild('forwarded')!.getChild('message')!.attrs,
        ).toMatchObject({
          id: 'carbon-2',
          to: romeo.jid,
        });
      } finally {
        // The edge caps connections per address: a scenario closes what it opened.
        await Promise.all(opened.map((o) => o.stop()));
      }
    });

    it('pages through 500 archived messages with RSM (XEP-0313 §4, XEP-0059)', async () => {
      const opened: Session[] = [];
      const track = (s: Session): Session => (opened.push(s), s);
      try {
        // Five senders of 100 each: one session may not send 500 stanzas in a burst (edge rate limits).
        const u = await cast(d, ['juliet', 'romeo', 'mercutio', 'benvolio', 'tybalt', 'nurse']);
        const juliet = track(await d.connect(u.juliet, 'balcony'));
        const expected: string[] = [];
        for (const sender of [u.romeo, u.mercutio, u.benvolio, u.tybalt, u.nurse]) {
          const s = track(await d.connect(sender, 'phone'));
          for (let i = 0; i < 100; i++) {
            await s.send(chat(juliet.bare, `mam-${i}`, `${sender} line ${i}`));
            expected.push(`${sender} line ${i}`);
          }
          // Archived in juliet's partition in this order: the next sender starts once these are in.
          await barrier(s, juliet.bare);
        }
        const seen: string[] = [];
        let after: string | undefined;
        let pages = 0;
        for (;;) {
          const queryid = `page-${pages}`;
          const fin = await juliet.iq(
            xml(
              'iq',
              { type: 'set' },
              xml(
                'query',
                { xmlns: MAM, queryid },
                xml(
                  'x',
                  { xmlns: 'jabber:x:data', type: 'submit' },
                  xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM)),
                ),
                xml(
                  'set',
                  { xmlns: RSM },
                  ...[xml('max', {}, '100'), ...(after === undefined ? [] : [xml('after', {}, after)])],
                ),
              ),
            ),
            15_000,
          );
          pages++;
          const set = finSet(fin);
          expect(set.getChildText('count')).toBe('500');
          const results = await juliet.inbox.collect(
            (s) => s.getChild('result', MAM)?.attrs.queryid === queryid,
            Math.min(100, 500 - seen.length),
            `the results of ${queryid}`,
          );
          for (const r of results) {
            const message = r.getChild('result', MAM)!.getChild('forwarded')!.getChild('message')!;
            seen.push(message.getChildText('body') ?? '');
          }
          expect(set.getChildText('last')).toBe(
            results[results.length - 1]!.getChild('result', MAM)!.attrs.id,
          );
          if (fin.getChild('fin', MAM)!.attrs.complete === 'true') break;
          after = set.getChildText('last')!;
          expect(pages).toBeLessThan(6);
        }
        expect(pages).toBe(5);
        expect(seen).toEqual(expected);
      } finally {
        // The edge caps connections per address: a scenario closes what it opened.
        await Promise.all(opened.map((o) => o.stop()));
      }
    }, 60_000);

    it('notifies a contact of a PEP avatar by its caps, and keeps bookmarks private (XEP-0163, XEP-0084, XEP-0402)', async () => {
      const opened: Session[] = [];
      const track = (s: Session): Session => (opened.push(s), s);
      try {
        const u = await cast(d, ['juliet', 'romeo']);
        const juliet = track(await online(d, u.juliet, 'balcony'));
        const romeo = track(await online(d, u.romeo, 'orchard'));
        await befriend(juliet, romeo);
        const caps = advertiseCaps(romeo, [AVATAR_METADATA, BOOKMARKS]);

        await juliet.iq(avatarMetadata('avatar-1'));
        // Bookmarks are for the owner only (XEP-0402 §3: access model whitelist).
        await juliet.iq(
          xml(
            'iq',
            { type: 'set' },
            xml(
              'pubsub',
              { xmlns: PUBSUB },
              xml(
                'publish',
                { node: BOOKMARKS },
                xml(
                  'item',
                  { id: 'theplay@conference.shakespeare.lit' },
                  xml(
                    'conference',
                    { xmlns: BOOKMARKS, name: 'The Play', autojoin: 'true' },
                    xml('nick', {}, 'JC'),
                  ),
                ),
              ),
              publishOptions({
                'pubsub#persist_items': 'true',
                'pubsub#max_items': 'max',
                'pubsub#send_last_published_item': 'never',
                'pubsub#access_model': 'whitelist',
              }),
            ),
          ),
        );

        // Romeo's client comes with caps: the server asks for them (disco#info), then sends the last item.
        await romeo.send(xml('presence', {}, caps));
        const last = await romeo.inbox.next(
          isEvent(AVATAR_METADATA, 'avatar-1'),
          'the last avatar item',
          15_000,
        );
        expect(last.attrs.from).toBe(juliet.bare);
        await juliet.iq(avatarMetadata('avatar-2'));
        const fresh = await romeo.inbox.next(isEvent(AVATAR_METADATA, 'avatar-2'), 'the new avatar', 15_000);
        expect(
          fresh
            .getChild('event', PUBSUB_EVENT)!
            .getChild('items')!
            .getChild('item')!
            .getChild('metadata', AVATAR_METADATA),
        ).toBeDefined();
        // Bookmarks would have come before the avatars, in order from juliet's partition: none did.
        expect(romeo.inbox.history.filter(isEvent(BOOKMARKS))).toEqual([]);
        await expect(
          romeo.iq(
            xml(
              'iq',
              { type: 'get', to: juliet.bare },
              xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: BOOKMARKS })),
            ),
          ),
        ).rejects.toThrow(/not-allowed/);
        const mine = await juliet.iq(
          xml('iq', { type: 'get' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: BOOKMARKS }))),
        );
        expect(mine.getChild('pubsub', PUBSUB)!.getChild('items')!.getChild('item')!.attrs.id).toBe(
          'theplay@conference.shakespeare.lit',
        );
      } finally {
        // The edge caps connections per address: a scenario closes what it opened.
        await Promise.all(opened.map((o) => o.stop()));
      }
    }, 60_000);

    it('publishes a push notification to the app server while the phone is away (XEP-0357 §6)', async () => {
      const opened: Session[] = [];
      const track = (s: Session): Session => (opened.push(s), s);
      try {
        const u = await cast(d, ['juliet', 'romeo', 'appserver']);
        const app = track(await d.connect(u.appserver, 'push'));
        responder(app).set(PUBSUB, 'pubsub', () => true);
        const juliet = track(await online(d, u.juliet, 'phone'));
        const romeo = track(await online(d, u.romeo, 'orchard'));
        await befriend(juliet, romeo);
        await juliet.iq(
          xml(
            'iq',
            { type: 'set' },
            xml(
              'enable',
              { xmlns: 'urn:xmpp:push:0', jid: app.jid, node: 'yxs32uqsflafdk3iuqo' },
              xml(
                'x',
                { xmlns: 'jabber:x:data', type: 'submit' },
                xml('field', { var: 'FORM_TYPE' }, xml('value', {}, `${PUBSUB}#publish-options`)),
                xml('field', { var: 'secret' }, xml('value', {}, 'eruio234vzxc2kla-91')),
              ),
            ),
          ),
        );
        await juliet.stop();
        await romeo.inbox.next(isPresence(juliet.jid, 'unavailable'), "juliet's unavailable presence");
        await romeo.send(chat(juliet.bare, 'push-1', 'Wherefore art thou?'));
        const push = await app.inbox.next(
          (s) => s.is('iq') && s.attrs.type === 'set' && s.getChild('pubsub', PUBSUB) !== undefined,
          'the push notification',
          15_000,
        );
        expect(push.attrs.from).toBe(juliet.bare);
        const publish = push.getChild('pubsub', PUBSUB)!.getChild('publish')!;
        expect(publish.attrs.node).toBe('yxs32uqsflafdk3iuqo');
        const fields = new Map(
          publish
            .getChild('item')!
            .getChild('notification', 'urn:xmpp:push:0')!
            .getChild('x', 'jabber:x:data')!
            .getChildren('field')
            .map((f) => [f.attrs.var as string, f.getChildText('value')]),
        );
        expect(fields.get('FORM_TYPE')).toBe('urn:xmpp:push:summary');
        expect(fields.get('message-count')).toBe('1');
        expect(fields.get('last-message-sender')).toBe(romeo.jid);
      } finally {
        // The edge caps connections per address: a scenario closes what it opened.
        await Promise.all(opened.map((o) => o.stop()));
      }
    }, 60_000);

    it('lets a slixmpp client subscribe, chat and leave with an @xmpp/client user (interop)', async () => {
      const u = await cast(d, ['juliet', 'mercutio']);
      const juliet = await online(d, u.juliet, 'balcony');
      const mercutio = `${u.mercutio}@${d.domain}`;
      const endpoint = d.endpointFor(u.mercutio);
      const py = spawn(
        PYTHON,
        [SLIXMPP_PEER, `${mercutio}/py`, `${u.mercutio}-secret`, String(endpoint.port), CA_FILE],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      py.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => py.once('exit', resolve));
      const out = lines(py.stdout);
      try {
        // slixmpp links OpenSSL, so it gets channel binding (RFC 9266 / tls-unique) over STARTTLS.
        expect(await out.next('slixmpp ready')).toMatch(/^ready mechanism SCRAM-SHA-256(-PLUS)? tls yes$/);

        // slixmpp approves and subscribes back on its own (auto_authorize, auto_subscribe).
        await juliet.send(xml('presence', { to: mercutio, type: 'subscribe' }));
        await juliet.inbox.next(isPresence(mercutio, 'subscribed'), "slixmpp's approval");
        await juliet.inbox.next(isPresence(`${mercutio}/py`), "slixmpp's presence after approval");
        await juliet.inbox.next(isPresence(mercutio, 'subscribe'), "slixmpp's own request");
        await juliet.send(xml('presence', { to: mercutio, type: 'subscribed' }));
        await juliet.inbox.next(isRosterPush(mercutio, 'both'), 'subscription both');

        await juliet.send(chat(`${mercutio}/py`, 'py-1', 'A plague on both your houses'));
        const echo = await juliet.inbox.next(
          (s) => s.is('message') && s.attrs.from === `${mercutio}/py`,
          'the echo',
        );
        expect(echo.getChildText('body')).toBe('echo: A plague on both your houses');

        await juliet.send(chat(`${mercutio}/py`, 'py-2', 'bye'));
        expect(await out.next('the roster line')).toBe(`roster ${juliet.bare} both`);
        await juliet.inbox.next(
          isPresence(`${mercutio}/py`, 'unavailable'),
          "slixmpp's unavailable presence",
        );
        expect(await exited).toBe(0);
      } catch (error) {
        py.kill('SIGKILL');
        throw new Error(
          `${(error as Error).message}\nslixmpp stdout:\n${out.all.join('\n')}\nstderr:\n${stderr}`,
          {
            cause: error,
          },
        );
      }
    });
  });
}
