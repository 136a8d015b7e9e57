import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Groups, Streams } from '@switchboard/protocol';
import {
  BusClosedError,
  BusOverflowError,
  type Bus,
  type BusEntry,
  type ConsumeOptions,
  type Consumer,
} from './bus.js';

/** What a driver's test file gives the contract suite. */
export interface BusHarness {
  /** A bus over storage that starts empty for this harness; several calls share that storage. */
  open(options?: { readonly maxLength?: number }): Promise<Bus>;
  /** Kills the backing server as a crash would (no clean shutdown) and starts it on the same data (durable drivers only). */
  readonly restart?: () => Promise<void>;
  /** Closes every bus it opened. */
  dispose(): Promise<void>;
}

export interface BusCapabilities {
  /** The driver keeps its data across a server restart: registers the restart cases; the harness must have `restart`. */
  readonly durable: boolean;
}

/** Collects what a consumer is handed and lets a test await a count instead of sleeping. */
class Inbox {
  readonly entries: BusEntry[] = [];
  private readonly waiters: { readonly count: number; readonly resolve: () => void }[] = [];

  readonly handler = (batch: readonly BusEntry[]): Promise<void> => {
    this.entries.push(...batch);
    for (const waiter of [...this.waiters]) {
      if (this.entries.length >= waiter.count) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    return Promise.resolve();
  };

  /** Resolves once `count` entries have arrived in all; rejects after `ms` as a safety net. */
  async until(count: number, ms = 10_000): Promise<BusEntry[]> {
    if (this.entries.length < count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`waited for ${count} entries, got ${this.entries.length}`)),
          ms,
        );
        this.waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    }
    return this.entries;
  }

  payloads(stream?: string): string[] {
    return this.entries.filter((e) => stream === undefined || e.stream === stream).map((e) => e.payload);
  }
}

const range = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/**
 * The behaviour every Bus driver must have. Register it once per driver:
 * `busContract('memory', async () => harness, { durable: false })`.
 */
export function busContract(
  name: string,
  factory: () => Promise<BusHarness>,
  capabilities: BusCapabilities,
): void {
  describe(`Bus contract: ${name}`, () => {
    let harness: BusHarness;
    let bus: Bus;
    const consumers: Consumer[] = [];
    const consume = (
      options: Partial<ConsumeOptions> & Pick<ConsumeOptions, 'streams' | 'handler'>,
    ): Consumer => {
      const consumer = bus.consume({ group: Groups.router, consumer: 'router-1', blockMs: 100, ...options });
      consumers.push(consumer);
      return consumer;
    };

    beforeEach(async () => {
      harness = await factory();
      bus = await harness.open();
    });

    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
      await harness.dispose();
    });

    const route0 = Streams.route(0);
    const route1 = Streams.route(1);

    it('delivers the entries of each stream in publish order across many batches', async () => {
      const a = range(600, 'a');
      const b = range(600, 'b');
      const ids: string[] = [];
      for (let i = 0; i < 600; i += 50) {
        const batch = [...a.slice(i, i + 50), ...b.slice(i, i + 50)].map((payload) => ({
          stream: payload.startsWith('a') ? route0 : route1,
          payload,
        }));
        ids.push(...(await bus.publishBatch(batch)));
      }
      expect(ids).toHaveLength(1200);
      const inbox = new Inbox();
      consume({ streams: [route0, route1], batchSize: 64, handler: inbox.handler });
      await inbox.until(1200);
      expect(inbox.payloads(route0)).toEqual(a);
      expect(inbox.payloads(route1)).toEqual(b);
      const route0Ids = inbox.entries.filter((e) => e.stream === route0).map((e) => e.id);
      expect(route0Ids).toEqual(ids.filter((_, i) => Math.floor(i / 50) % 2 === 0));
    });

    it('wakes a waiting consumer when an entry is published', async () => {
      const inbox = new Inbox();
      consume({ streams: [route0], handler: inbox.handler });
      await bus.publish(route0, 'first');
      await inbox.until(1);
      await bus.publish(route0, 'second');
      await inbox.until(2);
      expect(inbox.payloads()).toEqual(['first', 'second']);
    });

    it('shares the work of one group between two consumers without duplicates', async () => {
      const payloads = range(300, 'm');
      await bus.ensureGroup(route0, Groups.router);
      await bus.publishBatch(payloads.map((payload) => ({ stream: route0, payload })));
      const all = new Inbox();
      const byConsumer = new Map<string, number>();
      for (const name of ['router-1', 'router-2']) {
        consume({
          streams: [route0],
          consumer: name,
          batchSize: 10,
          handler: async (batch) => {
            byConsumer.set(name, (byConsumer.get(name) ?? 0) + batch.length);
            await all.handler(batch);
            // Hands the turn to the other consumer, as real work would.
            await new Promise((resolve) => setTimeout(resolve, 2));
          },
        });
      }
      await all.until(300);
      expect([...all.payloads()].sort()).toEqual([...payloads].sort());
      expect(new Set(all.entries.map((e) => e.id)).size).toBe(300);
      expect(byConsumer.get('router-1')).toBeGreaterThan(0);
      expect(byConsumer.get('router-2')).toBeGreaterThan(0);
    });

    it('lets another consumer claim what a dead consumer read but never acked', async () => {
      const payloads = range(5, 'x');
      await bus.publishBatch(payloads.map((payload) => ({ stream: route0, payload })));
      const inbox = new Inbox();
      const dead = consume({
        streams: [route0],
        consumer: 'router-1',
        autoAck: false,
        handler: inbox.handler,
      });
      await inbox.until(5);
      await dead.stop();

      const before = await bus.pending(route0, Groups.router);
      expect(before.count).toBe(5);
      expect(before.consumers).toEqual({ 'router-1': 5 });
      expect(await bus.claimStale(route0, Groups.router, 'router-2', 60_000, 100)).toEqual([]);

      const claimed = await bus.claimStale(route0, Groups.router, 'router-2', 0, 100);
      expect(claimed.map((e) => e.payload)).toEqual(payloads);
      expect(claimed.map((e) => e.id)).toEqual(inbox.entries.map((e) => e.id));
      expect((await bus.pending(route0, Groups.router)).consumers).toEqual({ 'router-2': 5 });

      expect(await bus.ackEntries(Groups.router, claimed)).toBe(5);
      expect((await bus.pending(route0, Groups.router)).count).toBe(0);
    });

    it('removes consumers that have nothing pending and are not kept, never one with pending entries', async () => {
      await bus.publishBatch(range(3, 'd').map((payload) => ({ stream: route0, payload })));
      const inbox = new Inbox();
      const dead = consume({
        streams: [route0],
        consumer: 'router-1',
        autoAck: false,
        handler: inbox.handler,
      });
      await inbox.until(3);
      await dead.stop();
      // router-1 still has three entries pending: it stays.
      expect(await bus.removeConsumers(route0, Groups.router, () => false)).toEqual([]);
      const claimed = await bus.claimStale(route0, Groups.router, 'router-2', 0, 100);
      await bus.ackEntries(Groups.router, claimed);
      // Now router-1 has nothing pending; router-2 is kept as live.
      expect(await bus.removeConsumers(route0, Groups.router, (name) => name === 'router-2')).toEqual([
        'router-1',
      ]);
      expect(await bus.removeConsumers(route0, Groups.router, (name) => name === 'router-2')).toEqual([]);
      expect(await bus.removeConsumers('no-such-stream', Groups.router, () => false)).toEqual([]);
    });

    it('claims at most `count` stale entries, oldest first', async () => {
      await bus.publishBatch(range(6, 'y').map((payload) => ({ stream: route0, payload })));
      const inbox = new Inbox();
      const dead = consume({ streams: [route0], autoAck: false, handler: inbox.handler });
      await inbox.until(6);
      await dead.stop();
      const first = await bus.claimStale(route0, Groups.router, 'router-2', 0, 4);
      expect(first.map((e) => e.payload)).toEqual(['y0', 'y1', 'y2', 'y3']);
    });

    it('gives a restarted consumer with the same name its pending entries before new ones', async () => {
      await bus.publishBatch(range(4, 'old').map((payload) => ({ stream: route0, payload })));
      const first = new Inbox();
      const crashed = consume({ streams: [route0], autoAck: false, handler: first.handler });
      await first.until(4);
      await crashed.stop();
      await bus.publishBatch(range(3, 'new').map((payload) => ({ stream: route0, payload })));

      const again = new Inbox();
      consume({ streams: [route0], handler: again.handler, batchSize: 2 });
      await again.until(7);
      expect(again.payloads()).toEqual([...range(4, 'old'), ...range(3, 'new')]);
      expect(again.entries.slice(0, 4).map((e) => e.id)).toEqual(first.entries.map((e) => e.id));
      await expect.poll(() => bus.pending(route0, Groups.router).then((p) => p.count)).toBe(0);
    });

    it('removes acked entries from pending and counts only those that were pending', async () => {
      await bus.publishBatch(range(3, 'p').map((payload) => ({ stream: route0, payload })));
      const inbox = new Inbox();
      consume({ streams: [route0], autoAck: false, handler: inbox.handler });
      const [one, two, three] = await inbox.until(3);
      expect((await bus.pending(route0, Groups.router)).count).toBe(3);
      expect(await bus.ack(route0, Groups.router, [one!.id, two!.id])).toBe(2);
      expect(await bus.ack(route0, Groups.router, [one!.id])).toBe(0);
      const left = await bus.pending(route0, Groups.router);
      expect(left).toEqual({
        count: 1,
        smallestId: three!.id,
        largestId: three!.id,
        consumers: { 'router-1': 1 },
      });
    });

    it('acks a batch once the handler resolves', async () => {
      const inbox = new Inbox();
      consume({ streams: [route0, route1], handler: inbox.handler });
      await bus.publishBatch([
        { stream: route0, payload: 'a' },
        { stream: route1, payload: 'b' },
      ]);
      await inbox.until(2);
      await expect.poll(() => bus.pending(route0, Groups.router).then((p) => p.count)).toBe(0);
      await expect.poll(() => bus.pending(route1, Groups.router).then((p) => p.count)).toBe(0);
    });

    it('hands a batch whose handler threw to the handler again, in order, and reports the error', async () => {
      await bus.publishBatch(range(3, 'r').map((payload) => ({ stream: route0, payload })));
      const errors: unknown[] = [];
      const seen: string[][] = [];
      let failures = 1;
      const done = new Inbox();
      consume({
        streams: [route0],
        retryDelayMs: 10,
        onError: (error) => errors.push(error),
        handler: async (batch) => {
          seen.push(batch.map((e) => e.payload));
          if (failures-- > 0) throw new Error('store unavailable');
          await done.handler(batch);
        },
      });
      await done.until(3);
      expect(seen[0]).toEqual(['r0', 'r1', 'r2']);
      expect(seen[1]).toEqual(['r0', 'r1', 'r2']);
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe('store unavailable');
      await expect.poll(() => bus.pending(route0, Groups.router).then((p) => p.count)).toBe(0);
    });

    it('trims only the entries every group has acked', async () => {
      const fast = Groups.router;
      const slow = Groups.edge;
      await bus.ensureGroup(route0, fast);
      await bus.ensureGroup(route0, slow);
      await bus.publishBatch(range(10, 't').map((payload) => ({ stream: route0, payload })));
      expect(await bus.trim(route0)).toBe(0);

      const fastInbox = new Inbox();
      consume({ streams: [route0], group: fast, handler: fastInbox.handler });
      await fastInbox.until(10);
      await expect.poll(() => bus.pending(route0, fast).then((p) => p.count)).toBe(0);
      expect(await bus.trim(route0)).toBe(0);
      expect(await bus.length(route0)).toBe(10);

      const slowInbox = new Inbox();
      consume({
        streams: [route0],
        group: slow,
        consumer: 'edge-1',
        autoAck: false,
        handler: slowInbox.handler,
      });
      const read = await slowInbox.until(10);
      expect(
        await bus.ack(
          route0,
          slow,
          read.slice(0, 4).map((e) => e.id),
        ),
      ).toBe(4);
      expect(await bus.trim(route0)).toBe(4);
      expect(await bus.length(route0)).toBe(6);

      await bus.ackEntries(slow, read.slice(4));
      expect(await bus.trim(route0)).toBe(6);
      expect(await bus.length(route0)).toBe(0);
    });

    it('does not trim a stream that has no group', async () => {
      await bus.publish(route0, 'kept');
      expect(await bus.trim(route0)).toBe(0);
      expect(await bus.length(route0)).toBe(1);
    });

    it('keeps a stream under its cap while a group lags, rejecting publishes and losing nothing', async () => {
      const capped = await harness.open({ maxLength: 20 });
      const deliver = Streams.deliver('edge-1');
      await capped.ensureGroup(deliver, Groups.edge);
      await capped.ensureGroup(deliver, 'audit');
      const inbox = new Inbox();
      const fast = capped.consume({
        streams: [deliver],
        group: Groups.edge,
        consumer: 'edge-1',
        blockMs: 100,
        handler: inbox.handler,
      });
      consumers.push(fast);

      const accepted: string[] = [];
      let overflow: unknown;
      for (let i = 0; i < 40 && overflow === undefined; i++) {
        try {
          await capped.publish(deliver, `d${i}`);
          accepted.push(`d${i}`);
        } catch (error) {
          overflow = error;
        }
      }
      expect(overflow).toBeInstanceOf(BusOverflowError);
      expect((overflow as Error).name).toBe('BusOverflowError');
      expect(accepted).toHaveLength(20);
      expect(await capped.length(deliver)).toBe(20);
      await inbox.until(20);
      await expect.poll(() => capped.pending(deliver, Groups.edge).then((p) => p.count)).toBe(0);

      // All or nothing: a batch that does not fit appends nothing.
      await expect(
        capped.publishBatch([
          { stream: route0, payload: 'other' },
          { stream: deliver, payload: 'late' },
        ]),
      ).rejects.toBeInstanceOf(BusOverflowError);
      expect(await capped.length(deliver)).toBe(20);
      expect(await capped.length(route0)).toBe(0);

      const lagging = new Inbox();
      consumers.push(
        capped.consume({
          streams: [deliver],
          group: 'audit',
          consumer: 'audit-1',
          blockMs: 100,
          handler: lagging.handler,
        }),
      );
      await lagging.until(20);
      expect(lagging.payloads()).toEqual(accepted);
      await expect.poll(() => capped.pending(deliver, 'audit').then((p) => p.count)).toBe(0);

      await capped.publish(deliver, 'after');
      expect(await capped.length(deliver)).toBeLessThanOrEqual(20);
      await lagging.until(21);
      expect(lagging.payloads().at(-1)).toBe('after');
    });

    it('reads the streams given to setStreams from then on', async () => {
      const inbox = new Inbox();
      const consumer = consume({ streams: [route0], handler: inbox.handler });
      await bus.ensureGroup(route1, Groups.router);
      await bus.publish(route1, 'b-before');
      await bus.publish(route0, 'a-before');
      await inbox.until(1);
      expect(inbox.payloads()).toEqual(['a-before']);

      consumer.setStreams([route1]);
      expect(consumer.streams).toEqual([route1]);
      await inbox.until(2);
      expect(inbox.payloads(route1)).toEqual(['b-before']);

      await bus.publish(route0, 'a-after');
      await bus.publish(route1, 'b-after');
      await inbox.until(3);
      expect(inbox.payloads()).toEqual(['a-before', 'b-before', 'b-after']);
    });

    it('applies setStreams at once even while a read is blocked', async () => {
      const inbox = new Inbox();
      const consumer = consume({ streams: [route0], blockMs: 10_000, handler: inbox.handler });
      await bus.publish(route0, 'warm-up');
      await inbox.until(1);
      await expect.poll(() => bus.pending(route0, Groups.router).then((p) => p.count)).toBe(0);
      await bus.ensureGroup(route1, Groups.router);
      const started = Date.now();
      consumer.setStreams([route0, route1]);
      await bus.publish(route1, 'moved');
      await inbox.until(2, 5_000);
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('stops promptly while a read is blocked', async () => {
      const inbox = new Inbox();
      const consumer = consume({ streams: [route0], blockMs: 10_000, handler: inbox.handler });
      await bus.publish(route0, 'warm-up');
      await inbox.until(1);
      // Acked means the loop has gone back to its blocking read.
      await expect.poll(() => bus.pending(route0, Groups.router).then((p) => p.count)).toBe(0);
      const started = Date.now();
      await consumer.stop();
      expect(Date.now() - started).toBeLessThan(1_000);
      await bus.publish(route0, 'unread');
      expect(await bus.length(route0)).toBe(2);
      expect((await bus.pending(route0, Groups.router)).count).toBe(0);
    });

    it('lets a running handler finish and acks its batch when stopped', async () => {
      await bus.publish(route0, 'slow');
      let release: () => void = () => undefined;
      let entered: () => void = () => undefined;
      const inHandler = new Promise<void>((resolve) => (entered = resolve));
      const consumer = consume({
        streams: [route0],
        handler: () => {
          entered();
          return new Promise<void>((resolve) => (release = resolve));
        },
      });
      await inHandler;
      const stopped = consumer.stop();
      release();
      await stopped;
      expect((await bus.pending(route0, Groups.router)).count).toBe(0);
    });

    it('reports zero for streams and groups that do not exist', async () => {
      expect(await bus.length('nowhere')).toBe(0);
      expect(await bus.trim('nowhere')).toBe(0);
      expect(await bus.pending('nowhere', Groups.router)).toEqual({
        count: 0,
        smallestId: null,
        largestId: null,
        consumers: {},
      });
      expect(await bus.claimStale(route0, 'nobody', 'x', 0, 10)).toEqual([]);
    });

    it('starts a group created with "$" after what is already in the stream', async () => {
      await bus.publish(route0, 'before');
      await bus.ensureGroup(route0, Groups.service, '$');
      await bus.ensureGroup(route0, Groups.service, '0');
      const inbox = new Inbox();
      consume({ streams: [route0], group: Groups.service, handler: inbox.handler });
      await bus.publish(route0, 'after');
      await inbox.until(1);
      expect(inbox.payloads()).toEqual(['after']);
    });

    it('rejects use after close with BusClosedError and closes its consumers', async () => {
      const own = await harness.open();
      const consumer = own.consume({
        streams: [route0],
        group: Groups.router,
        consumer: 'c',
        blockMs: 10_000,
        handler: () => Promise.resolve(),
      });
      await own.close();
      await own.close();
      await consumer.stop();
      await expect(own.publish(route0, 'late')).rejects.toMatchObject({ name: 'BusClosedError' });
      await expect(own.length(route0)).rejects.toBeInstanceOf(BusClosedError);
    });

    if (capabilities.durable) {
      const restart = async (): Promise<void> => {
        if (harness.restart === undefined) throw new Error(`${name} declares durable but has no restart()`);
        await harness.restart();
      };

      it('loses nothing published or pending across a server restart', async () => {
        await bus.ensureGroup(route0, Groups.router);
        const payloads = range(500, 'n');
        for (let i = 0; i < 500; i += 100) {
          await bus.publishBatch(payloads.slice(i, i + 100).map((payload) => ({ stream: route0, payload })));
        }
        const before = new Inbox();
        const crashed = consume({
          streams: [route0],
          autoAck: false,
          batchSize: 10,
          handler: before.handler,
        });
        await before.until(10);
        await crashed.stop();

        await restart();

        const after = new Inbox();
        consume({ streams: [route0], batchSize: 100, handler: after.handler });
        await after.until(500);
        expect(after.payloads()).toEqual(payloads);
        await expect.poll(() => bus.pending(route0, Groups.router).then((p) => p.count)).toBe(0);
      });

      it('keeps a consumer reading after a server restart', async () => {
        const inbox = new Inbox();
        consume({ streams: [route0], handler: inbox.handler, onError: () => undefined });
        await bus.publishBatch(range(5, 'pre').map((payload) => ({ stream: route0, payload })));
        await inbox.until(5);

        await restart();

        await bus.publishBatch(range(5, 'post').map((payload) => ({ stream: route0, payload })));
        await inbox.until(10);
        expect(inbox.payloads()).toEqual([...range(5, 'pre'), ...range(5, 'post')]);
      });
    }
  });
}
