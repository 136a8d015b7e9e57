import { queueContract } from './queue.contract.js';
import { createMemoryQueue } from './memory.js';

queueContract('in-process', (options) => Promise.resolve(createMemoryQueue(options)));
