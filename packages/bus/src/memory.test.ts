import { createMemoryBus } from './memory.js';
import { busContract } from './bus.contract.js';
import type { Bus } from './bus.js';

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
