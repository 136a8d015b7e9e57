import { randomUUID } from 'node:crypto';
import { Groups, Streams, type Delivery, type Envelope } from '@switchboard/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newlyAcked, parseH, wireCount } from '../src/sm/counter.js';
import { createMemoryResumptionStore, type ResumptionStore } from '../src/sm/store.js';
import type { Element } from '@switchboard/xml';
import { RawClient, startEdge, type TestEdge } from './harness.js';

const SM = 'urn:xmpp:sm:3';
const CSI = 'urn:xmpp:csi:0';
let t: TestEdge;
let n = 0;

beforeAll(async () => {
  t = await startEdge({ streamManagement: { maxResumeSeconds: 2, ackEvery: 3, ackDelayMs: 200 } });
});

afterAll(async () => {
  await t.stop();
});

async function login(
  resource = 'phone',
  edge: TestEdge = t,
): Promise<{ client: RawClient; jid: string; user: string }> {
  const user = `sm${++n}`;
  await edge.createAccount(user, 'secret');
  const client = await connect(edge);
  const jid = await client.login(user, 'secret', resource);
  return { client, jid, user };
}

async function connect(edge: TestEdge = t): Promise<RawClient> {
  const client = await RawClient.tls(edge.ports.tlsPort);
  // A reset after a stream error is expected.
  client.closed.catch(() => undefined);
  return client;
}

/** SASL PLAIN and the stream restart, without binding; resolves to the new stream's features. */
async function authenticate(client: RawClient, user: string): Promise<Element> {
  await client.open();
  client.send(
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0secret`).toString('base64')}</auth>`,
  );
  await client.next((el) => el.getName() === 'success', 'sasl success');
  return client.open();
}

/** A round trip the edge answers itself: everything sent before it was handled. */
async function handled(client: RawClient): Promise<void> {
  const id = randomUUID();
  client.send(`<iq type='set' id='${id}'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
  await client.next((el) => el.is('iq') && el.attrs['id'] === id, 'session result');
}

/** The session id the edge published session-start with for `jid`. */
async function sessionOf(jid: string, edge: TestEdge = t): Promise<Envelope> {
  return edge.routes.waitFor((e) => e.kind === 'session-start' && e.from === jid, `session-start of ${jid}`);
}

/** A stanza delivery to `jid`'s session, as the router writes it. */
function delivery(session: Envelope, jid: string, m: { id: string; xml: string }): Delivery {
  return {
    v: 1,
    kind: 'stanza',
    id: m.id,
    sessionId: session.sessionId,
    to: jid,
    xml: m.xml,
    ts: Date.now(),
  };
}

function message(to: string, body: string, id: string = randomUUID()): { id: string; xml: string } {
  return {
    id,
    xml: `<message xmlns='jabber:client' from='romeo@localhost/orchard' to='${to}' type='chat' id='${id}'><body>${body}</body></message>`,
  };
}

async function deliver(sessionId: string, to: string, xml: string, id: string = randomUUID()): Promise<void> {
  await t.deliver({ v: 1, kind: 'stanza', id, sessionId, to, xml, ts: Date.now() });
}

async function enable(client: RawClient, resume = true): Promise<string> {
  client.send(`<enable xmlns='${SM}'${resume ? " resume='true'" : ''}/>`);
  const enabled = await client.next((el) => el.is('enabled', SM), 'enabled');
  return enabled.attrs['id'] ?? '';
}

describe('XEP-0198 counters', () => {
  it('counts acks across the 2^32 wrap-around', () => {
    expect(wireCount(2 ** 32 + 5)).toBe(5);
    // 10 sent after 2^32 - 3 acked: h = 2 acknowledges 5 of them.
    expect(newlyAcked(2, 2 ** 32 - 3, 2 ** 32 + 7)).toBe(5);
    expect(newlyAcked(8, 2 ** 32 - 3, 2 ** 32 + 7)).toBe(null);
    expect(parseH('4294967295')).toBe(2 ** 32 - 1);
    expect(parseH('4294967296')).toBe(null);
    expect(parseH('-1')).toBe(null);
  });
});

describe('XEP-0198 stream management', () => {
  it('offers sm and csi after authentication, enables with resumption, and counts both directions', async () => {
    const user = `sm${++n}`;
    await t.createAccount(user, 'secret');
    const client = await connect();
    const features = await authenticate(client, user);
    expect(features.getChild('sm', SM)).toBeDefined();
    expect(features.getChild('csi', CSI)).toBeDefined();
    client.send(
      `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>`,
    );
    const jid = (await client.next((el) => el.attrs['id'] === 'b', 'bind'))
      .getChild('bind')!
      .getChildText('jid')!;
    const session = await sessionOf(jid);
    const id = await enable(client);
    expect(id).toBe(session.sessionId);
    const enabled = client.count((el) => el.is('enabled', SM));
    expect(enabled).toBe(1);

    // Inbound: three stanzas handled, then <r/> gives h=3.
    for (let i = 0; i < 3; i++) client.send(`<presence/>`);
    client.send(`<r xmlns='${SM}'/>`);
    const a = await client.next((el) => el.is('a', SM), 'a');
    expect(a.attrs['h']).toBe('3');

    // Outbound: the edge asks for an ack after three stanzas (ackEvery).
    for (let i = 0; i < 3; i++) {
      const m = message(jid, `m${i}`);
      await deliver(session.sessionId, jid, m.xml, m.id);
    }
    await client.next((el) => el.is('r', SM), 'an ack request');
    expect(client.count((el) => el.is('message'))).toBe(3);
    client.send(`<a xmlns='${SM}' h='3'/>`);
    // An ack for more than was sent is a stream error (XEP-0198 §4).
    client.send(`<a xmlns='${SM}' h='9'/>`);
    const error = await client.streamError();
    expect(error.condition).toBe('undefined-condition');
    // The session ended with nothing unacked: session-end, nothing re-routed.
    await t.routes.waitFor(
      (e) => e.kind === 'session-end' && e.sessionId === session.sessionId,
      'session-end',
    );
    expect(t.routes.all.filter((e) => e.stage === 'in' && e.to === jid)).toEqual([]);
  });

  it('detaches on a dropped connection and resumes with the unacked and the queued stanzas, exactly once', async () => {
    const { client, jid, user } = await login();
    const session = await sessionOf(jid);
    const id = await enable(client);
    const first = message(jid, 'before drop');
    await deliver(session.sessionId, jid, first.xml, first.id);
    await client.next((el) => el.is('message') && el.getChildText('body') === 'before drop', 'first message');
    client.destroy();
    await client.closed;
    // The router learns that the session waits for a resume (for push notifications).
    await t.routes.waitFor(
      (e) => e.kind === 'session-state' && e.type === 'detached' && e.sessionId === session.sessionId,
      'session-state detached',
    );
    // Sent while detached: queued for the session, not re-routed.
    const second = message(jid, 'while detached');
    await deliver(session.sessionId, jid, second.xml, second.id);

    const again = await connect();
    await authenticate(again, user);
    // The client handled one stanza before the drop... but says h=0: both are resent.
    again.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const resumed = await again.next((el) => el.is('resumed', SM), 'resumed');
    expect(resumed.attrs['previd']).toBe(id);
    expect(resumed.attrs['h']).toBe('0');
    const bodies = (
      await Promise.all([
        again.next((el) => el.is('message') && el.getChildText('body') === 'before drop', 'resent'),
        again.next((el) => el.is('message') && el.getChildText('body') === 'while detached', 'queued'),
      ])
    ).map((el) => el.getChildText('body'));
    expect(bodies).toEqual(['before drop', 'while detached']);
    // Deliveries go on to the resumed stream under the same session id.
    const third = message(jid, 'after resume');
    await deliver(session.sessionId, jid, third.xml, third.id);
    await again.next((el) => el.is('message') && el.getChildText('body') === 'after resume', 'third');
    // A copy of a resent stanza re-routed from where the session was before (a dead edge's
    // delivery stream, read but not yet acked) is a repeat: dropped, the barrier behind it comes.
    await deliver(session.sessionId, jid, first.xml, first.id);
    const barrier = message(jid, 'barrier');
    await deliver(session.sessionId, jid, barrier.xml, barrier.id);
    await again.next((el) => el.is('message') && el.getChildText('body') === 'barrier', 'barrier');
    again.send(`<a xmlns='${SM}' h='4'/>`);
    again.send(`<r xmlns='${SM}'/>`);
    await again.next((el) => el.is('a', SM), 'a');
    expect(again.count((el) => el.is('message'))).toBe(4);
    // No session-end while detached or on resumption.
    expect(t.routes.all.filter((e) => e.kind === 'session-end' && e.sessionId === session.sessionId)).toEqual(
      [],
    );
    again.send('</stream:stream>');
    await again.closed;
  });

  it('takes a count above the recorded one as stanzas a dying edge wrote but never recorded: nothing resent, counting goes on', async () => {
    const { client, jid, user } = await login();
    const session = await sessionOf(jid);
    const id = await enable(client);
    const first = message(jid, 'recorded');
    await deliver(session.sessionId, jid, first.xml, first.id);
    await client.next((el) => el.is('message') && el.getChildText('body') === 'recorded', 'first message');
    client.destroy();
    await client.closed;
    await t.routes.waitFor(
      (e) => e.kind === 'session-state' && e.type === 'detached' && e.sessionId === session.sessionId,
      'session-state detached',
    );
    const again = await connect();
    await authenticate(again, user);
    // One more than the edge recorded: as after an edge killed between a write and its record.
    again.send(`<resume xmlns='${SM}' previd='${id}' h='2'/>`);
    await again.next((el) => el.is('resumed', SM), 'resumed');
    const next = message(jid, 'after resume');
    await deliver(session.sessionId, jid, next.xml, next.id);
    await again.next((el) => el.is('message') && el.getChildText('body') === 'after resume', 'next message');
    // The client's count goes on from its own h: 3 is right, not handled-count-too-high.
    again.send(`<a xmlns='${SM}' h='3'/>`);
    again.send(`<r xmlns='${SM}'/>`);
    await again.next((el) => el.is('a', SM), 'a');
    expect(again.count((el) => el.is('message'))).toBe(1);
    again.send('</stream:stream>');
    await again.closed;
  });

  it('answers an unknown or ended session with item-not-found, and the inbound count when known', async () => {
    const user = `sm${++n}`;
    await t.createAccount(user, 'secret');
    const client = await connect();
    await authenticate(client, user);
    client.send(`<resume xmlns='${SM}' previd='no-such-session' h='0'/>`);
    const failed = await client.next((el) => el.is('failed', SM), 'failed');
    expect(failed.getChild('item-not-found')).toBeDefined();
    expect(failed.attrs['h']).toBeUndefined();
    // Binding still works on the same stream.
    client.send(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
    await client.next((el) => el.is('iq') && el.attrs['id'] === 'b', 'bind');
  });

  it('ends a detached session at its timeout: session-end, then the unacked stanzas back to the router', async () => {
    const { client, jid, user } = await login();
    const session = await sessionOf(jid);
    const id = await enable(client);
    client.send(`<presence/>`);
    const lost = message(jid, 'unacked');
    await deliver(session.sessionId, jid, lost.xml, lost.id);
    await client.next((el) => el.is('message'), 'message');
    client.destroy();
    const end = await t.routes.waitFor(
      (e) => e.kind === 'session-end' && e.sessionId === session.sessionId,
      'session-end after the resumption timeout',
    );
    const rerouted = await t.routes.waitFor((e) => e.stage === 'in' && e.id === lost.id, 're-routed message');
    expect(t.routes.all.indexOf(end)).toBeLessThan(t.routes.all.indexOf(rerouted));
    expect(rerouted).toMatchObject({ kind: 'message', to: jid, from: 'romeo@localhost/orchard', edgeId: '' });
    // Too late: failed, with the count of what the server had handled.
    const late = await connect();
    await authenticate(late, user);
    late.send(`<resume xmlns='${SM}' previd='${id}' h='1'/>`);
    const failed = await late.next((el) => el.is('failed', SM), 'failed');
    expect(failed.getChild('item-not-found')).toBeDefined();
    expect(failed.attrs['h']).toBe('1');
    late.destroy();
  });

  it('re-routes the unacked stanzas when the client closes the stream', async () => {
    const { client, jid } = await login();
    const session = await sessionOf(jid);
    await enable(client, false);
    const m = message(jid, 'not acked');
    await deliver(session.sessionId, jid, m.xml, m.id);
    await client.next((el) => el.is('message'), 'message');
    client.send('</stream:stream>');
    await t.routes.waitFor((e) => e.stage === 'in' && e.id === m.id, 're-routed message');
  });
});

describe('XEP-0198 and the delivery stream', () => {
  it('acks a delivery only once the resumption store holds it, so a crash of the edge in between loses nothing', async () => {
    // The real in-process store, with its writes held back until the test lets them through.
    const inner = createMemoryResumptionStore();
    let open: () => void = () => undefined;
    let gate: Promise<void> = Promise.resolve();
    let pushed: () => void = () => undefined;
    const pushing = new Promise<void>((resolve) => (pushed = resolve));
    const held: ResumptionStore = {
      create: (init, ttl) => inner.create(init, ttl),
      take: (...args) => inner.take(...args),
      update: (...args) => inner.update(...args),
      end: (...args) => inner.end(...args),
      push: async (...args) => {
        pushed();
        await gate;
        return inner.push(...args);
      },
    };
    const g = await startEdge({ streamManagement: { maxResumeSeconds: 2 } }, undefined, held);
    try {
      const { client, jid } = await login('phone', g);
      const session = await sessionOf(jid, g);
      await enable(client);
      gate = new Promise<void>((resolve) => (open = resolve));

      const m = message(jid, 'kept until stored');
      await g.deliver(delivery(session, jid, m));
      await client.next((el) => el.is('message') && el.attrs['id'] === m.id, 'the message');
      await pushing;
      const stream = Streams.deliver(g.edge.edgeId);
      // Written to the socket but not yet in the store: still pending on the bus, so another
      // edge or the janitor would get it if this edge died now.
      expect((await g.bus.pending(stream, Groups.edge)).count).toBe(1);
      open();
      const deadline = Date.now() + 5000;
      while ((await g.bus.pending(stream, Groups.edge)).count !== 0) {
        if (Date.now() > deadline) throw new Error('the delivery was never acked');
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      open();
      await g.stop();
    }
  });
});

describe('XEP-0352 client state indication', () => {
  it('holds presence (latest per contact) and chat states while inactive; a body or active flushes in order', async () => {
    const { client, jid } = await login('tablet');
    const session = await sessionOf(jid);
    client.send(`<inactive xmlns='${CSI}'/>`);
    await handled(client);
    await t.routes.waitFor(
      (e) => e.kind === 'session-state' && e.type === 'inactive' && e.sessionId === session.sessionId,
      'session-state inactive',
    );
    const presence = (from: string, show: string): string =>
      `<presence xmlns='jabber:client' from='${from}' to='${jid}'><show>${show}</show></presence>`;
    await deliver(session.sessionId, jid, presence('romeo@localhost/a', 'away'));
    await deliver(session.sessionId, jid, presence('mercutio@localhost/b', 'xa'));
    await deliver(session.sessionId, jid, presence('romeo@localhost/a', 'dnd'));
    await deliver(
      session.sessionId,
      jid,
      `<message xmlns='jabber:client' from='romeo@localhost/a' to='${jid}' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
    );
    // An IQ is urgent: it goes out at once, with what was held before it.
    await deliver(
      session.sessionId,
      jid,
      `<iq xmlns='jabber:client' from='localhost' to='${jid}' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
    await client.next((el) => el.is('iq') && el.attrs['id'] === 'ping1', 'urgent iq');
    const flushed = client.count((el) => el.is('presence') || el.is('message'));
    expect(flushed).toBe(3);
    expect(receivedShows(client)).toEqual(['xa', 'dnd']);

    await deliver(session.sessionId, jid, presence('romeo@localhost/a', 'chat'));
    const m = message(jid, 'wake up');
    await deliver(session.sessionId, jid, m.xml, m.id);
    await client.next((el) => el.is('message') && el.getChildText('body') === 'wake up', 'urgent message');
    expect(receivedShows(client)).toEqual(['xa', 'dnd', 'chat']);

    await deliver(session.sessionId, jid, presence('mercutio@localhost/b', 'away'));
    await handled(client);
    expect(receivedShows(client)).toEqual(['xa', 'dnd', 'chat']);
    client.send(`<active xmlns='${CSI}'/>`);
    await client.next((el) => el.is('presence') && el.getChildText('show') === 'away', 'flushed on active');
    await deliver(session.sessionId, jid, presence('mercutio@localhost/b', 'chat'));
    await client.next(
      (el) =>
        el.is('presence') &&
        el.attrs['from'] === 'mercutio@localhost/b' &&
        el.getChildText('show') === 'chat',
      'live again',
    );
  });
});

function receivedShows(client: RawClient): string[] {
  const shows: string[] = [];
  client.count((el) => {
    if (el.is('presence')) shows.push(el.getChildText('show') ?? '');
    return false;
  });
  return shows;
}

describe('XEP-0198 and a draining edge', () => {
  it('keeps resumable sessions until the drain is over, then re-routes what they did not acknowledge', async () => {
    const draining = await startEdge({ limits: { drainTimeoutSeconds: 1 } });
    try {
      const { client, jid } = await login('phone', draining);
      const start = await sessionOf(jid, draining);
      await enable(client);
      const m = message(jid, 'not acked before the drain');
      await draining.deliver(delivery(start, jid, m));
      await client.next((el) => el.is('message'), 'message');
      const drained = draining.edge.drain();
      expect((await client.streamError()).condition).toBe('system-shutdown');
      await drained;
      const end = await draining.routes.waitFor(
        (e) => e.kind === 'session-end' && e.sessionId === start.sessionId,
        'session-end at the end of the drain',
      );
      const rerouted = await draining.routes.waitFor((e) => e.stage === 'in' && e.id === m.id, 're-routed');
      expect(draining.routes.all.indexOf(end)).toBeLessThan(draining.routes.all.indexOf(rerouted));
    } finally {
      await draining.stop();
    }
  });
});
