import { describe, expect, it } from 'vitest';
import { createMemoryBus } from './memory.js';
import { busContract } from './bus.contract.js';
import type { Bus, BusEntry } from './bus.js';

busContract(
  'memory',
  () => {
    const opened: Bus[] = [];
    return Promise.resolve({
      open(options = {}) {
        const bus = createMemoryBus(options);
        opened.push(bus);
        return Promise.resolve(bus);
      },
      async dispose() {
        await Promise.all(opened.map((bus) => bus.close()));
      },
    });
  },
  { durable: false },
);

describe('memory driver: trimOnAck', () => {
  const stream = 'route:{0}';
  const read = async (bus: Bus, count: number): Promise<BusEntry[]> => {
    const got: BusEntry[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const consumer = bus.consume({
      streams: [stream],
      group: 'router',
      consumer: 'r1',
      autoAck: false,
      handler: (entries) => {
        got.push(...entries);
        if (got.length >= count) done();
        return Promise.resolve();
      },
    });
    await all;
    await consumer.stop();
    return got;
  };

  it('drops acked entries at once when every group is done with them, and keeps unacked ones', async () => {
    const bus = createMemoryBus({ trimOnAck: true });
    await bus.publishBatch(['a', 'b', 'c'].map((payload) => ({ stream, payload })));
    const entries = await read(bus, 3);
    expect(await bus.length(stream)).toBe(3);
    // Acking out of order trims only the prefix that no group still needs.
    await bus.ack(stream, 'router', [entries[1]!.id]);
    expect(await bus.length(stream)).toBe(3);
    await bus.ack(stream, 'router', [entries[0]!.id]);
    expect(await bus.length(stream)).toBe(1);
    expect((await bus.claimStale(stream, 'router', 'r2', 0, 10)).map((e) => e.payload)).toEqual(['c']);
    await bus.ack(stream, 'router', [entries[2]!.id]);
    expect(await bus.length(stream)).toBe(0);
    await bus.close();
  });

  it('keeps acked entries until trim() without it', async () => {
    const bus = createMemoryBus();
    await bus.publishBatch(['a', 'b'].map((payload) => ({ stream, payload })));
    const entries = await read(bus, 2);
    await bus.ack(
      stream,
      'router',
      entries.map((e) => e.id),
    );
    expect(await bus.length(stream)).toBe(2);
    expect(await bus.trim(stream)).toBe(2);
    expect(await bus.length(stream)).toBe(0);
    await bus.close();
  });
});
