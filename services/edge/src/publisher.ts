import type { Bus, PublishItem } from '@switchboard/bus';
import { BusOverflowError } from '@switchboard/bus';
import type { Logger } from '@switchboard/kit';

/**
 * Collects what the sessions publish during one event-loop turn and sends it with one
 * publishBatch (ARCHITECTURE.md, "Performance budget": never one bus round trip per stanza).
 * One batch is in flight at a time, so entries reach each stream in the order they were queued.
 */
export class BatchPublisher {
  private queue: PublishItem[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly onFailure: (error: unknown, dropped: number) => void = () => undefined,
    private readonly retries = 3,
    private readonly retryDelayMs = 100,
  ) {}

  enqueue(stream: string, payload: string): void {
    this.queue.push({ stream, payload });
    if (!this.scheduled && this.inFlight === null) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Resolves once everything queued so far has been published (or given up on). */
  async flushed(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === null && !this.scheduled) return;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      if (!this.scheduled && this.inFlight === null) this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight !== null) return;
    if (this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = null;
      this.flush();
    });
  }

  private async send(batch: PublishItem[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.bus.publishBatch(batch);
        return;
      } catch (error) {
        // A full stream means a consumer group lags: retrying at once only adds to the pile.
        if (error instanceof BusOverflowError || attempt >= this.retries) {
          this.logger.error({ err: error, entries: batch.length }, 'publish failed; entries dropped');
          this.onFailure(error, batch.length);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * (attempt + 1)));
      }
    }
  }
}
