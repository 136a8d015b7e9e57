import {
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
import { ConsumerLoop, type RawEntry, type ReadPort } from './consumer-loop.js';
import {
  ZERO_ID,
  compareStreamIds,
  formatStreamId,
  nextStreamId,
  parseStreamId,
  type StreamId,
} from './stream-id.js';

export interface MemoryBusOptions {
  /** Cap on entries per stream; see {@link BusOverflowError}. Default {@link DEFAULT_MAX_LENGTH}. */
  readonly maxLength?: number;
  /**
   * Trim a stream as soon as an ack leaves a prefix every group is done with, instead of only on
   * {@link Bus.trim} or when the stream reaches its cap. An embedded server wants this: an entry
   * then dies young, with the stanza it carried, instead of living until the next periodic trim
   * (1 s in the standalone) and being promoted to the old generation. A group created later from
   * '0' sees only what is still pending, as it would after {@link Bus.trim}. Default false.
   */
  readonly trimOnAck?: boolean;
}

interface StoredEntry {
  readonly id: StreamId;
  readonly text: string;
  readonly payload: string;
}

interface PendingEntry {
  readonly entry: StoredEntry;
  consumer: string;
  deliveredAt: number;
  deliveries: number;
}

interface Group {
  lastDelivered: StreamId;
  /**
   * Pending entries by id. Map order is id order: entries only join through
   * reads of ids above `lastDelivered`, which is above every pending id.
   */
  readonly pending: Map<string, PendingEntry>;
  /** Consumers that ever read or claimed in this group, as Redis keeps them until DELCONSUMER. */
  readonly consumers: Set<string>;
}

/** Compacting the array only when the dead prefix is large keeps trimming O(1) amortized. */
const COMPACT_AT = 1024;

class MemoryStream {
  /** Live entries are `entries[head…]`; the slots before `head` are cleared. */
  entries: (StoredEntry | undefined)[] = [];
  head = 0;
  lastId: StreamId = ZERO_ID;
  readonly groups = new Map<string, Group>();
  readonly waiters = new Set<() => void>();

  get length(): number {
    return this.entries.length - this.head;
  }

  append(payload: string): string {
    const now = Date.now();
    const id = now > this.lastId.ms ? { ms: now, seq: 0 } : nextStreamId(this.lastId);
    this.lastId = id;
    const text = formatStreamId(id);
    this.entries.push({ id, text, payload });
    return text;
  }

  /** Index of the first live entry with an id above `id`. */
  indexAfter(id: StreamId): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareStreamIds(this.entries[mid]!.id, id) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  trim(): number {
    let min: StreamId | undefined;
    for (const group of this.groups.values()) {
      const first = group.pending.values().next();
      const keep = first.done === true ? nextStreamId(group.lastDelivered) : first.value.entry.id;
      if (min === undefined || compareStreamIds(keep, min) < 0) min = keep;
    }
    if (min === undefined) return 0;
    const before = this.head;
    // Clear each slot as the head passes it: a trimmed entry must not stay reachable from this
    // long-lived array until the next compaction (it would survive scavenges and be promoted).
    while (this.head < this.entries.length && compareStreamIds(this.entries[this.head]!.id, min) < 0)
      this.entries[this.head++] = undefined;
    const removed = this.head - before;
    if (this.head >= COMPACT_AT && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return removed;
  }

  wakeReaders(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}

/**
 * The in-process driver, for embedded mode and tests: the same semantics as
 * the Redis driver (it passes the same contract suite), without persistence.
 * Consumers are woken by publish, never by polling.
 */
export function createMemoryBus(options: MemoryBusOptions = {}): Bus {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  const trimOnAck = options.trimOnAck ?? false;
  const streams = new Map<string, MemoryStream>();
  const consumers = new Set<Consumer>();
  let closed = false;

  const check = (): void => {
    if (closed) throw new BusClosedError();
  };
  const streamOf = (name: string): MemoryStream => {
    let stream = streams.get(name);
    if (stream === undefined) {
      stream = new MemoryStream();
      streams.set(name, stream);
    }
    return stream;
  };
  const groupOf = (name: string, group: string): Group => {
    const found = streams.get(name)?.groups.get(group);
    if (found === undefined) throw new BusError(`NOGROUP no group ${group} on stream ${name}`);
    return found;
  };

  const publishBatch = (items: readonly PublishItem[]): string[] => {
    check();
    const counts = new Map<string, number>();
    for (const item of items) counts.set(item.stream, (counts.get(item.stream) ?? 0) + 1);
    for (const [name, count] of counts) {
      const stream = streamOf(name);
      if (stream.length + count > maxLength) stream.trim();
      if (stream.length + count > maxLength) throw new BusOverflowError(name, stream.length, maxLength);
    }
    const ids = items.map((item) => streamOf(item.stream).append(item.payload));
    for (const name of counts.keys()) streamOf(name).wakeReaders();
    return ids;
  };

  /** Removes `ids` from the group's pending entries; how many were pending. */
  const unpend = (name: string, group: string, ids: readonly string[]): number => {
    check();
    const pending = streams.get(name)?.groups.get(group)?.pending;
    if (pending === undefined) return 0;
    let acked = 0;
    // Ids come back as this driver formatted them; only a hand-written id needs normalizing.
    for (const id of ids)
      if (pending.delete(id) || pending.delete(formatStreamId(parseStreamId(id)))) acked++;
    return acked;
  };

  const ack = (name: string, group: string, ids: readonly string[]): number => {
    const acked = unpend(name, group, ids);
    if (trimOnAck && acked > 0) streams.get(name)?.trim();
    return acked;
  };

  /** Acks a batch read by a consumer; with trimOnAck each stream it came from is trimmed once. */
  const ackEntries = (group: string, entries: readonly { stream: string; id: string }[]): number => {
    let acked = 0;
    for (const entry of entries) acked += unpend(entry.stream, group, [entry.id]);
    if (trimOnAck && acked > 0) {
      let trimmed: string | undefined;
      for (const { stream } of entries) {
        if (stream === trimmed) continue;
        trimmed = stream;
        streams.get(stream)?.trim();
      }
    }
    return acked;
  };

  const ensureGroup = (name: string, group: string, startId: string): void => {
    check();
    const stream = streamOf(name);
    if (!stream.groups.has(group)) {
      const lastDelivered = startId === '$' ? stream.lastId : parseStreamId(startId);
      stream.groups.set(group, { lastDelivered, pending: new Map(), consumers: new Set() });
    }
  };

  const port = (group: string, consumer: string): ReadPort => {
    let interrupt: (() => void) | undefined;
    let stopped = false;
    return {
      ensureGroups: (names) =>
        attempt(() => {
          for (const name of names) ensureGroup(name, group, '0');
        }),
      readPending: (cursors, count) =>
        attempt(() => {
          const now = Date.now();
          const out: RawEntry[] = [];
          for (const [name, cursor] of cursors) {
            const after = parseStreamId(cursor);
            groupOf(name, group).consumers.add(consumer);
            let taken = 0;
            for (const pending of groupOf(name, group).pending.values()) {
              if (taken === count) break;
              if (pending.consumer !== consumer || compareStreamIds(pending.entry.id, after) <= 0) continue;
              pending.deliveredAt = now;
              pending.deliveries++;
              out.push({ stream: name, id: pending.entry.text, payload: pending.entry.payload });
              taken++;
            }
          }
          return out;
        }),
      async readNew(names, count) {
        const take = (): RawEntry[] => {
          const now = Date.now();
          const out: RawEntry[] = [];
          for (const name of names) {
            const stream = streamOf(name);
            const state = groupOf(name, group);
            state.consumers.add(consumer);
            const from = stream.indexAfter(state.lastDelivered);
            const to = Math.min(from + count, stream.entries.length);
            for (let i = from; i < to; i++) {
              const entry = stream.entries[i]!;
              state.pending.set(entry.text, { entry, consumer, deliveredAt: now, deliveries: 1 });
              out.push({ stream: name, id: entry.text, payload: entry.payload });
            }
            if (to > from) state.lastDelivered = stream.entries[to - 1]!.id;
          }
          return out;
        };
        if (stopped) return [];
        const ready = take();
        if (ready.length > 0) return ready;
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            for (const name of names) streams.get(name)?.waiters.delete(wake);
            interrupt = undefined;
            resolve();
          };
          for (const name of names) streamOf(name).waiters.add(wake);
          interrupt = wake;
        });
        return stopped ? [] : take();
      },
      interrupt(stopping) {
        if (stopping) stopped = true;
        interrupt?.();
      },
      ack: (entries) =>
        attempt(() => {
          ackEntries(group, entries);
        }),
      isGroupMissing: () => false,
      close: () => Promise.resolve(),
    };
  };

  const bus: Bus = {
    publish: (stream, payload) => attempt(() => publishBatch([{ stream, payload }])[0]!),
    // Fences guard against another process holding a lease; in one process there is none.
    publishBatch: (items) => attempt(() => publishBatch(items)),
    ensureGroup: (name, group, startId = '0') => attempt(() => ensureGroup(name, group, startId)),
    consume(options: ConsumeOptions): Consumer {
      check();
      const loop: ConsumerLoop = new ConsumerLoop(options, port(options.group, options.consumer), () =>
        consumers.delete(loop),
      );
      consumers.add(loop);
      return loop;
    },
    ack: (stream, group, ids) => attempt(() => ack(stream, group, ids)),
    ackEntries: (group, entries: readonly BusEntry[]) => attempt(() => ackEntries(group, entries)),
    claimStale: (name, group, consumer, minIdleMs, count) =>
      attempt(() => {
        check();
        const state = streams.get(name)?.groups.get(group);
        const pending = state?.pending;
        const out: BusEntry[] = [];
        if (state === undefined || pending === undefined) return out;
        state.consumers.add(consumer);
        const now = Date.now();
        for (const item of pending.values()) {
          if (out.length === count) break;
          if (now - item.deliveredAt < minIdleMs) continue;
          item.consumer = consumer;
          item.deliveredAt = now;
          item.deliveries++;
          out.push({ stream: name, id: item.entry.text, payload: item.entry.payload });
        }
        return out;
      }),
    removeConsumers: (name, group, keep) =>
      attempt(() => {
        check();
        const state = streams.get(name)?.groups.get(group);
        if (state === undefined) return [];
        const busy = new Set([...state.pending.values()].map((item) => item.consumer));
        const removed = [...state.consumers].filter((c) => !busy.has(c) && !keep(c));
        for (const c of removed) state.consumers.delete(c);
        return removed;
      }),
    pending: (name, group) =>
      attempt(() => {
        check();
        const pending = streams.get(name)?.groups.get(group)?.pending;
        const consumersOf: Record<string, number> = {};
        let smallestId: string | null = null;
        let largestId: string | null = null;
        for (const item of pending?.values() ?? []) {
          smallestId ??= item.entry.text;
          largestId = item.entry.text;
          consumersOf[item.consumer] = (consumersOf[item.consumer] ?? 0) + 1;
        }
        const summary: PendingSummary = {
          count: pending?.size ?? 0,
          smallestId,
          largestId,
          consumers: consumersOf,
        };
        return summary;
      }),
    trim: (name) =>
      attempt(() => {
        check();
        return streams.get(name)?.trim() ?? 0;
      }),
    length: (name) =>
      attempt(() => {
        check();
        return streams.get(name)?.length ?? 0;
      }),
    async close() {
      if (closed) return;
      const running = [...consumers];
      await Promise.all(running.map((consumer) => consumer.stop()));
      closed = true;
    },
  };
  return bus;
}

/** Runs `fn` and turns what it throws into a rejection, so callers see one error channel. */
function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new BusError(String(error)));
  }
}
