export {
  BusClosedError,
  BusError,
  BusFencedError,
  BusOverflowError,
  DEFAULT_MAX_LENGTH,
  type Bus,
  type BusEntry,
  type ConsumeOptions,
  type Fence,
  type PublishOptions,
  type Consumer,
  type PendingSummary,
  type PublishItem,
} from './bus.js';
export { createMemoryBus, type MemoryBusOptions } from './memory.js';
export { createRedisBus, type RedisBusOptions } from './redis.js';
