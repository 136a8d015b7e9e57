export {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_CONCURRENCY,
  type FailedJob,
  type JobProcessor,
  type OutboundJob,
  type OutboundQueue,
  type QueueCounts,
  type QueueEvents,
  type QueueOptions,
} from './queue.js';
export { createMemoryQueue, type MemoryQueueOptions } from './memory.js';
export { bullJobId, createBullQueue, type BullQueueOptions } from './bullmq.js';
