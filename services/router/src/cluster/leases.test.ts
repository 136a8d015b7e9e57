import { Groups, Keys, Streams, encodeEnvelope, partitionOf } from '@switchboard/protocol';
import { deriveCredentials } from '@switchboard/store';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Member, TIMINGS, chat, isDisjointCover, until } from './test/members.js';

const P = 16;
const ALL = Array.from({ length: P }, (_, p) => p);
let server: RedisServer;
let db = 0;
let url: string;
let admin: Redis;
let members: Member[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.dispose();
});
// Each test gets its own database: the cluster keys (routers, lease:{p}) are global.
beforeEach(() => {
  url = `${server.url}/${++db}`;
  admin = new Redis(url);
});
afterEach(async () => {
  await Promise.all(members.map((m) => m.close()));
  members = [];
  await admin.quit();
});

function join(id: string): Member {
  const m = Member.create(url, id, P);
  members.push(m);
  return m;
}

describe('partition leases', () => {
  it('two, then three routers converge to a disjoint cover of all partitions', async () => {
    const [a, b] = [join('router-a'), join('router-b')];
    await Promise.all([a.leases.start(), b.leases.start()]);
    await until(members, () => isDisjointCover([a, b], P), 'two routers to cover all partitions');
    expect([a.leases.held.length, b.leases.held.length]).toEqual([8, 8]);
    // The leases in Redis say the same as the routers.
    for (const m of [a, b]) {
      for (const p of m.leases.held) {
        expect(await admin.get(Keys.partitionLease(p))).toBe(`${m.id}:${m.leases.token(p)}`);
      }
    }

    const c = join('router-c');
    await c.leases.start();
    await until(members, () => isDisjointCover([a, b, c], P), 'three routers to cover all partitions');
    const sizes = [a, b, c].map((m) => m.leases.held.length).sort();
    expect(sizes).toEqual([5, 5, 6]);
    expect(a.router.ownedPartitions).toEqual(a.leases.held);
  });

  it('a joining router takes its share without any partition being consumed by two routers at once', async () => {
    const a = join('router-a');
    await a.leases.start();
    await until(members, () => isDisjointCover([a], P), 'one router to hold everything');
    const tokensBefore = new Map(ALL.map((p) => [p, a.leases.token(p)!]));

    // Watch the leases in Redis while b joins: a lease showing one owner while another router
    // consumed that partition the whole time the read was in flight would be two owners at once.
    const violations: string[] = [];
    let samples = 0;
    let watching = true;
    const watch = (async () => {
      const keys = ALL.map((p) => Keys.partitionLease(p));
      while (watching) {
        const present = [...members];
        const before = present.map((m) => m.consuming);
        const values = await admin.mget(...keys);
        const after = present.map((m) => m.consuming);
        samples++;
        values.forEach((value, p) => {
          const holder = value?.slice(0, value.lastIndexOf(':'));
          present.forEach((m, i) => {
            const steady = before[i]!.version === after[i]!.version;
            if (steady && m.id !== holder && after[i]!.partitions.has(p))
              violations.push(`p${p}: lease ${String(value)}, consumed by ${m.id}`);
          });
        });
      }
    })();

    const b = join('router-b');
    await b.leases.start();
    await until(members, () => isDisjointCover([a, b], P), 'the rebalance');
    watching = false;
    await watch;
    expect(samples).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expect(b.leases.held).toHaveLength(8);
    // Fencing: every partition b took got a token above the one a had.
    for (const p of b.leases.held) expect(b.leases.token(p)!).toBeGreaterThan(tokensBefore.get(p)!);
    expect(Number(await admin.get(Keys.partitionFence(b.leases.held[0]!)))).toBe(
      b.leases.token(b.leases.held[0]!),
    );
  });

  it('after a router crashes, its partitions are taken over and what it had read but not acked is processed once, in order', async () => {
    const [a, b] = [join('router-a'), join('router-b')];
    await Promise.all([a.leases.start(), b.leases.start()]);
    await until(members, () => isDisjointCover([a, b], P), 'two routers to cover all partitions');

    // A user living in one of a's partitions, with no session: messages go to offline storage.
    const credentials = await deriveCredentials('secret', 1);
    let user = '';
    for (let i = 0; user === ''; i++) {
      const candidate = `user${i}@example.com`;
      if (a.leases.held.includes(partitionOf(candidate, P))) user = candidate;
    }
    await a.store.accounts.create(user, credentials);
    const p = partitionOf(user, P);
    const stream = Streams.route(p);
    const tokenA = a.leases.token(p)!;

    // The crash: a stops heartbeating and renewing; it had read 3 entries it never acked.
    await a.leases.abandon();
    await a.router.stop();
    const envelopes = Array.from({ length: 5 }, (_, i) => chat('romeo@example.net', user, `${i + 1}`));
    const ids = await a.bus.publishBatch(envelopes.map((env) => ({ stream, payload: encodeEnvelope(env) })));
    await admin.xreadgroup('GROUP', Groups.router, a.id, 'COUNT', 3, 'STREAMS', stream, '>');
    expect((await a.bus.pending(stream, Groups.router)).consumers).toEqual({ [a.id]: 3 });

    // No event tells when a lease lapses in Redis: wait for b to report the partition.
    const started = Date.now();
    await until(members, () => b.leases.held.includes(p), 'b to take the crashed router’s partition');
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMINGS.leaseTtlMs / 2);
    expect(b.leases.token(p)!).toBeGreaterThan(tokenA);
    await until(members, () => isDisjointCover([b], P), 'b to hold every partition');

    while (b.processed.filter((e) => e.stream === stream).length < ids.length) await b.nextBatch();
    const handled = b.processed.filter((e) => e.stream === stream).map((e) => e.id);
    expect(handled).toEqual(ids);
    expect((await b.bus.pending(stream, Groups.router)).count).toBe(0);
    const offline = await b.store.offline.list(user);
    expect(offline.map((m) => /<body>(\d)<\/body>/.exec(m.xml)?.[1])).toEqual(['1', '2', '3', '4', '5']);

    // The crashed router's consumer name is gone from the group once its entries were taken over.
    const consumers = (await admin.xinfo('CONSUMERS', stream, Groups.router)) as unknown[][];
    expect(consumers.map((c) => String(c[1]))).not.toContain(a.id);

    members = members.filter((m) => m !== a);
    await a.shutdown();
  });

  it('refuses to publish the effects of a batch once the lease on its partition moved to another router', async () => {
    const [a, b] = [join('router-a'), join('router-b')];
    await Promise.all([a.leases.start(), b.leases.start()]);
    await until(members, () => isDisjointCover([a, b], P), 'two routers to cover all partitions');
    const userIn = (m: Member): string => {
      for (let i = 0; ; i++) {
        const candidate = `fenced${i}@example.com`;
        if (m.leases.held.includes(partitionOf(candidate, P))) return candidate;
      }
    };
    const sender = userIn(a);
    const recipient = userIn(b);
    const p = partitionOf(sender, P);
    const q = partitionOf(recipient, P);
    // Outbound processing in a's partition forwards the message to b's partition: one publish.
    const { stage, ...outbound } = chat(sender, recipient, 'fenced');
    expect(stage).toBe('in');
    const [id] = await a.bus.publishBatch([{ stream: Streams.route(p), payload: encodeEnvelope(outbound) }]);
    const entry = { stream: Streams.route(p), id: id!, payload: encodeEnvelope(outbound) };
    await a.router.stop();
    const before = await admin.xlen(Streams.route(q));

    // Someone else took the lease (a paused past its TTL): a's late batch must not land.
    await admin.set(Keys.partitionLease(p), 'router-z:999999');
    await expect(a.router.handleBatch([entry])).rejects.toMatchObject({ name: 'BusFencedError' });
    expect(await admin.xlen(Streams.route(q))).toBe(before);

    // With its own lease back, the same batch goes through.
    await admin.set(Keys.partitionLease(p), a.leases.fence(p)?.value ?? 'lost');
    await a.router.handleBatch([entry]);
    expect(await admin.xlen(Streams.route(q))).toBe(before + 1);
  });

  it('a router that leaves cleanly hands its partitions over at once, not after the lease TTL', async () => {
    const [a, b] = [join('router-a'), join('router-b')];
    await Promise.all([a.leases.start(), b.leases.start()]);
    await until(members, () => isDisjointCover([a, b], P), 'two routers to cover all partitions');
    const fromA = [...a.leases.held];
    const left = Date.now();
    await a.leases.stop();
    expect(a.leases.held).toEqual([]);
    for (const p of fromA) expect((await admin.get(Keys.partitionLease(p))) ?? '').not.toContain('router-a:');
    expect(await admin.zscore(Keys.routers(), 'router-a')).toBeNull();
    await until(members, () => isDisjointCover([b], P), 'b to hold every partition');
    expect(Date.now() - left).toBeLessThan(TIMINGS.leaseTtlMs);
  });
});
