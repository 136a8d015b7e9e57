import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Groups, Streams } from '@switchboard/protocol';
import { Inbox, startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { BusFencedError } from './bus.js';
import { createRedisBus } from './redis.js';
import { busContract } from './bus.contract.js';
import type { Bus, BusEntry } from './bus.js';

let server: RedisServer;
let harnesses = 0;

beforeAll(async () => {
  server = await startRedisServer({ appendOnly: true });
  // The restart cases below rely on these: every acknowledged write is in the AOF before the reply.
  const admin = new Redis(server.url);
  try {
    expect(await admin.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await admin.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
  } finally {
    admin.disconnect();
  }
});

afterAll(async () => {
  await server.dispose();
});

busContract(
  'redis',
  () => {
    // A fresh key prefix per test keeps tests apart on one server without FLUSHALL.
    const keyPrefix = `test${++harnesses}:`;
    const opened: Bus[] = [];
    return Promise.resolve({
      open(options = {}) {
        const bus = createRedisBus({
          url: server.url,
          keyPrefix,
          ...options,
          redis: { retryStrategy: () => 20 },
          onConnectionError: () => undefined,
        });
        opened.push(bus);
        return Promise.resolve(bus);
      },
      async restart() {
        // SIGKILL, as a crash: redis-server gets no chance to flush (it would on SIGTERM), so only
        // the AOF written as each command was acknowledged (appendfsync always) brings the data back.
        await server.kill();
        await server.start();
      },
      async dispose() {
        await Promise.all(opened.map((bus) => bus.close()));
      },
    });
  },
  { durable: true },
);

describe('Redis bus: fenced publish', () => {
  it('appends when every fence holds and refuses the whole batch, appending nothing, when one does not', async () => {
    const bus = createRedisBus({ url: server.url, keyPrefix: 'fenced:' });
    const redis = new Redis(server.url);
    try {
      await redis.set('fenced-test:lease:{0}', 'router-a:7');
      await redis.set('fenced-test:lease:{1}', 'router-a:3');
      const fences = [
        { key: 'fenced-test:lease:{0}', value: 'router-a:7' },
        { key: 'fenced-test:lease:{1}', value: 'router-a:3' },
      ];
      const ids = await bus.publishBatch(
        [
          { stream: 'deliver:{e1}', payload: 'one' },
          { stream: 'route:{2}', payload: 'two' },
        ],
        { fences },
      );
      expect(ids).toHaveLength(2);
      expect(await bus.length('deliver:{e1}')).toBe(1);
      expect(await bus.length('route:{2}')).toBe(1);

      // Another router took partition 1 over with a newer token: the old owner's effects are refused.
      await redis.set('fenced-test:lease:{1}', 'router-b:4');
      await expect(
        bus.publishBatch(
          [
            { stream: 'deliver:{e1}', payload: 'three' },
            { stream: 'route:{2}', payload: 'four' },
          ],
          { fences },
        ),
      ).rejects.toBeInstanceOf(BusFencedError);
      expect(await bus.length('deliver:{e1}')).toBe(1);
      expect(await bus.length('route:{2}')).toBe(1);

      // An expired lease (key gone) does not hold either.
      await redis.del('fenced-test:lease:{0}');
      await expect(
        bus.publishBatch([{ stream: 'deliver:{e1}', payload: 'five' }], { fences: [fences[0]!] }),
      ).rejects.toMatchObject({ name: 'BusFencedError', key: 'fenced-test:lease:{0}' });
    } finally {
      redis.disconnect();
      await bus.close();
    }
  });
});

describe('Redis bus: a consumer whose connections die', () => {
  it('leaves what it read pending, for another consumer to claim, and loses nothing', async () => {
    const keyPrefix = 'dead-consumer:';
    const route0 = Streams.route(0);
    // The doomed process: its connections are named so they can be found, and never come back.
    const doomed = createRedisBus({
      url: server.url,
      keyPrefix,
      redis: { connectionName: 'doomed', retryStrategy: () => null },
      onConnectionError: () => undefined,
    });
    const survivor = createRedisBus({ url: server.url, keyPrefix });
    const admin = new Redis(server.url);
    try {
      const payloads = Array.from({ length: 5 }, (_, i) => `x${i}`);
      await survivor.publishBatch(payloads.map((payload) => ({ stream: route0, payload })));
      const read = new Inbox<BusEntry>();
      const errors = new Inbox<unknown>();
      const dead = doomed.consume({
        streams: [route0],
        group: Groups.router,
        consumer: 'router-1',
        autoAck: false,
        blockMs: 10_000,
        retryDelayMs: 10,
        onError: (error) => errors.push(error),
        handler: (batch) => {
          for (const entry of batch) read.push(entry);
          return Promise.resolve();
        },
      });
      await read.waitFor(() => read.items.length === 5, 'the doomed consumer to read 5 entries');

      // Cut every connection of the doomed bus, its blocked reader's included.
      const clients = String(await admin.client('LIST'))
        .split('\n')
        .filter((line) => / name=doomed /.test(line))
        .map((line) => /^id=(\d+) /.exec(line)![1]!);
      expect(clients.length).toBeGreaterThanOrEqual(2);
      for (const id of clients) await admin.client('KILL', 'ID', id);
      await errors.waitFor(() => true, 'the doomed consumer to see its connection gone');
      expect(String(await admin.client('LIST'))).not.toMatch(/ name=doomed /);

      await survivor.publishBatch([
        { stream: route0, payload: 'y0' },
        { stream: route0, payload: 'y1' },
      ]);
      const before = await survivor.pending(route0, Groups.router);
      expect(before.consumers).toEqual({ 'router-1': 5 });

      const claimed = await survivor.claimStale(route0, Groups.router, 'router-2', 0, 100);
      expect(claimed.map((e) => e.payload)).toEqual(payloads);
      expect(claimed.map((e) => e.id)).toEqual(read.items.map((e) => e.id));
      expect((await survivor.pending(route0, Groups.router)).consumers).toEqual({ 'router-2': 5 });
      expect(await survivor.ackEntries(Groups.router, claimed)).toBe(5);

      // What was published after the death is read as new by the survivor: nothing lost, nothing twice.
      const rest = new Inbox<BusEntry>();
      const live = survivor.consume({
        streams: [route0],
        group: Groups.router,
        consumer: 'router-2',
        blockMs: 100,
        handler: (batch) => {
          for (const entry of batch) rest.push(entry);
          return Promise.resolve();
        },
      });
      await rest.waitFor(() => rest.items.length === 2, 'the survivor to read the 2 later entries');
      expect(rest.items.map((e) => e.payload)).toEqual(['y0', 'y1']);
      await live.stop();
      expect((await survivor.pending(route0, Groups.router)).count).toBe(0);
      await dead.stop();
    } finally {
      admin.disconnect();
      await doomed.close();
      await survivor.close();
    }
  });
});

describe('Redis bus: trim', () => {
  it('trims exactly past what a group acked when ids have sequence numbers beyond 2^53', async () => {
    const bus = createRedisBus({ url: server.url, keyPrefix: 'trim-big-seq:' });
    const redis = new Redis(server.url);
    const stream = 'big';
    const name = `trim-big-seq:${stream}`;
    try {
      // Explicit ids: 5-9007199254740993 is not a double; 5-18446744073709551615 is the largest seq.
      for (const id of ['5-9007199254740992', '5-9007199254740993', '5-18446744073709551615', '6-0']) {
        await redis.xadd(name, id, 'p', id);
      }
      await redis.xgroup('CREATE', name, 'g', '5-9007199254740992');
      expect(await bus.trim(stream)).toBe(1);
      expect(await redis.xrange(name, '-', '+')).toHaveLength(3);
      await redis.xgroup('SETID', name, 'g', '5-18446744073709551615');
      expect(await bus.trim(stream)).toBe(2);
      expect((await redis.xrange(name, '-', '+')).map(([id]) => id)).toEqual(['6-0']);
    } finally {
      redis.disconnect();
      await bus.close();
    }
  });
});
