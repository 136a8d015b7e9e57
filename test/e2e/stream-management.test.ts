// XEP-0198 across the cluster: a client drops its TCP connection without closing the stream,
// resumes on the OTHER edge, and gets every message sent to it meanwhile exactly once; a session
// nobody resumes times out into offline storage with unavailable presence to its contacts.
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@switchboard/xml';
import { RawClient } from '../../services/edge/test/harness.js';
import { cluster, type ClusterDeployment } from './deployments.js';
import { barrier, isPresence, online } from './scenarios.js';

const SM = 'urn:xmpp:sm:3';
let d: ClusterDeployment | undefined;

beforeAll(async () => {
  // A dead edge is noticed after 6 s: long enough to resume elsewhere first, on a busy machine too.
  d = await cluster({ edges: 2, routers: 1, edgeTimeoutMs: 6000 });
}, 90_000);
afterAll(async () => {
  await d?.stop();
});
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail' && d !== undefined) process.stderr.write(`${d.diagnostics()}\n`);
});

/** STARTTLS on edge `edge`, SASL PLAIN, and the restarted stream's features (no resource bound yet). */
async function authenticated(edge: number, user: string, password: string): Promise<RawClient> {
  const port = await portOf(edge);
  const client = await RawClient.tcp(port);
  client.closed.catch(() => undefined);
  await client.open();
  await client.starttls();
  await client.open();
  client.send(
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`,
  );
  await client.next((el) => el.getName() === 'success', 'sasl success');
  const features = await client.open();
  expect(features.getChild('sm', SM)).toBeDefined();
  return client;
}

const ports = new Map<number, number>();
async function portOf(edge: number): Promise<number> {
  const known = ports.get(edge);
  if (known !== undefined) return known;
  const line = await d!.edgeLog(edge, (l) => l.msg === 'edge started', 'edge started');
  const port = Number(line['tcpPort']);
  ports.set(edge, port);
  return port;
}

async function bind(client: RawClient, resource: string): Promise<string> {
  client.send(
    `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
  );
  const bound = await client.next((el) => el.attrs['id'] === 'bind', 'bind result');
  return bound.getChild('bind')!.getChildText('jid')!;
}

const bodyIs =
  (body: string) =>
  (el: Element): boolean =>
    el.is('message') && el.getChildText('body') === body;

describe('XEP-0198 in the cluster', () => {
  it('resumes on the other edge and receives what was sent meanwhile exactly once, with the right h', async () => {
    const c = d!;
    await c.createAccount('romeo', 'romeo-secret');
    await c.createAccount('juliet', 'juliet-secret');
    const romeo = await online(c, 'romeo', 'orchard', [], { edge: 1 });

    const phone = await authenticated(0, 'juliet', 'juliet-secret');
    const juliet = await bind(phone, 'phone');
    phone.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await phone.next((el) => el.is('enabled', SM), 'enabled');
    expect(enabled.attrs['resume']).toBe('true');
    const previd = enabled.attrs['id']!;
    // Two stanzas handled by the server: h=2 at resumption.
    phone.send(`<presence/>`);
    phone.send(`<presence to='${romeo.jid}'><status>directed</status></presence>`);
    await romeo.inbox.next((s) => s.is('presence') && s.attrs.from === juliet, 'directed presence');

    await romeo.send(xml('message', { to: juliet, type: 'chat', id: 'm1' }, xml('body', {}, 'one')));
    await phone.next(bodyIs('one'), 'm1 on the first connection');
    // The TCP connection drops; the stream is never closed.
    phone.destroy();
    await c.edgeLog(0, (l) => l.msg === 'session detached' && l['jid'] === juliet, 'detached on edge 0');

    await romeo.send(xml('message', { to: juliet, type: 'chat', id: 'm2' }, xml('body', {}, 'two')));
    await romeo.send(xml('message', { to: juliet, type: 'chat', id: 'm3' }, xml('body', {}, 'three')));
    await barrier(romeo, 'juliet@localhost');

    const resumedPhone = await authenticated(1, 'juliet', 'juliet-secret');
    // What she handled on the old connection: her reflected presence and m1.
    let counting = false;
    const handled = phone.count((el) => {
      // XEP-0198 §4: the client counts from <enabled/> on.
      if (el.is('enabled', SM)) counting = true;
      return counting && ['message', 'presence', 'iq'].includes(el.getName());
    });
    expect(handled).toBe(2);
    resumedPhone.send(`<resume xmlns='${SM}' previd='${previd}' h='${handled}'/>`);
    const resumed = await resumedPhone.next((el) => el.is('resumed', SM), 'resumed');
    expect(resumed.attrs['h']).toBe('2');
    await resumedPhone.next(bodyIs('two'), 'm2 after resumption');
    await resumedPhone.next(bodyIs('three'), 'm3 after resumption');
    await romeo.send(xml('message', { to: juliet, type: 'chat', id: 'm4' }, xml('body', {}, 'four')));
    await resumedPhone.next(bodyIs('four'), 'm4 through the new edge');
    // The old edge dropped its copy without ending the session.
    await c.edgeLog(
      0,
      (l) => l.msg === 'session taken over' && l['jid'] === juliet,
      'edge 0 dropping its copy',
    );
    // Exactly once each on the new connection (m1 was acked by h=1).
    resumedPhone.send(`<r xmlns='${SM}'/>`);
    const a = await resumedPhone.next((el) => el.is('a', SM), 'ack');
    expect(a.attrs['h']).toBe('2');
    const bodies = [] as string[];
    resumedPhone.count((el) => {
      if (el.is('message')) bodies.push(el.getChildText('body') ?? '');
      return false;
    });
    expect(bodies).toEqual(['two', 'three', 'four']);
    // Nobody saw her go: the session never ended.
    expect(romeo.inbox.history.filter(isPresence(juliet, 'unavailable'))).toEqual([]);
    resumedPhone.send(`<a xmlns='${SM}' h='5'/>`);
    resumedPhone.send('</stream:stream>');
    await romeo.inbox.next(isPresence(juliet, 'unavailable'), 'unavailable after the clean close');
  }, 40_000);

  it('times a detached session out: the unacked message goes to offline storage and the contact sees unavailable', async () => {
    const c = d!;
    await c.createAccount('mercutio', 'mercutio-secret');
    await c.createAccount('tybalt', 'tybalt-secret');
    const mercutio = await online(c, 'mercutio', 'street', [], { edge: 1 });
    const phone = await authenticated(0, 'tybalt', 'tybalt-secret');
    const tybalt = await bind(phone, 'phone');
    // XEP-0198 §5: the client asks for a short resumption timeout.
    phone.send(`<enable xmlns='${SM}' resume='true' max='1'/>`);
    const enabled = await phone.next((el) => el.is('enabled', SM), 'enabled');
    expect(enabled.attrs['max']).toBe('1');
    phone.send(`<presence to='${mercutio.jid}'/>`);
    await mercutio.inbox.next((s) => s.is('presence') && s.attrs.from === tybalt, 'directed presence');
    await mercutio.send(xml('message', { to: tybalt, type: 'chat', id: 'lost' }, xml('body', {}, 'unacked')));
    await phone.next(bodyIs('unacked'), 'the message, never acked');
    phone.destroy();

    await mercutio.inbox.next(isPresence(tybalt, 'unavailable'), 'unavailable after the timeout', 15_000);
    const back = await c.connect('tybalt', 'laptop', { edge: 1 });
    await back.send(xml('presence'));
    const stored = await back.inbox.next(
      (s) => s.is('message') && s.attrs.id === 'lost',
      'the unacked message from offline storage',
      10_000,
    );
    expect(stored.getChildText('body')).toBe('unacked');
    expect(stored.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
  }, 40_000);

  // Last: it kills edge 0.
  it('after its edge is killed, a session resumes on the other edge, and one nobody resumes goes to offline storage', async () => {
    const c = d!;
    await c.createAccount('benvolio', 'benvolio-secret');
    await c.createAccount('rosaline', 'rosaline-secret');
    await c.createAccount('livia', 'livia-secret');
    const benvolio = await online(c, 'benvolio', 'square', [], { edge: 1 });

    const tablet = await authenticated(0, 'livia', 'livia-secret');
    const livia = await bind(tablet, 'tablet');
    tablet.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await tablet.next((el) => el.is('enabled', SM), 'enabled');
    tablet.send(`<presence to='${benvolio.jid}'/>`);
    await benvolio.inbox.next((s) => s.is('presence') && s.attrs.from === livia, 'directed presence');
    await benvolio.send(
      xml('message', { to: livia, type: 'chat', id: 'l1' }, xml('body', {}, 'before the crash')),
    );
    await tablet.next(bodyIs('before the crash'), 'l1 on the socket, never acked');
    const phone = await authenticated(0, 'rosaline', 'rosaline-secret');
    const rosaline = await bind(phone, 'phone');
    phone.send(`<enable xmlns='${SM}' resume='true'/>`);
    await phone.next((el) => el.is('enabled', SM), 'enabled');
    phone.send(`<presence to='${benvolio.jid}'/>`);
    await benvolio.inbox.next((s) => s.is('presence') && s.attrs.from === rosaline, 'directed presence');
    await benvolio.send(
      xml(
        'message',
        { to: rosaline, type: 'chat', id: 'in-flight' },
        xml('body', {}, 'written, never acked'),
      ),
    );
    await phone.next(bodyIs('written, never acked'), 'the message on the socket');

    await c.killEdge(0);
    // Sent after the crash: it waits in the dead edge's delivery stream.
    await benvolio.send(
      xml('message', { to: livia, type: 'chat', id: 'l2' }, xml('body', {}, 'after the crash')),
    );
    await barrier(benvolio, 'livia@localhost');
    const resumed = await authenticated(1, 'livia', 'livia-secret');
    resumed.send(`<resume xmlns='${SM}' previd='${enabled.attrs['id']!}' h='0'/>`);
    await resumed.next((el) => el.is('resumed', SM), 'resumed on edge 1');
    await resumed.next(bodyIs('before the crash'), 'l1 resent from the resumption state');
    // The janitor hands what was queued on the dead edge back to the router, which now delivers to edge 1.
    await resumed.next(bodyIs('after the crash'), 'l2 re-routed from the dead edge', 20_000);

    await benvolio.inbox.next(isPresence(rosaline, 'unavailable'), 'unavailable from the janitor', 20_000);
    // Livia's session survived the crash: no unavailable for her, and each message came once.
    expect(benvolio.inbox.history.filter(isPresence(livia, 'unavailable'))).toEqual([]);
    expect(resumed.count((el) => el.is('message'))).toBe(2);
    const back = await c.connect('rosaline', 'laptop', { edge: 1 });
    await back.send(xml('presence'));
    const stored = await back.inbox.next(
      (s) => s.is('message') && s.attrs.id === 'in-flight',
      'the unacked message',
      10_000,
    );
    expect(stored.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
  }, 60_000);
});
