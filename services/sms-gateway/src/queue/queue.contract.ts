import { describe, expect, it } from 'vitest';
import { ProviderError } from '../providers/provider.js';
import type { FailedJob, OutboundJob, OutboundQueue, QueueOptions } from './queue.js';

export function job(id: string, text = 'hello'): OutboundJob {
  return {
    id,
    sms: { id, from: '+15551234567', to: '+15550001111', text, wantReport: true },
    sender: 'juliet@example.com/balcony',
    contact: '+15550001111@sms.example.com',
    stanzaId: id,
    wantReceipt: false,
  };
}

/** Resolves after `n` calls. */
export function counter<T>(n: number): { hit(value: T): void; done: Promise<T[]> } {
  const seen: T[] = [];
  let resolve!: (values: T[]) => void;
  const done = new Promise<T[]>((r) => (resolve = r));
  return {
    hit(value) {
      seen.push(value);
      if (seen.length === n) resolve(seen);
    },
    done,
  };
}

/** One suite, both drivers. `open` gets short backoffs so retries are quick. */
export function queueContract(name: string, open: (options: QueueOptions) => Promise<OutboundQueue>): void {
  describe(`outbound queue contract: ${name}`, () => {
    it('runs each job once even when the same id is enqueued twice', async () => {
      const queue = await open({ backoffMs: 10 });
      const runs = counter<string>(2);
      await queue.start((j) => {
        runs.hit(j.id);
        return Promise.resolve();
      });
      expect(await queue.enqueue(job('a'))).toBe(true);
      expect(await queue.enqueue(job('a'))).toBe(false);
      expect(await queue.enqueue(job('b'))).toBe(true);
      expect((await runs.done).sort()).toEqual(['a', 'b']);
      // A redelivery after completion is still a duplicate.
      expect(await queue.enqueue(job('a'))).toBe(false);
      await queue.close();
    });

    it('retries a retryable provider error with backoff until it succeeds', async () => {
      const queue = await open({ backoffMs: 10, attempts: 5 });
      const attempts = counter<number>(3);
      const retried: number[] = [];
      let calls = 0;
      await queue.start(
        () => {
          calls++;
          attempts.hit(Date.now());
          if (calls < 3) return Promise.reject(new ProviderError('throttled', true, '503'));
          return Promise.resolve();
        },
        { retrying: (_job, _error, attempt) => retried.push(attempt) },
      );
      await queue.enqueue(job('r'));
      const times = await attempts.done;
      expect(retried).toEqual([1, 2]);
      // Exponential: the second wait is at least the doubled first delay.
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(19);
      await queue.close();
    });

    /** A queue whose first job is refused for good (a 4xx); what comes after is sent. */
    async function refusingFirst(attempts: number) {
      const queue = await open({ backoffMs: 10, attempts });
      const failures = counter<FailedJob>(1);
      const sent = counter<string>(1);
      let calls = 0;
      await queue.start(
        (j) => {
          calls++;
          if (calls === 1) return Promise.reject(new ProviderError('invalid number', false, '400'));
          sent.hit(j.id);
          return Promise.resolve();
        },
        { failed: (f) => failures.hit(f) },
      );
      return { queue, failures, sent };
    }

    it('fails a permanent refusal at once and lists it for operators, who can retry it', async () => {
      const { queue, failures, sent } = await refusingFirst(5);
      await queue.enqueue(job('p'));
      const [failure] = await failures.done;
      expect(failure).toMatchObject({ job: { id: 'p' }, attempts: 1, unrecoverable: true });
      expect(failure!.reason).toContain('invalid number');
      const listed = await queue.failed();
      expect(listed.map((f) => f.job.id)).toEqual(['p']);
      expect((await queue.counts()).failed).toBe(1);
      expect(await queue.retry('p')).toBe(true);
      expect(await sent.done).toEqual(['p']);
      expect(await queue.retry('unknown')).toBe(false);
      await queue.close();
    });

    it('deletes a failed job an operator gives up on; its id can be queued again', async () => {
      const { queue, failures, sent } = await refusingFirst(1);
      await queue.enqueue(job('gone'));
      await failures.done;
      expect(await queue.remove('unknown')).toBe(false);
      expect(await queue.remove('gone')).toBe(true);
      expect(await queue.failed()).toEqual([]);
      expect((await queue.counts()).failed).toBe(0);
      expect(await queue.retry('gone')).toBe(false);
      expect(await queue.remove('gone')).toBe(false);
      expect(await queue.enqueue(job('gone'))).toBe(true);
      expect(await sent.done).toEqual(['gone']);
      await queue.close();
    });

    it('gives up after the configured attempts', async () => {
      const queue = await open({ backoffMs: 5, attempts: 3 });
      const failures = counter<FailedJob>(1);
      await queue.start(() => Promise.reject(new ProviderError('timeout', true)), {
        failed: (f) => failures.hit(f),
      });
      await queue.enqueue(job('x'));
      const [failure] = await failures.done;
      expect(failure).toMatchObject({ attempts: 3, unrecoverable: false });
      await queue.close();
    });

    it('keeps to the rate limit', async () => {
      const queue = await open({ rateLimit: { max: 2, durationMs: 200 }, concurrency: 4 });
      const runs = counter<number>(4);
      await queue.start(() => {
        runs.hit(Date.now());
        return Promise.resolve();
      });
      for (const id of ['l1', 'l2', 'l3', 'l4']) await queue.enqueue(job(id));
      const times = (await runs.done).sort((a, b) => a - b);
      // The third send waits for the window to pass.
      expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(150);
      await queue.close();
    });
  });
}
