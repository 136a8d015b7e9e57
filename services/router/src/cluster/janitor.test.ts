import {
  Groups,
  Keys,
  Streams,
  decodeDelivery,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
} from '@switchboard/protocol';
import { deriveCredentials } from '@switchboard/store';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { parseElement } from '@switchboard/xml';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JANITOR_CONSUMER, JANITOR_LEASE, createJanitor, type Janitor } from './janitor.js';
import { Member, chat, isDisjointCover, logger, until } from './test/members.js';

const P = 8;
const DEAD = 'edge-dead';
const JULIET = 'juliet@example.com';
const BALCONY = `${JULIET}/balcony`;
let server: RedisServer;
let db = 0;
let url: string;
let admin: Redis;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.dispose();
});
beforeEach(() => {
  url = `${server.url}/${++db}`;
  admin = new Redis(url);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await admin.quit();
});

function janitorOn(member: Member, id = member.id): Janitor {
  const janitor = createJanitor({
    redis: member.redis,
    bus: member.bus,
    routerId: id,
    partitions: P,
    logger,
    intervalMs: 50,
    edgeTimeoutMs: 1000,
    leaseTtlMs: 300,
  });
  cleanups.push(() => janitor.stop());
  return janitor;
}

async function startRouter(id: string): Promise<Member> {
  const m = Member.create(url, id, P);
  cleanups.push(() => m.close());
  await m.leases.start();
  await until([m], () => isDisjointCover([m], P), `${id} to hold every partition`);
  return m;
}

/** Publishes to the route streams and resolves once the router processed them all. */
async function route(m: Member, envs: readonly Envelope[]): Promise<string[]> {
  const items = envs.map((env) => ({
    stream: Streams.route(partitionOf(env.from.split('/')[0]!, P)),
    payload: encodeEnvelope(env),
  }));
  const ids = await m.bus.publishBatch(
    envs.map((env, i) => ({
      stream: env.stage === 'in' ? Streams.route(partitionOf(env.to.split('/')[0]!, P)) : items[i]!.stream,
      payload: items[i]!.payload,
    })),
  );
  await processed(m, ids);
  return ids;
}

async function processed(m: Member, ids: readonly string[]): Promise<void> {
  const done = (): boolean => ids.every((id) => m.processed.some((e) => e.id === id));
  while (!done()) await m.nextBatch();
}

function availablePresence(full: string): Envelope {
  return {
    v: 1,
    id: `presence-${full}`,
    kind: 'presence',
    edgeId: '',
    sessionId: '',
    from: full,
    to: '',
    type: '',
    stanzaId: '',
    xml: `<presence xmlns='jabber:client' from='${full}'/>`,
    ts: Date.now(),
  };
}

function sessionStart(full: string, edgeId: string, sessionId: string): Envelope {
  return {
    v: 1,
    id: `start-${sessionId}`,
    kind: 'session-start',
    edgeId,
    sessionId,
    from: full,
    to: '',
    type: '',
    stanzaId: '',
    xml: '',
    ts: Date.now(),
  };
}

/** The live edge's heartbeat, on Redis's clock as the edge itself writes it (services/edge/src/heartbeat.ts). */
async function beatLive(): Promise<void> {
  const [[, now]] = (await admin.multi().time().exec()) as [[null, [string, string]]];
  await admin.zadd(Keys.edges(), Number(now[0]) * 1000 + Math.floor(Number(now[1]) / 1000), 'edge-live');
}

describe('janitor', () => {
  it('ends a dead edge’s sessions, then re-routes what was queued for them to offline storage, and forgets the edge', async () => {
    const router = await startRouter('router-a');
    const credentials = await deriveCredentials('secret', 1);
    await router.store.accounts.create(JULIET, credentials);
    await router.store.accounts.create('romeo@example.net', credentials);
    await route(router, [
      sessionStart(BALCONY, DEAD, 's1'),
      sessionStart('romeo@example.net/orchard', 'edge-live', 's2'),
    ]);
    expect(await admin.smembers(Keys.edgeSessions(DEAD))).toEqual([BALCONY]);

    // Three messages delivered to Juliet's session on the edge that is about to die: the edge read
    // the first, a janitor that died read the second, nobody read the third.
    const deliver = Streams.deliver(DEAD);
    await router.bus.ensureGroup(deliver, Groups.edge);
    await route(
      router,
      [1, 2, 3].map((n) => chat('romeo@example.net', BALCONY, `${n}`)),
    );
    const queuedEntries = await admin.xrange(deliver, '-', '+');
    expect(queuedEntries).toHaveLength(3);
    // Each delivery carries the id of the envelope it came from; re-routed copies keep it.
    const queued = queuedEntries.map(([, fields]) => decodeDelivery(fields[1]!).id);
    await admin.xreadgroup('GROUP', Groups.edge, DEAD, 'COUNT', 1, 'STREAMS', deliver, '>');
    await admin.xreadgroup('GROUP', Groups.edge, JANITOR_CONSUMER, 'COUNT', 1, 'STREAMS', deliver, '>');

    await admin.zadd(Keys.edges(), 1, DEAD);
    await beatLive();

    const janitor = janitorOn(router);
    const report = await janitor.sweep();
    expect(report).toEqual({ deadEdges: [DEAD], sessionEnds: 1, rerouted: 3, forgotten: [] });

    // In Juliet's partition: her session ends first, then the three stanzas come back, in order.
    const stream = Streams.route(partitionOf(JULIET, P));
    const tail = (await admin.xrevrange(stream, '+', '-', 'COUNT', 4)).reverse();
    const envs = tail.map(([, fields]) => decodeEnvelope(fields[1]!));
    expect(envs.map((e) => [e.kind, e.id])).toEqual([
      ['session-end', 'janitor:edge-dead:end:s1'],
      ...queued.map((id) => ['message', id]),
    ]);
    expect(envs.slice(1).every((e) => e.to === BALCONY && e.stage === 'in')).toBe(true);

    await processed(
      router,
      tail.map(([id]) => id),
    );
    expect(await admin.hkeys(Keys.sessions(JULIET))).toEqual([]);
    expect(await admin.scard(Keys.edgeSessions(DEAD))).toBe(0);
    // RFC 6121 §8.5.3.2.1: a chat message to a resource that is gone is handled as to the bare JID.
    const offline = await router.store.offline.list(JULIET);
    expect(offline.map((m) => /<body>(\d)<\/body>/.exec(m.xml)?.[1])).toEqual(['1', '2', '3']);
    expect((await router.bus.pending(deliver, Groups.edge)).count).toBe(0);

    // Forgotten after two sweeps in a row find nothing left; the live edge, still beating, is left alone.
    await beatLive();
    expect((await janitor.sweep()).forgotten).toEqual([]);
    await beatLive();
    expect(await janitor.sweep()).toEqual({
      deadEdges: [DEAD],
      sessionEnds: 0,
      rerouted: 0,
      forgotten: [DEAD],
    });
    expect(await admin.exists(deliver, Keys.edgeSessions(DEAD))).toBe(0);
    expect(await admin.zscore(Keys.edges(), DEAD)).toBeNull();
    expect(await admin.zscore(Keys.edges(), 'edge-live')).not.toBeNull();
    expect(await admin.hkeys(Keys.sessions('romeo@example.net'))).toEqual(['orchard']);
  });

  it('re-routes a stanza the dead edge wrote and recorded as unacked but had not acked on the bus once, from the resumption state', async () => {
    const router = await startRouter('router-a');
    const credentials = await deriveCredentials('secret', 1);
    await router.store.accounts.create(JULIET, credentials);
    await route(router, [sessionStart(BALCONY, DEAD, 's1')]);
    const deliver = Streams.deliver(DEAD);
    await router.bus.ensureGroup(deliver, Groups.edge);
    await route(
      router,
      [1, 2].map((n) => chat('romeo@example.net', BALCONY, `${n}`)),
    );
    // The edge read both, wrote the first to the client and recorded it (XEP-0198 state, as the
    // edge's sm/redis.ts keeps it), and died before its ack of either reached the bus.
    const [first, second] = (await admin.xrange(deliver, '-', '+')).map(([, fields]) =>
      decodeDelivery(fields[1]!),
    );
    if (first?.kind !== 'stanza' || second === undefined) throw new Error('two stanza deliveries expected');
    const written = first;
    await admin.xreadgroup('GROUP', Groups.edge, DEAD, 'COUNT', 2, 'STREAMS', deliver, '>');
    await admin.hset(Keys.resumption('s1'), { bare: JULIET, jid: BALCONY, edge: DEAD, epoch: 1, in: 0 });
    await admin.rpush(
      Keys.resumptionQueue('s1'),
      JSON.stringify({ id: written.id, xml: written.xml, ts: written.ts }),
    );
    await admin.zadd(Keys.edges(), 1, DEAD);
    await beatLive();

    const report = await janitorOn(router).sweep();
    expect(report).toMatchObject({ sessionEnds: 1, rerouted: 1 });
    const stream = Streams.route(partitionOf(JULIET, P));
    const tail = (await admin.xrevrange(stream, '+', '-', 'COUNT', 4)).reverse();
    const envs = tail.map(([, fields]) => decodeEnvelope(fields[1]!));
    // Once each: the recorded one from the resumption state, the other from the delivery stream.
    expect(envs.map((e) => [e.kind, e.id])).toEqual([
      ['message', expect.any(String)],
      ['session-end', 'janitor:edge-dead:end:s1'],
      ['message', written.id],
      ['message', second.id],
    ]);
    await processed(
      router,
      tail.map(([id]) => id),
    );
    const offline = await router.store.offline.list(JULIET);
    expect(offline.map((m) => /<body>(\d)<\/body>/.exec(m.xml)?.[1])).toEqual(['1', '2']);
  });

  it('re-routes a queued message to the user’s other session and answers a queued IQ get with an error', async () => {
    const router = await startRouter('router-a');
    const credentials = await deriveCredentials('secret', 1);
    await router.store.accounts.create(JULIET, credentials);
    await router.store.accounts.create('romeo@example.net', credentials);
    const chamber = `${JULIET}/chamber`;
    await route(router, [
      sessionStart(BALCONY, DEAD, 's1'),
      sessionStart(`${chamber}`, 'edge-live', 's2'),
      sessionStart('romeo@example.net/orchard', 'edge-live', 's3'),
    ]);
    await route(router, [availablePresence(chamber)]);
    const ping: Envelope = {
      ...chat('romeo@example.net/orchard', BALCONY, ''),
      kind: 'iq',
      type: 'get',
      stanzaId: 'ping1',
      // RFC 6120 §8.2.3 / XEP-0199 §4.2 example, addressed to Juliet's gone resource.
      xml: `<iq xmlns='jabber:client' from='romeo@example.net/orchard' to='${BALCONY}' id='ping1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`,
    };
    await route(router, [chat('romeo@example.net/orchard', BALCONY, 'wherefore'), ping]);
    expect(await admin.xlen(Streams.deliver(DEAD))).toBe(2);
    await admin.zadd(Keys.edges(), 1, DEAD);
    const live = Streams.deliver('edge-live');
    const before = (await admin.xrange(live, '-', '+')).length;

    const janitor = janitorOn(router);
    expect(await janitor.sweep()).toMatchObject({ sessionEnds: 1, rerouted: 2 });
    const stream = Streams.route(partitionOf(JULIET, P));
    await processed(
      router,
      (await admin.xrevrange(stream, '+', '-', 'COUNT', 3)).map(([id]) => id),
    );

    const delivered = (await admin.xrange(live, '-', '+'))
      .slice(before)
      .map(([, f]) => decodeDelivery(f[1]!))
      .filter((d) => d.kind === 'stanza')
      .map((d) => ({ to: d.to, el: parseElement(d.xml) }));
    // RFC 6121 §8.5.3.2.1: the chat message goes to the available resource.
    const messages = delivered.filter((d) => d.el.name === 'message');
    expect(messages.map((d) => [d.to, d.el.getChildText('body')])).toEqual([[chamber, 'wherefore']]);
    // RFC 6121 §8.5.3.2.1: an IQ to a resource that is gone gets service-unavailable.
    const errors = delivered.filter((d) => d.el.name === 'iq');
    expect(errors.map((d) => [d.to, d.el.attrs['type'], d.el.attrs['id']])).toEqual([
      ['romeo@example.net/orchard', 'error', 'ping1'],
    ]);
    expect(errors[0]!.el.getChild('error')?.getChild('service-unavailable')).toBeDefined();
    expect(await router.store.offline.count(JULIET)).toBe(0);
  });

  it('re-routes a bare-JID message with its original id, so a session that already got it drops the copy', async () => {
    const router = await startRouter('router-a');
    const credentials = await deriveCredentials('secret', 1);
    await router.store.accounts.create(JULIET, credentials);
    await router.store.accounts.create('romeo@example.net', credentials);
    const chamber = `${JULIET}/chamber`;
    await route(router, [
      sessionStart(BALCONY, DEAD, 's1'),
      sessionStart(chamber, 'edge-live', 's2'),
      sessionStart('romeo@example.net/orchard', 'edge-live', 's3'),
    ]);
    await route(router, [availablePresence(BALCONY), availablePresence(chamber)]);
    const live = Streams.deliver('edge-live');
    const before = (await admin.xrange(live, '-', '+')).length;
    // RFC 6121 §8.5.2.1.1: equal priorities, so the bare-JID chat goes to both resources.
    await route(router, [chat('romeo@example.net/orchard', JULIET, 'both')]);
    await admin.zadd(Keys.edges(), 1, DEAD);
    await janitorOn(router).sweep();
    const stream = Streams.route(partitionOf(JULIET, P));
    await processed(
      router,
      (await admin.xrevrange(stream, '+', '-', 'COUNT', 3)).map(([id]) => id),
    );
    const copies = (await admin.xrange(live, '-', '+'))
      .slice(before)
      .map(([, f]) => decodeDelivery(f[1]!))
      .filter((d) => d.kind === 'stanza' && d.to === chamber && d.xml.includes('<body>both</body>'));
    // The live session may see the stanza twice on the bus, but always under one id, which the
    // edge writes once (services/edge: a repeated delivery id for a session is dropped).
    expect(copies.length).toBeGreaterThanOrEqual(1);
    expect(new Set(copies.map((d) => d.id)).size).toBe(1);
  });

  it('runs on one router at a time, and another takes over when it stops', async () => {
    const routers = ['router-a', 'router-b', 'router-c'].map((id) => Member.create(url, id, P));
    for (const m of routers) cleanups.push(() => m.shutdown());
    const janitors = routers.map((m) => janitorOn(m));
    let active = 0;
    let most = 0;
    const activated: Janitor[] = [];
    const waiters: (() => void)[] = [];
    janitors.forEach((j) =>
      j.onActive((on) => {
        active += on ? 1 : -1;
        most = Math.max(most, active);
        if (on) activated.push(j);
        for (const w of waiters.splice(0)) w();
      }),
    );
    const nextActivation = (count: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => (activated.length >= count ? resolve() : void waiters.push(check));
        check();
      });

    for (const j of janitors) j.start();
    await nextActivation(1);
    const first = activated[0]!;
    // Let it sweep a few times while the others keep trying for the lease.
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => first.onSweep(() => resolve()));
    expect(janitors.filter((j) => j.active)).toEqual([first]);
    const owner = routers[janitors.indexOf(first)]!.id;
    expect(await admin.get(JANITOR_LEASE.lease)).toBe(`${owner}:${first.token}`);
    const firstToken = first.token!;

    await first.stop();
    await nextActivation(2);
    const second = activated[1]!;
    expect(second).not.toBe(first);
    expect(second.token!).toBeGreaterThan(firstToken);
    expect(most).toBe(1);
  });
});
