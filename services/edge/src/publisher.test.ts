import { describe, expect, it } from 'vitest';
import { createMemoryBus, type Bus, type PublishItem } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import { BatchPublisher } from './publisher.js';

/** The memory bus, recording each publishBatch call it serves. */
function recordingBus(): { bus: Bus; batches: PublishItem[][] } {
  const inner = createMemoryBus();
  const batches: PublishItem[][] = [];
  const bus: Bus = {
    ...inner,
    publishBatch: (items) => {
      batches.push([...items]);
      return inner.publishBatch(items);
    },
  };
  return { bus, batches };
}

const logger = createLogger({ service: 'edge-test', level: 'silent' });

describe('BatchPublisher', () => {
  it('sends everything queued in one event-loop turn with a single publishBatch, in order', async () => {
    const { bus, batches } = recordingBus();
    const publisher = new BatchPublisher(bus, logger);
    for (let i = 0; i < 50; i++) publisher.enqueue(`route:{${i % 3}}`, `e${i}`);
    await publisher.flushed();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((item) => item.payload)).toEqual(Array.from({ length: 50 }, (_, i) => `e${i}`));
    expect(await bus.length('route:{0}')).toBe(17);
  });

  it('keeps order across batches while one is in flight', async () => {
    const { bus, batches } = recordingBus();
    const publisher = new BatchPublisher(bus, logger);
    publisher.enqueue('s', 'a');
    await new Promise((resolve) => setImmediate(resolve));
    publisher.enqueue('s', 'b');
    publisher.enqueue('s', 'c');
    await publisher.flushed();
    expect(batches.flat().map((item) => item.payload)).toEqual(['a', 'b', 'c']);
  });
});
