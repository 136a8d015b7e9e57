import type { DeliveryReport, DeliveryStatus } from './provider.js';

/**
 * What a provider has accepted for each outbound job, part by part, kept where
 * the queue keeps its jobs (Redis in the cluster, SQLite or memory embedded)
 * so it outlives the process that sent them.
 *
 * - Sending: before each part the provider asks which parts are already
 *   accepted and skips them; after the provider accepts a part its id is
 *   recorded at once. A job re-run after a crash or a retry therefore resubmits
 *   only the missing parts. The one gap is a crash (or a lost response) after
 *   the provider accepted a part and before the marker was written: that part
 *   is sent again (at-least-once; SMPP 3.4 has no idempotency key to close it).
 * - Delivery reports: one report per part comes back; the message counts as
 *   delivered once every part is, and as failed on the first part that failed.
 *   Later reports for a settled message are swallowed (a redelivered receipt
 *   is not a second receipt).
 */
export interface SendLedger {
  /** Provider message ids of the parts of `jobId` accepted so far, by part index (0-based). */
  accepted(jobId: string): Promise<ReadonlyMap<number, string>>;
  /** Records that part `index` of a `total`-part message was accepted as `providerId`. */
  accept(jobId: string, index: number, total: number, providerId: string): Promise<void>;
  /**
   * A final report for one part, named by any of `candidates` (a provider may
   * spell one id several ways, e.g. hex and decimal). What the message as a
   * whole comes to, with the id as recorded at accept().
   */
  settle(candidates: readonly string[], status: DeliveryStatus): Promise<Settlement>;
  close(): Promise<void>;
}

export type Settlement =
  /** No part by that id (sent before the ledger existed, or expired): report it as it is. */
  | { readonly kind: 'unknown' }
  /** Other parts are still to report. */
  | { readonly kind: 'pending'; readonly providerId: string }
  /** This report decides the message: `status` is the whole message's. */
  | { readonly kind: 'final'; readonly providerId: string; readonly status: DeliveryStatus }
  /** The message was settled by an earlier report. */
  | { readonly kind: 'settled'; readonly providerId: string };

/** Default lifetime of a job's entry: longer than the queue keeps jobs and reports take. */
export const DEFAULT_LEDGER_TTL_MS = 96 * 3600_000;

/** Lookup key of a provider id: case-insensitive and without leading zeros, since SMSCs differ in how they write hex ids. */
export const partKey = (providerId: string): string => providerId.toLowerCase().replace(/^0+(?=.)/, '');

/**
 * The decision for one part's report given the state of the whole message:
 * shared by the drivers so that they agree.
 */
export function decide(
  total: number,
  delivered: number,
  alreadySettled: boolean,
  status: DeliveryStatus,
): 'pending' | 'final' | 'settled' {
  if (alreadySettled) return 'settled';
  if (status !== 'delivered') return 'final';
  return delivered >= total ? 'final' : 'pending';
}

interface MemoryJob {
  total: number;
  readonly parts: Map<number, string>;
  readonly delivered: Set<number>;
  settled: boolean;
  expires: number;
}

/** The in-process ledger: what one provider instance remembers without a store (tests, and the default). */
export function createMemoryLedger(options: { ttlMs?: number; now?: () => number } = {}): SendLedger {
  const ttlMs = options.ttlMs ?? DEFAULT_LEDGER_TTL_MS;
  const now = options.now ?? Date.now;
  const jobs = new Map<string, MemoryJob>();
  const parts = new Map<string, { jobId: string; index: number }>();

  function purge(): void {
    const t = now();
    for (const [id, job] of jobs) {
      if (job.expires > t) break; // insertion order is expiry order: one TTL for all
      jobs.delete(id);
      for (const providerId of job.parts.values()) parts.delete(partKey(providerId));
    }
  }

  return {
    accepted(jobId) {
      purge();
      return Promise.resolve(new Map(jobs.get(jobId)?.parts ?? []));
    },
    accept(jobId, index, total, providerId) {
      purge();
      let job = jobs.get(jobId);
      if (job === undefined) {
        job = { total, parts: new Map(), delivered: new Set(), settled: false, expires: now() + ttlMs };
        jobs.set(jobId, job);
      }
      job.total = total;
      job.parts.set(index, providerId);
      parts.set(partKey(providerId), { jobId, index });
      return Promise.resolve();
    },
    settle(candidates, status) {
      for (const candidate of candidates) {
        const part = parts.get(partKey(candidate));
        const job = part === undefined ? undefined : jobs.get(part.jobId);
        if (part === undefined || job === undefined) continue;
        const providerId = job.parts.get(part.index) ?? candidate;
        if (status === 'delivered') job.delivered.add(part.index);
        const kind = decide(job.total, job.delivered.size, job.settled, status);
        if (kind === 'final') job.settled = true;
        return Promise.resolve(kind === 'final' ? { kind, providerId, status } : { kind, providerId });
      }
      return Promise.resolve({ kind: 'unknown' });
    },
    close: () => Promise.resolve(),
  };
}

/**
 * Passes a delivery report on to the core once it settles its message: the
 * id becomes the one recorded at accept(); reports for parts still waiting on
 * siblings, and reports after the message was settled, go no further.
 */
export async function forwardSettled(
  ledger: SendLedger,
  report: DeliveryReport,
  candidates: readonly string[],
  forward: (report: DeliveryReport) => Promise<void>,
): Promise<void> {
  if (report.status === 'unknown') return forward(report);
  const settlement = await ledger.settle(candidates, report.status);
  switch (settlement.kind) {
    case 'unknown':
      return forward(report);
    case 'final':
      return forward({ ...report, providerMessageId: settlement.providerId, status: settlement.status });
    default:
      return;
  }
}
