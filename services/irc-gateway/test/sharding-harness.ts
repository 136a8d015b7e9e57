// What the sharding tests share: a real Redis and a real ngircd, a fake router reading the
// replicas' replies off `route:0`, an IRC user (romeo) watching one channel, and gateway replicas
// on sharded bus transports.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisBus, type Bus, type Consumer } from '@switchboard/bus';
import { createLogger, type Logger } from '@switchboard/kit';
import { ENVELOPE_VERSION, Streams, decodeEnvelope, encodeEnvelope } from '@switchboard/protocol';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { parseElement, type Element } from '@switchboard/xml';
import { build, type IrcGatewayApp } from '../src/app.js';
import {
  createRedisReplicaSet,
  type RedisReplicaSetOptions,
  type ReplicaSet,
} from '../src/cluster/ownership.js';
import { ircGatewaySettingsSchema, toIrcGatewayConfig } from '../src/config.js';
import { IrcPeer } from '../src/irc/test/irc-peer.js';
import { startNgircd, type Ngircd } from '../src/irc/test/ngircd.js';
import { createRedisMemberships } from '../src/persistence/redis.js';
import { shardedBusTransport, type ShardedBusTransportOptions } from '../src/transports/sharded-bus.js';

export const DOMAIN = 'irc.localhost';

export interface Replica {
  readonly app: IrcGatewayApp;
  readonly replicas: ReplicaSet;
  readonly bus: Bus;
}

/** Matches a MUC self-presence (status 110) to `user/r`. */
export const selfPresence = (user: string) => (el: Element) =>
  el.name === 'presence' &&
  el.attrs['to'] === `${user}/r` &&
  el.attrs['type'] === undefined &&
  el
    .getChild('x', 'http://jabber.org/protocol/muc#user')
    ?.getChildren('status')
    .some((s) => s.attrs['code'] === '110') === true;

export class ShardingHarness {
  readonly logs: string[] = [];
  readonly logger: Logger;
  readonly apps = new Map<string, Replica>();
  redisServer!: RedisServer;
  ngircd!: Ngircd;
  /** The test's own bus: it plays the router. */
  bus!: Bus;
  /** An IRC user in `channel`, to watch the gateway's users join and quit. */
  romeo!: IrcPeer;
  private replies: Consumer | undefined;
  private readonly received: Element[] = [];
  private readonly waiters: { test: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  private readonly clients: Redis[] = [];
  private readonly prefix = `t-${randomUUID()}`;

  constructor(
    service: string,
    private readonly channel: string,
  ) {
    this.logger = createLogger({
      service,
      level: 'info',
      destination: { write: (l: string) => void this.logs.push(l) },
    });
  }

  async start(): Promise<void> {
    [this.redisServer, this.ngircd] = await Promise.all([startRedisServer(), startNgircd()]);
    this.bus = createRedisBus({ url: this.redisServer.url });
    this.replies = this.bus.consume({
      streams: [Streams.route(0)],
      group: 'test-router',
      consumer: 'test',
      handler: (entries) => {
        for (const entry of entries) {
          const el = parseElement(decodeEnvelope(entry.payload).xml);
          const waiter = this.waiters.find((w) => w.test(el));
          if (waiter === undefined) this.received.push(el);
          else {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(el);
          }
        }
        return Promise.resolve();
      },
    });
    this.romeo = await IrcPeer.connect(this.ngircd.port, 'romeo');
    this.romeo.raw(`JOIN ${this.channel}`);
    await this.romeo.next('userlist');
  }

  async stop(): Promise<void> {
    await this.romeo?.quit();
    for (const { app, bus } of this.apps.values()) {
      await app.stop();
      await bus.close();
    }
    await this.replies?.stop();
    await this.bus?.close();
    await Promise.all(this.clients.map((c) => c.quit()));
    await this.ngircd?.stop();
    await this.redisServer?.dispose();
  }

  /** The first reply on `route:0` that passes `test`, already received or still to come. */
  next(test: (el: Element) => boolean): Promise<Element> {
    const found = this.received.findIndex(test);
    if (found >= 0) return Promise.resolve(this.received.splice(found, 1)[0]!);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /** A Redis client closed by `stop()`. */
  redis(): Redis {
    const client = new Redis(this.redisServer.url);
    this.clients.push(client);
    return client;
  }

  async startReplica(
    id: string,
    replicaSet: Omit<RedisReplicaSetOptions, 'redis' | 'domain' | 'replicaId'>,
    transport: Pick<ShardedBusTransportOptions, 'recoverEveryMs' | 'claimIdleMs'> = {},
  ): Promise<void> {
    const replicas = createRedisReplicaSet({
      redis: this.redis(),
      domain: DOMAIN,
      replicaId: id,
      ...replicaSet,
    });
    const bus = createRedisBus({ url: this.redisServer.url });
    const settings = ircGatewaySettingsSchema.parse({
      domain: DOMAIN,
      servers: { '127.0.0.1': { port: this.ngircd.port, tls: false } },
      flood: { burst: 20, perSecond: 20 },
    });
    const app = build(toIrcGatewayConfig(settings), {
      transport: shardedBusTransport({
        bus,
        domain: DOMAIN,
        partitions: 1,
        replicas,
        logger: this.logger,
        ...transport,
      }),
      memberships: createRedisMemberships({ redis: this.redis(), prefix: this.prefix }),
      logger: this.logger.child({ replica: id }),
      replicas,
    });
    await app.start();
    this.apps.set(id, { app, replicas, bus });
  }

  /** A presence stanza (with `from`) as the router puts it on `svc:{irc.localhost}`, or on `stream`. */
  async publish(stanza: Element, stream = Streams.service(DOMAIN)): Promise<void> {
    await this.bus.publish(
      stream,
      encodeEnvelope({
        v: ENVELOPE_VERSION,
        id: randomUUID(),
        kind: 'presence',
        edgeId: 'test-edge',
        sessionId: 'test-session',
        from: stanza.attrs['from']!,
        to: stanza.attrs['to']!,
        type: stanza.attrs['type'] ?? '',
        stanzaId: '',
        xml: stanza.toString(),
        ts: Date.now(),
      }),
    );
  }
}
