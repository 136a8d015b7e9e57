import { QueueEvents, type ConnectionOptions } from 'bullmq';

/** Job ids added to a BullMQ queue, from its event stream (read from the start): awaited, not polled. */
export class AddedJobs {
  readonly ids = new Set<string>();
  readonly #watchers = new Set<() => void>();

  private constructor(private readonly events: QueueEvents) {
    events.on('added', ({ jobId }) => {
      this.ids.add(jobId);
      for (const watcher of [...this.#watchers]) watcher();
    });
  }

  static async open(name: string, connection: ConnectionOptions, prefix = 'bull'): Promise<AddedJobs> {
    const events = new QueueEvents(name, { connection, prefix, lastEventId: '0-0' });
    const added = new AddedJobs(events);
    await events.waitUntilReady();
    return added;
  }

  /** Resolves once `count` jobs were added in all. */
  until(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.ids.size < count) return;
        this.#watchers.delete(check);
        resolve();
      };
      this.#watchers.add(check);
      check();
    });
  }

  close(): Promise<void> {
    return this.events.close();
  }
}
