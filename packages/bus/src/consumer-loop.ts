import type { BusEntry, ConsumeOptions, Consumer } from './bus.js';

/** An entry as read; `payload` is null when it was deleted while still pending (Redis returns such tombstones). */
export interface RawEntry {
  readonly stream: string;
  readonly id: string;
  readonly payload: string | null;
}

/**
 * What a driver provides to one consumer loop: the reads and acks of one
 * (group, consumer name), over its own blocking connection where it has one.
 */
export interface ReadPort {
  ensureGroups(streams: readonly string[]): Promise<void>;
  /** This consumer's pending entries with ids above each stream's cursor, at most `count` per stream. */
  readPending(cursors: ReadonlyMap<string, string>, count: number): Promise<RawEntry[]>;
  /** New entries, at most `count` per stream; may resolve to [] after `blockMs` or when interrupted. */
  readNew(streams: readonly string[], count: number, blockMs: number): Promise<RawEntry[]>;
  /** Makes a blocked `readNew` return (or reject, when `stopping`) now. */
  interrupt(stopping: boolean): void;
  ack(entries: readonly RawEntry[]): Promise<void>;
  /** Whether a read failed because the group (or stream) is gone, e.g. a Redis that lost its data. */
  isGroupMissing(error: unknown): boolean;
  close(): Promise<void>;
}

/**
 * The loop both drivers share, so their consumers behave the same: own
 * pending entries first (XREADGROUP id 0, paged), then new ones (`>`); ack
 * each batch in one call; on a handler error re-read pending, so order per
 * stream holds and nothing is skipped.
 */
export class ConsumerLoop implements Consumer {
  private current: readonly string[];
  /** Streams whose pending entries (under this consumer name) must be re-read, with the paging cursor. */
  private readonly history = new Map<string, string>();
  /** Streams whose group is known to exist. */
  private readonly ensured = new Set<string>();
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly done: Promise<void>;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly retryDelayMs: number;
  private readonly autoAck: boolean;

  constructor(
    private readonly options: ConsumeOptions,
    private readonly port: ReadPort,
    private readonly onStopped: () => void,
  ) {
    this.current = unique(options.streams);
    for (const stream of this.current) this.history.set(stream, '0');
    this.batchSize = options.batchSize ?? 100;
    this.blockMs = options.blockMs ?? 1000;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.autoAck = options.autoAck ?? true;
    this.done = this.run();
  }

  get streams(): readonly string[] {
    return this.current;
  }

  setStreams(streams: readonly string[]): void {
    const next = unique(streams);
    const before = new Set(this.current);
    const after = new Set(next);
    for (const stream of next) if (!before.has(stream)) this.history.set(stream, '0');
    for (const stream of this.current) if (!after.has(stream)) this.history.delete(stream);
    this.current = next;
    this.port.interrupt(false);
    this.wake?.();
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.port.interrupt(true);
      this.wake?.();
    }
    return this.done;
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopping) {
        try {
          await this.step();
        } catch (error) {
          if (this.stopping) break;
          if (this.port.isGroupMissing(error)) {
            this.ensured.clear();
            for (const stream of this.current) this.history.set(stream, '0');
          }
          this.report(error);
          await this.pause(this.retryDelayMs);
        }
      }
    } finally {
      try {
        await this.port.close();
      } finally {
        this.onStopped();
      }
    }
  }

  private async step(): Promise<void> {
    const missing = this.current.filter((stream) => !this.ensured.has(stream));
    if (missing.length > 0) {
      await this.port.ensureGroups(missing);
      for (const stream of missing) this.ensured.add(stream);
    }

    let raw: RawEntry[];
    if (this.history.size > 0) {
      const cursors = new Map(this.history);
      raw = await this.port.readPending(cursors, this.batchSize);
      const last = new Map<string, string>();
      for (const entry of raw) last.set(entry.stream, entry.id);
      for (const stream of cursors.keys()) {
        if (!this.history.has(stream)) continue;
        const id = last.get(stream);
        if (id === undefined) this.history.delete(stream);
        else this.history.set(stream, id);
      }
    } else if (this.current.length === 0) {
      await this.pause(undefined);
      return;
    } else {
      raw = await this.port.readNew(this.current, this.batchSize, this.blockMs);
    }

    const entries: BusEntry[] = [];
    const deleted: RawEntry[] = [];
    for (const entry of raw) {
      if (entry.payload === null) deleted.push(entry);
      else entries.push({ stream: entry.stream, id: entry.id, payload: entry.payload });
    }
    // A pending entry whose data is gone can never be processed: drop it from the pending list.
    if (deleted.length > 0) await this.port.ack(deleted);
    if (entries.length === 0) return;

    try {
      await this.options.handler(entries);
    } catch (error) {
      this.retry(entries);
      this.report(error);
      await this.pause(this.retryDelayMs);
      return;
    }
    if (this.autoAck) {
      try {
        await this.port.ack(entries);
      } catch (error) {
        this.retry(entries);
        throw error;
      }
    }
  }

  /** Re-reads this consumer's pending entries of the batch's streams before anything new. */
  private retry(entries: readonly BusEntry[]): void {
    const current = new Set(this.current);
    for (const entry of entries) if (current.has(entry.stream)) this.history.set(entry.stream, '0');
  }

  private report(error: unknown): void {
    this.options.onError?.(error);
  }

  /** Waits `ms` (forever when undefined) or until setStreams/stop. */
  private pause(ms: number | undefined): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

function unique(streams: readonly string[]): readonly string[] {
  return [...new Set(streams)];
}
