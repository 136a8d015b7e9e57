import type { Counter, Logger, Metrics } from '@switchboard/kit';
import type { FileStorage } from './storage/storage.js';

export interface SweeperOptions {
  readonly storage: FileStorage;
  readonly retentionDays: number;
  readonly intervalSeconds: number;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

export interface Sweeper {
  /** Deletes the files past retention now; resolves to how many. */
  sweep(): Promise<number>;
  /** Sweeps at once, then every interval. */
  start(): void;
  /** Stops the timer and waits for a running sweep. */
  stop(): Promise<void>;
}

/**
 * Retention: files older than `retentionDays` are deleted periodically. Every
 * replica may sweep; deleting is idempotent, so no coordination is needed.
 */
export function createSweeper(options: SweeperOptions): Sweeper {
  const now = options.now ?? Date.now;
  const deleted: Counter | undefined = options.metrics?.counter({
    name: 'upload_files_expired_total',
    help: 'Files deleted by the retention sweep',
  });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  const sweep = (): Promise<number> => {
    if (options.retentionDays <= 0) return Promise.resolve(0);
    running ??= options.storage
      .deleteOlderThan(new Date(now() - options.retentionDays * 24 * 3600 * 1000))
      .then((count) => {
        deleted?.inc(count);
        if (count > 0) options.logger.info({ count }, 'expired uploads deleted');
        return count;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const sweepLogged = (): void => {
    sweep().catch((err: unknown) => options.logger.warn({ err }, 'retention sweep failed'));
  };

  return {
    sweep,
    start() {
      if (options.retentionDays <= 0 || timer !== undefined) return;
      sweepLogged();
      timer = setInterval(sweepLogged, options.intervalSeconds * 1000);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => 0);
    },
  };
}
