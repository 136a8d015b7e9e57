import { ProviderError } from '../providers/provider.js';
import {
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

export interface MemoryQueueOptions extends QueueOptions {
  /** Ids of finished jobs remembered for idempotency. Default 100 000. */
  readonly rememberIds?: number;
}

type State = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

interface Entry {
  readonly job: OutboundJob;
  state: State;
  attempts: number;
  timer?: NodeJS.Timeout | undefined;
  failure?: FailedJob;
}

/**
 * The embedded queue: the same contract as the BullMQ driver, in memory.
 * Jobs queued when the process stops are lost; the cluster uses BullMQ.
 */
export function createMemoryQueue(options: MemoryQueueOptions = {}): OutboundQueue {
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const rememberIds = options.rememberIds ?? 100_000;
  const entries = new Map<string, Entry>();
  const ready: Entry[] = [];
  const sentAt: number[] = [];
  let processor: JobProcessor | undefined;
  let events: QueueEvents = {};
  let active = 0;
  let closed = false;
  let rateTimer: NodeJS.Timeout | undefined;
  const idle = new Set<() => void>();

  function pump(): void {
    while (processor !== undefined && !closed && active < concurrency && ready.length > 0) {
      if (options.rateLimit !== undefined) {
        const now = Date.now();
        while (sentAt.length > 0 && sentAt[0]! <= now - options.rateLimit.durationMs) sentAt.shift();
        if (sentAt.length >= options.rateLimit.max) {
          if (rateTimer === undefined) {
            rateTimer = setTimeout(
              () => {
                rateTimer = undefined;
                pump();
              },
              sentAt[0]! + options.rateLimit.durationMs - now,
            );
          }
          return;
        }
        sentAt.push(now);
      }
      const entry = ready.shift()!;
      entry.state = 'active';
      entry.attempts++;
      active++;
      void run(processor, entry);
    }
  }

  async function run(process: JobProcessor, entry: Entry): Promise<void> {
    try {
      await process(entry.job);
      entry.state = 'completed';
      forgetOldest();
    } catch (error) {
      const unrecoverable = error instanceof ProviderError && !error.retryable;
      if (unrecoverable || entry.attempts >= attempts) {
        entry.state = 'failed';
        entry.failure = {
          job: entry.job,
          reason: error instanceof Error ? error.message : String(error),
          attempts: entry.attempts,
          unrecoverable,
        };
        events.failed?.(entry.failure);
      } else {
        entry.state = 'delayed';
        events.retrying?.(entry.job, error, entry.attempts);
        entry.timer = setTimeout(
          () => {
            entry.timer = undefined;
            entry.state = 'waiting';
            ready.push(entry);
            pump();
          },
          backoffMs * 2 ** (entry.attempts - 1),
        );
      }
    } finally {
      active--;
      if (active === 0) for (const resolve of idle) resolve();
      pump();
    }
  }

  /** Keeps idempotency memory bounded: the oldest completed ids go first (Map order is insertion order). */
  function forgetOldest(): void {
    if (entries.size <= rememberIds) return;
    for (const [id, entry] of entries) {
      if (entries.size <= rememberIds) break;
      if (entry.state === 'completed') entries.delete(id);
    }
  }

  function count(state: State): number {
    let n = 0;
    for (const entry of entries.values()) if (entry.state === state) n++;
    return n;
  }

  return {
    enqueue(job) {
      if (closed) return Promise.reject(new Error('queue is closed'));
      if (entries.has(job.id)) return Promise.resolve(false);
      const entry: Entry = { job, state: 'waiting', attempts: 0 };
      entries.set(job.id, entry);
      ready.push(entry);
      pump();
      return Promise.resolve(true);
    },
    start(process, handlers = {}) {
      processor = process;
      events = handlers;
      pump();
      return Promise.resolve();
    },
    failed(limit = 100) {
      const failures: FailedJob[] = [];
      for (const entry of entries.values()) if (entry.failure !== undefined) failures.push(entry.failure);
      return Promise.resolve(failures.reverse().slice(0, limit));
    },
    retry(id) {
      const entry = entries.get(id);
      if (entry?.state !== 'failed') return Promise.resolve(false);
      delete entry.failure;
      entry.state = 'waiting';
      entry.attempts = 0;
      // Re-inserted last so it is not the first id forgotten.
      entries.delete(id);
      entries.set(id, entry);
      ready.push(entry);
      pump();
      return Promise.resolve(true);
    },
    remove(id) {
      if (entries.get(id)?.state !== 'failed') return Promise.resolve(false);
      entries.delete(id);
      return Promise.resolve(true);
    },
    counts(): Promise<QueueCounts> {
      return Promise.resolve({
        waiting: count('waiting'),
        active: count('active'),
        delayed: count('delayed'),
        failed: count('failed'),
        completed: count('completed'),
      });
    },
    async close() {
      closed = true;
      if (rateTimer !== undefined) clearTimeout(rateTimer);
      for (const entry of entries.values()) if (entry.timer !== undefined) clearTimeout(entry.timer);
      if (active > 0) await new Promise<void>((resolve) => idle.add(resolve));
    },
  };
}
