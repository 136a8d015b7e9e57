import type { OutboundSms } from '../providers/provider.js';

/** One outbound SMS and what the gateway must tell the XMPP side about it. */
export interface OutboundJob {
  /** Idempotency key: a second enqueue with the same id is a no-op (a redelivered stanza is not sent twice). */
  readonly id: string;
  readonly sms: OutboundSms;
  /** Full JID of the XMPP sender; empty for the gateway's own replies (STOP/HELP). */
  readonly sender: string;
  /** The contact JID the stanza was addressed to. */
  readonly contact: string;
  readonly stanzaId: string;
  readonly wantReceipt: boolean;
}

/** Why a job ended in the failed set. */
export interface FailedJob {
  readonly job: OutboundJob;
  readonly reason: string;
  readonly attempts: number;
  /** A permanent refusal (not retried), as opposed to retries exhausted. */
  readonly unrecoverable: boolean;
}

export interface QueueCounts {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly failed: number;
  readonly completed: number;
}

/** What the worker calls; throwing a retryable ProviderError (or any other error) means "try again later". */
export type JobProcessor = (job: OutboundJob) => Promise<void>;

export interface QueueEvents {
  /** A job failed for good: unrecoverable, or out of attempts. */
  failed?(failure: FailedJob): void;
  /** A job's attempt failed and it will be tried again. */
  retrying?(job: OutboundJob, error: unknown, attempt: number): void;
}

export interface QueueOptions {
  /** Attempts per job, the first included. Default 5. */
  readonly attempts?: number;
  /** First retry delay; doubles each attempt (exponential backoff). Default 2000 ms. */
  readonly backoffMs?: number;
  /** Jobs processed at once by this worker. Default 4. */
  readonly concurrency?: number;
  /** Per-provider rate limit: at most `max` sends per `durationMs`. */
  readonly rateLimit?: { readonly max: number; readonly durationMs: number };
}

/**
 * The outbound SMS queue (BullMQ semantics): at-least-once processing,
 * retries with exponential backoff for retryable errors, permanent failures
 * kept in a failed set operators can list and retry.
 */
export interface OutboundQueue {
  /** Resolves true when the job was added, false when a job with that id already exists (or ran). */
  enqueue(job: OutboundJob): Promise<boolean>;
  /** Starts the worker. */
  start(processor: JobProcessor, events?: QueueEvents): Promise<void>;
  /** Failed jobs, newest first. */
  failed(limit?: number): Promise<FailedJob[]>;
  /** Moves a failed job back to waiting; false when no failed job has that id. */
  retry(id: string): Promise<boolean>;
  /**
   * Deletes a failed job (an operator gave up on it); false when no failed job has that id. Its id
   * is free again: the same stanza delivered anew would be queued anew.
   */
  remove(id: string): Promise<boolean>;
  counts(): Promise<QueueCounts>;
  /** Stops the worker after the running jobs finish; queued jobs stay queued. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_ATTEMPTS = 5;
export const DEFAULT_BACKOFF_MS = 2000;
export const DEFAULT_CONCURRENCY = 4;
