export {
  BusClosedError,
  BusError,
  BusOverflowError,
  DEFAULT_MAX_LENGTH,
  type Bus,
  type BusEntry,
  type ConsumeOptions,
  type Consumer,
  type PendingSummary,
  type PublishItem,
} from './bus.js';
export { createMemoryBus, type MemoryBusOptions } from './memory.js';
export { createRedisBus, type RedisBusOptions } from './redis.js';
