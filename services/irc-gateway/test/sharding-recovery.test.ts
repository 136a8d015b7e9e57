// Sharding robustness on a real Redis against a real ngircd: work a replica died with (entries it
// read and never acked on `svc:{domain}` and on its own stream, entries forwarded to it and never
// read) is claimed and processed by a live replica; and a user moving to a new replica is QUIT by
// the old one before the new one connects (connection leases), so the nick is never `nick_`.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBus, type Bus, type Consumer } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import { ENVELOPE_VERSION, Groups, Streams, decodeEnvelope, encodeEnvelope } from '@switchboard/protocol';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { parseElement, xml, type Element } from '@switchboard/xml';
import { build, type IrcGatewayApp } from '../src/app.js';
import { createRedisReplicaSet, ownerOf, type ReplicaSet } from '../src/cluster/ownership.js';
import { ircGatewaySettingsSchema, toIrcGatewayConfig } from '../src/config.js';
import { IrcPeer } from '../src/irc/test/irc-peer.js';
import { startNgircd, type Ngircd } from '../src/irc/test/ngircd.js';
import { createRedisMemberships } from '../src/persistence/redis.js';
import { replicaStream, shardedBusTransport } from '../src/transports/sharded-bus.js';
import type { Transport } from '../src/transports/index.js';

const DOMAIN = 'irc.localhost';
const ROOM = `#hand%127.0.0.1@${DOMAIN}`;
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
// A replica silent for longer than this is dead. replica-a beats every 2.5 s, replica-b every 0.1 s:
// replica-b, started just after one of replica-a's beats, sees both replicas (and connects the
// users it now owns) seconds before replica-a sees it: the race a handover must survive.
const TTL_MS = 8000;
const SLOW_BEAT_MS = 2500;

/** The first `count` user JIDs `replica` owns while both a and b are live. */
function usersOwnedBy(replica: string, count: number, tag: string): string[] {
  const users: string[] = [];
  for (let i = 0; users.length < count; i++) {
    const user = `${tag}${i}@localhost`;
    if (ownerOf(user, ['replica-a', 'replica-b']) === replica) users.push(user);
  }
  return users;
}

describe('IRC gateway replicas: dead replicas’ work and ordered handover', () => {
  const logs: string[] = [];
  const logger = createLogger({
    service: 'irc-sharding-recovery',
    level: 'info',
    destination: { write: (l: string) => void logs.push(l) },
  });
  let redisServer: RedisServer;
  let ngircd: Ngircd;
  let bus: Bus;
  let replies: Consumer;
  const received: Element[] = [];
  const waiters: { test: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  const clients: Redis[] = [];
  const apps = new Map<string, { app: IrcGatewayApp; bus: Bus }>();
  let romeo: IrcPeer;
  const carols = usersOwnedBy('replica-a', 3, 'carol');
  const [bob] = usersOwnedBy('replica-b', 1, 'bob') as [string];
  const prefix = `t-${randomUUID()}`;

  const next = (test: (el: Element) => boolean): Promise<Element> => {
    const found = received.findIndex(test);
    if (found >= 0) return Promise.resolve(received.splice(found, 1)[0]!);
    return new Promise((resolve) => waiters.push({ test, resolve }));
  };

  const redis = (): Redis => {
    const client = new Redis(redisServer.url);
    clients.push(client);
    return client;
  };

  async function startReplica(id: string, heartbeatMs: number): Promise<void> {
    const transport = (replicas: ReplicaSet, replicaBus: Bus): Transport =>
      shardedBusTransport({
        bus: replicaBus,
        domain: DOMAIN,
        partitions: 1,
        replicas,
        logger,
        recoverEveryMs: 100,
        claimIdleMs: 200,
      });
    const replicas = createRedisReplicaSet({
      redis: redis(),
      domain: DOMAIN,
      replicaId: id,
      heartbeatMs,
      ttlMs: TTL_MS,
    });
    const replicaBus = createRedisBus({ url: redisServer.url });
    const settings = ircGatewaySettingsSchema.parse({
      domain: DOMAIN,
      servers: { '127.0.0.1': { port: ngircd.port, tls: false } },
      flood: { burst: 20, perSecond: 20 },
    });
    const app = build(toIrcGatewayConfig(settings), {
      transport: transport(replicas, replicaBus),
      memberships: createRedisMemberships({ redis: redis(), prefix }),
      logger: logger.child({ replica: id }),
      replicas,
    });
    await app.start();
    apps.set(id, { app, bus: replicaBus });
  }

  /** A join as the router puts it on `svc:{irc.localhost}` (or `stream`, as a replica forwards it). */
  async function join(user: string, nick: string, stream = Streams.service(DOMAIN)): Promise<void> {
    const stanza = xml('presence', { from: `${user}/r`, to: `${ROOM}/${nick}` }, xml('x', { xmlns: NS_MUC }));
    await bus.publish(
      stream,
      encodeEnvelope({
        v: ENVELOPE_VERSION,
        id: randomUUID(),
        kind: 'presence',
        edgeId: 'test-edge',
        sessionId: 'test-session',
        from: `${user}/r`,
        to: `${ROOM}/${nick}`,
        type: '',
        stanzaId: '',
        xml: stanza.toString(),
        ts: Date.now(),
      }),
    );
  }

  /** Reads one entry of `stream` as the dead replica's consumer and dies before acking it. */
  async function readAndDie(stream: string): Promise<void> {
    await new Promise<void>((resolve) => {
      const dying: Consumer = bus.consume({
        streams: [stream],
        group: Groups.service,
        consumer: 'replica-dead',
        batchSize: 1,
        handler: () => {
          resolve();
          void dying.stop();
          return Promise.reject(new Error('replica-dead crashed'));
        },
      });
    });
  }

  const selfPresence = (user: string, nick: string) => (el: Element) =>
    el.name === 'presence' &&
    el.attrs['to'] === `${user}/r` &&
    el.attrs['from'] === `${ROOM}/${nick}` &&
    el.attrs['type'] === undefined &&
    el
      .getChild('x', NS_MUC_USER)
      ?.getChildren('status')
      .some((s) => s.attrs['code'] === '110') === true;

  beforeAll(async () => {
    [redisServer, ngircd] = await Promise.all([startRedisServer(), startNgircd()]);
    bus = createRedisBus({ url: redisServer.url });
    replies = bus.consume({
      streams: [Streams.route(0)],
      group: 'test-router',
      consumer: 'test',
      handler: (entries) => {
        for (const entry of entries) {
          const el = parseElement(decodeEnvelope(entry.payload).xml);
          const waiter = waiters.find((w) => w.test(el));
          if (waiter === undefined) received.push(el);
          else {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(el);
          }
        }
        return Promise.resolve();
      },
    });
    romeo = await IrcPeer.connect(ngircd.port, 'romeo');
    romeo.raw('JOIN #hand');
    await romeo.next('userlist');

    // A replica that registered, took work and died: one join read and unacked on svc:{domain},
    // one read and unacked on its own stream, one forwarded to it and never read.
    const dead = createRedisReplicaSet({ redis: redis(), domain: DOMAIN, replicaId: 'replica-dead' });
    await dead.start();
    await dead.stop();
    const deadStream = replicaStream(DOMAIN, 'replica-dead');
    await join(carols[0]!, 'carol0');
    await readAndDie(Streams.service(DOMAIN));
    await join(carols[1]!, 'carol1', deadStream);
    await join(carols[2]!, 'carol2', deadStream);
    await readAndDie(deadStream);
    expect((await bus.pending(deadStream, Groups.service)).count).toBe(1);
  }, 60_000);

  afterAll(async () => {
    await romeo?.quit();
    for (const { app, bus: replicaBus } of apps.values()) {
      await app.stop();
      await replicaBus.close();
    }
    await replies?.stop();
    await bus?.close();
    await Promise.all(clients.map((c) => c.quit()));
    await ngircd?.stop();
    await redisServer?.dispose();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-80).join(''));
  });

  it('claims and processes what a dead replica read but never acked, and what was forwarded to it', async () => {
    await startReplica('replica-a', SLOW_BEAT_MS);
    await join(bob, 'bob');
    await Promise.all([
      ...carols.map((carol, i) => next(selfPresence(carol, `carol${i}`))),
      next(selfPresence(bob, 'bob')),
    ]);
    for (const nick of ['carol0', 'carol1', 'carol2', 'bob'])
      await romeo.next('join', (e) => e.nick === nick);
    await expect
      .poll(async () =>
        Promise.all(
          [Streams.service(DOMAIN), replicaStream(DOMAIN, 'replica-dead')].map(
            async (s) => (await bus.pending(s, Groups.service)).count,
          ),
        ),
      )
      .toEqual([0, 0]);
    expect(apps.get('replica-a')!.app.gateway.sessionCount).toBe(4);
  }, 30_000);

  it('hands a user over QUIT first: the new owner connects only after the old one released', async () => {
    // replica-b sees {a, b} at once and owns bob; replica-a still holds bob until its next beat.
    const watcher = redis();
    const beatOfA = (): Promise<string | null> => watcher.zscore(`irc:{${DOMAIN}}:replicas`, 'replica-a');
    const before = await beatOfA();
    await expect.poll(beatOfA, { timeout: 3 * SLOW_BEAT_MS, interval: 20 }).not.toBe(before);
    await startReplica('replica-b', 100);
    const quit = await romeo.next('quit', (e) => e.nick === 'bob', 20_000);
    const rejoined = await romeo.next('join', (e) => e.nick.startsWith('bob'), 20_000);
    expect(rejoined.nick).toBe('bob');
    const events = romeo.events;
    expect(events.findIndex((e) => e.data === quit)).toBeLessThan(
      events.findIndex((e) => e.data === rejoined),
    );
    await next(selfPresence(bob, 'bob'));
    const notice = await next(
      (el) =>
        el.name === 'message' &&
        el.attrs['to'] === `${bob}/r` &&
        /joined to #hand again/.test(el.getChildText('body') ?? ''),
    );
    expect(notice.attrs['from']).toBe(ROOM);
    expect(apps.get('replica-b')!.app.gateway.sessionCount).toBe(1);
    expect(apps.get('replica-a')!.app.gateway.sessionCount).toBe(3);
    expect(romeo.events.some((e) => e.name === 'join' && (e.data as { nick: string }).nick === 'bob_')).toBe(
      false,
    );
  }, 30_000);
});
