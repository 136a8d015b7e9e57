// Connection ownership sharded across two gateway replicas on a real Redis (bus, memberships,
// replica heartbeats) against a real ngircd: each user's IRC connection lives on the replica that
// owns them, stanzas reaching the other replica are forwarded, and a replica that leaves hands
// its users over to the survivor, which rejoins their channels.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBus, type Bus, type Consumer } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import { ENVELOPE_VERSION, Streams, decodeEnvelope, encodeEnvelope } from '@switchboard/protocol';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { parseElement, xml, type Element } from '@switchboard/xml';
import { build, type IrcGatewayApp } from '../src/app.js';
import { createRedisReplicaSet, ownerOf, type ReplicaSet } from '../src/cluster/ownership.js';
import { ircGatewaySettingsSchema, toIrcGatewayConfig } from '../src/config.js';
import { IrcPeer } from '../src/irc/test/irc-peer.js';
import { startNgircd, type Ngircd } from '../src/irc/test/ngircd.js';
import { createRedisMemberships } from '../src/persistence/redis.js';
import { shardedBusTransport } from '../src/transports/sharded-bus.js';

const DOMAIN = 'irc.localhost';
const ROOM = `#shard%127.0.0.1@${DOMAIN}`;
const REPLICAS = ['replica-a', 'replica-b'];

/** The first user JIDs the rendezvous hash gives to each replica. */
function usersOwnedBy(replica: string): string {
  for (let i = 0; ; i++) {
    const user = `user${i}@localhost`;
    if (ownerOf(user, REPLICAS) === replica) return user;
  }
}

describe('IRC connection ownership sharded across replicas', () => {
  const logs: string[] = [];
  const logger = createLogger({
    service: 'irc-sharding',
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
  const apps = new Map<string, { app: IrcGatewayApp; replicas: ReplicaSet; bus: Bus }>();
  let romeo: IrcPeer;
  const alice = usersOwnedBy('replica-a');
  const bob = usersOwnedBy('replica-b');
  const prefix = `t-${randomUUID()}`;

  const next = (test: (el: Element) => boolean): Promise<Element> => {
    const found = received.findIndex(test);
    if (found >= 0) return Promise.resolve(received.splice(found, 1)[0]!);
    return new Promise((resolve) => waiters.push({ test, resolve }));
  };

  async function startReplica(id: string): Promise<void> {
    const redis = new Redis(redisServer.url);
    clients.push(redis);
    const replicas = createRedisReplicaSet({ redis, domain: DOMAIN, replicaId: id, heartbeatMs: 150 });
    const replicaBus = createRedisBus({ url: redisServer.url });
    const settings = ircGatewaySettingsSchema.parse({
      domain: DOMAIN,
      servers: { '127.0.0.1': { port: ngircd.port, tls: false } },
      flood: { burst: 20, perSecond: 20 },
    });
    const app = build(toIrcGatewayConfig(settings), {
      transport: shardedBusTransport({ bus: replicaBus, domain: DOMAIN, partitions: 1, replicas, logger }),
      memberships: createRedisMemberships({ redis, prefix }),
      logger: logger.child({ replica: id }),
      replicas,
    });
    await app.start();
    apps.set(id, { app, replicas, bus: replicaBus });
  }

  /** Resolves once every running replica sees exactly `ids` alive. */
  function converged(ids: string[]): Promise<void> {
    const want = [...ids].sort().join(',');
    return Promise.all(
      [...apps.values()]
        .filter(({ replicas }) => ids.includes(replicas.self))
        .map(
          ({ replicas }) =>
            new Promise<void>((resolve) => {
              if (replicas.live().join(',') === want) return resolve();
              replicas.onChange((live) => {
                if (live.join(',') === want) resolve();
              });
            }),
        ),
    ).then(() => undefined);
  }

  /** A stanza as the router puts it on `svc:{irc.localhost}`. */
  async function fromUser(from: string, stanza: Element): Promise<void> {
    stanza.attrs['from'] = from;
    await bus.publish(
      Streams.service(DOMAIN),
      encodeEnvelope({
        v: ENVELOPE_VERSION,
        id: randomUUID(),
        kind: 'presence',
        edgeId: 'test-edge',
        sessionId: 'test-session',
        from,
        to: stanza.attrs['to']!,
        type: stanza.attrs['type'] ?? '',
        stanzaId: '',
        xml: stanza.toString(),
        ts: Date.now(),
      }),
    );
  }

  const selfPresence = (user: string) => (el: Element) =>
    el.name === 'presence' &&
    el.attrs['to'] === `${user}/r` &&
    el.attrs['type'] === undefined &&
    el
      .getChild('x', 'http://jabber.org/protocol/muc#user')
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
    romeo.raw('JOIN #shard');
    await romeo.next('userlist');
    await Promise.all(REPLICAS.map((id) => startReplica(id)));
    await converged(REPLICAS);
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
    if (task.result?.state === 'fail') console.error(logs.slice(-60).join(''));
  });

  it('connects each user from the replica that owns them, whichever replica read the stanza', async () => {
    await fromUser(
      `${alice}/r`,
      xml('presence', { to: `${ROOM}/alice` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })),
    );
    await fromUser(
      `${bob}/r`,
      xml('presence', { to: `${ROOM}/bob` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })),
    );
    await Promise.all([next(selfPresence(alice)), next(selfPresence(bob))]);
    await romeo.next('join', (e) => e.nick === 'alice');
    await romeo.next('join', (e) => e.nick === 'bob');
    expect(apps.get('replica-a')!.app.gateway.sessionCount).toBe(1);
    expect(apps.get('replica-b')!.app.gateway.sessionCount).toBe(1);
  });

  it('hands a leaving replica’s users to the survivor, which rejoins and tells them', async () => {
    const b = apps.get('replica-b')!;
    await b.app.stop();
    await b.bus.close();
    apps.delete('replica-b');
    await romeo.next('quit', (e) => e.nick === 'bob');
    await converged(['replica-a']);
    await romeo.next('join', (e) => e.nick === 'bob', 20_000);
    await next(selfPresence(bob));
    const notice = await next(
      (el) =>
        el.name === 'message' &&
        el.attrs['to'] === `${bob}/r` &&
        /another gateway replica/.test(el.getChildText('body') ?? ''),
    );
    expect(notice.attrs['from']).toBe(ROOM);
    expect(apps.get('replica-a')!.app.gateway.sessionCount).toBe(2);
  });
});
