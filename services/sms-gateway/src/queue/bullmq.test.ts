import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import type { OutboundQueue, QueueOptions } from './queue.js';
import { bullJobId, createBullQueue } from './bullmq.js';
import { counter, job, queueContract } from './queue.contract.js';

let server: RedisServer;
const opened: OutboundQueue[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await Promise.all(opened.map((q) => q.close()));
  await server.dispose();
});

function open(options: QueueOptions & { name?: string }): OutboundQueue {
  const queue = createBullQueue({
    ...options,
    name: options.name ?? `q-${randomUUID()}`,
    connection: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null },
  });
  opened.push(queue);
  return queue;
}

queueContract('bullmq', (options) => Promise.resolve(open(options)));

describe('bullmq queue', () => {
  it('loses and duplicates nothing when the worker restarts with jobs queued', async () => {
    const name = `restart-${randomUUID()}`;
    const first = open({ name, concurrency: 1 });
    const sent: string[] = [];
    // The third job holds the first worker until the restart begins, so most jobs are still queued.
    const firstRuns = counter<string>(3);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await first.start(async (j) => {
      sent.push(j.id);
      firstRuns.hit(j.id);
      if (sent.length === 3) await held;
    });
    for (let i = 0; i < 10; i++) await first.enqueue(job(`m${i}`));
    await firstRuns.done;
    const closed = first.close();
    release();
    await closed;
    expect(sent.length).toBeLessThan(10);

    const second = open({ name, concurrency: 2 });
    // Redelivered stanzas after the restart add nothing.
    for (let i = 0; i < 10; i++) await second.enqueue(job(`m${i}`));
    const all = counter<string>(10 - sent.length);
    await second.start((j) => {
      sent.push(j.id);
      all.hit(j.id);
      return Promise.resolve();
    });
    await all.done;
    await second.close();
    expect([...sent].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  });

  it('maps ids BullMQ refuses to valid ones, stably', () => {
    expect(bullJobId('0f4e-uuid_like')).toBe('0f4e-uuid_like');
    expect(bullJobId('12345')).toMatch(/^h-[0-9a-f]{40}$/);
    expect(bullJobId('a:b')).toBe(bullJobId('a:b'));
    expect(bullJobId('a:b')).not.toBe(bullJobId('a:c'));
  });
});
