// Sharding robustness on a real Redis against a real ngircd: work a replica died with (entries it
// read and never acked on `svc:{domain}` and on its own stream, entries forwarded to it and never
// read) is claimed and processed by a live replica; and a user moving to a new replica is QUIT by
// the old one before the new one connects (connection leases), so the nick is never `nick_`.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '@switchboard/bus';
import { Groups, Streams } from '@switchboard/protocol';
import { xml, type Element } from '@switchboard/xml';
import { createRedisReplicaSet, ownerOf } from '../src/cluster/ownership.js';
import { replicaStream } from '../src/transports/sharded-bus.js';
import { DOMAIN, ShardingHarness, selfPresence as selfPresenceTo } from './sharding-harness.js';

const ROOM = `#hand%127.0.0.1@${DOMAIN}`;
const NS_MUC = 'http://jabber.org/protocol/muc';
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
  const h = new ShardingHarness('irc-sharding-recovery', '#hand');
  const { apps } = h;
  const carols = usersOwnedBy('replica-a', 3, 'carol');
  const [bob] = usersOwnedBy('replica-b', 1, 'bob') as [string];

  const startReplica = (id: string, heartbeatMs: number): Promise<void> =>
    h.startReplica(id, { heartbeatMs, ttlMs: TTL_MS }, { recoverEveryMs: 100, claimIdleMs: 200 });

  /** A join as the router puts it on `svc:{irc.localhost}` (or `stream`, as a replica forwards it). */
  async function join(user: string, nick: string, stream = Streams.service(DOMAIN)): Promise<void> {
    await h.publish(
      xml('presence', { from: `${user}/r`, to: `${ROOM}/${nick}` }, xml('x', { xmlns: NS_MUC })),
      stream,
    );
  }

  /** Reads one entry of `stream` as the dead replica's consumer and dies before acking it. */
  async function readAndDie(stream: string): Promise<void> {
    await new Promise<void>((resolve) => {
      const dying: Consumer = h.bus.consume({
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
    el.attrs['from'] === `${ROOM}/${nick}` && selfPresenceTo(user)(el);

  beforeAll(async () => {
    await h.start();

    // A replica that registered, took work and died: one join read and unacked on svc:{domain},
    // one read and unacked on its own stream, one forwarded to it and never read.
    const dead = createRedisReplicaSet({ redis: h.redis(), domain: DOMAIN, replicaId: 'replica-dead' });
    await dead.start();
    await dead.stop();
    const deadStream = replicaStream(DOMAIN, 'replica-dead');
    await join(carols[0]!, 'carol0');
    await readAndDie(Streams.service(DOMAIN));
    await join(carols[1]!, 'carol1', deadStream);
    await join(carols[2]!, 'carol2', deadStream);
    await readAndDie(deadStream);
    expect((await h.bus.pending(deadStream, Groups.service)).count).toBe(1);
  }, 60_000);

  afterAll(() => h.stop());

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(h.logs.slice(-80).join(''));
  });

  it('claims and processes what a dead replica read but never acked, and what was forwarded to it', async () => {
    await startReplica('replica-a', SLOW_BEAT_MS);
    await join(bob, 'bob');
    await Promise.all([
      ...carols.map((carol, i) => h.next(selfPresence(carol, `carol${i}`))),
      h.next(selfPresence(bob, 'bob')),
    ]);
    for (const nick of ['carol0', 'carol1', 'carol2', 'bob'])
      await h.romeo.next('join', (e) => e.nick === nick);
    await expect
      .poll(async () =>
        Promise.all(
          [Streams.service(DOMAIN), replicaStream(DOMAIN, 'replica-dead')].map(
            async (s) => (await h.bus.pending(s, Groups.service)).count,
          ),
        ),
      )
      .toEqual([0, 0]);
    expect(apps.get('replica-a')!.app.gateway.sessionCount).toBe(4);
  }, 30_000);

  it('hands a user over QUIT first: the new owner connects only after the old one released', async () => {
    // replica-b sees {a, b} at once and owns bob; replica-a still holds bob until its next beat.
    const watcher = h.redis();
    const beatOfA = (): Promise<string | null> => watcher.zscore(`irc:{${DOMAIN}}:replicas`, 'replica-a');
    const before = await beatOfA();
    await expect.poll(beatOfA, { timeout: 3 * SLOW_BEAT_MS, interval: 20 }).not.toBe(before);
    await startReplica('replica-b', 100);
    const { romeo } = h;
    const quit = await romeo.next('quit', (e) => e.nick === 'bob', 20_000);
    const rejoined = await romeo.next('join', (e) => e.nick.startsWith('bob'), 20_000);
    expect(rejoined.nick).toBe('bob');
    const events = romeo.events;
    expect(events.findIndex((e) => e.data === quit)).toBeLessThan(
      events.findIndex((e) => e.data === rejoined),
    );
    await h.next(selfPresence(bob, 'bob'));
    const notice = await h.next(
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
