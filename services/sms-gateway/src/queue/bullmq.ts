import { createHash } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { ProviderError } from '../providers/provider.js';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_CONCURRENCY,
  type FailedJob,
  type OutboundJob,
  type OutboundQueue,
  type QueueOptions,
} from './queue.js';

export interface BullQueueOptions extends QueueOptions {
  /** Redis connection options (host/port or an ioredis URL parsed by the caller). */
  readonly connection: ConnectionOptions;
  /** Queue name, one per provider so the rate limit is per provider. */
  readonly name: string;
  /** BullMQ key prefix. Default `bull`. */
  readonly prefix?: string;
  /** How long completed job ids are kept to refuse duplicates. Default 24 h. */
  readonly keepCompletedSeconds?: number;
  /** A worker's lock on a running job (renewed while it runs); default BullMQ's 30 s. */
  readonly lockDurationMs?: number;
  /** How often jobs whose worker died are moved back to waiting; default BullMQ's 30 s. */
  readonly stalledIntervalMs?: number;
}

const JOB_NAME = 'sms';

/**
 * The cluster queue on BullMQ. Idempotency is BullMQ's own: adding a job
 * whose id exists (waiting, active, delayed, failed, or completed and still
 * kept) adds nothing. Permanent refusals become UnrecoverableError so BullMQ
 * skips the remaining attempts.
 */
export function createBullQueue(options: BullQueueOptions): OutboundQueue {
  const prefix = options.prefix ?? 'bull';
  const queue = new Queue<OutboundJob>(options.name, { connection: options.connection, prefix });
  let worker: Worker<OutboundJob> | undefined;
  let closing: Promise<void> | undefined;

  return {
    async enqueue(job) {
      const jobId = bullJobId(job.id);
      // The boolean is advisory (two gateways racing may both see "new"); BullMQ's own check keeps it one job.
      if ((await queue.getJob(jobId)) !== undefined) return false;
      await queue.add(JOB_NAME, job, {
        jobId,
        attempts: options.attempts ?? DEFAULT_ATTEMPTS,
        backoff: { type: 'exponential', delay: options.backoffMs ?? DEFAULT_BACKOFF_MS },
        removeOnComplete: { age: options.keepCompletedSeconds ?? 86_400 },
        // Dead letters stay for operators (ARCHITECTURE.md, "Gateways").
        removeOnFail: false,
      });
      return true;
    },
    async start(processor, events = {}) {
      worker = new Worker<OutboundJob>(
        options.name,
        async (job) => {
          try {
            await processor(job.data);
          } catch (error) {
            if (error instanceof ProviderError && !error.retryable)
              throw new UnrecoverableError(error.message);
            throw error;
          }
        },
        {
          connection: options.connection,
          prefix,
          concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
          // A job whose worker died (crash, SIGKILL) is run again once its lock lapsed; the
          // provider's send ledger keeps that re-run from resubmitting parts already accepted.
          ...(options.lockDurationMs === undefined ? {} : { lockDuration: options.lockDurationMs }),
          ...(options.stalledIntervalMs === undefined ? {} : { stalledInterval: options.stalledIntervalMs }),
          ...(options.rateLimit === undefined
            ? {}
            : { limiter: { max: options.rateLimit.max, duration: options.rateLimit.durationMs } }),
        },
      );
      worker.on('failed', (job, error) => {
        if (job === undefined) return;
        const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
        if (final) events.failed?.(toFailed(job));
        else events.retrying?.(job.data, error, job.attemptsMade);
      });
      // Errors of the connection; BullMQ reconnects by itself.
      worker.on('error', () => undefined);
      await worker.waitUntilReady();
    },
    async failed(limit = 100) {
      const jobs = await queue.getFailed(0, limit - 1);
      return jobs.map((job) => toFailed(job as Job<OutboundJob>));
    },
    async retry(id) {
      const job = await queue.getJob(bullJobId(id));
      if (job === undefined || !(await job.isFailed())) return false;
      await job.retry('failed');
      return true;
    },
    async remove(id) {
      const job = await queue.getJob(bullJobId(id));
      if (job === undefined || !(await job.isFailed())) return false;
      await job.remove();
      return true;
    },
    async counts() {
      const c = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'failed',
        'completed',
        'prioritized',
      );
      return {
        waiting: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0),
        active: c['active'] ?? 0,
        delayed: c['delayed'] ?? 0,
        failed: c['failed'] ?? 0,
        completed: c['completed'] ?? 0,
      };
    },
    close() {
      closing ??= (async () => {
        await worker?.close();
        await queue.close();
      })();
      return closing;
    },
  };
}

/** BullMQ refuses integer ids and ids with ':'; a digest of anything else is always valid. */
export function bullJobId(id: string): string {
  return /^[A-Za-z0-9_-]+$/.test(id) && !/^\d+$/.test(id)
    ? id
    : `h-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

function toFailed(job: Job<OutboundJob>): FailedJob {
  return {
    job: job.data,
    reason: job.failedReason,
    attempts: job.attemptsMade,
    unrecoverable: job.attemptsMade < (job.opts.attempts ?? 1),
  };
}
