import { describe, expect, it } from 'vitest';
import { StanzaError } from '@switchboard/component';
import { createLogger } from '@switchboard/kit';
import type { OutboundJob } from '../queue/queue.js';
import { openSqliteRegistrations } from '../registrations/sqlite.js';
import { DEFAULT_VERIFICATION, Registrar } from './registrar.js';

/** A registrar over a real SQLite store with a settable clock; enqueued jobs are collected. */
function setup(options: { allowedDomains?: readonly string[] } = {}) {
  let now = 1_000_000;
  const jobs: OutboundJob[] = [];
  const registrations = openSqliteRegistrations({ path: ':memory:', now: () => now });
  const registrar = new Registrar({
    domain: 'sms.example.com',
    name: 'Test SMS',
    registrations,
    queue: { enqueue: (job) => Promise.resolve(jobs.push(job) > 0) },
    logger: createLogger({ service: 'sms-test', level: 'silent' }),
    verification: DEFAULT_VERIFICATION,
    now: () => now,
    ...options,
  });
  return { registrar, registrations, jobs, advance: (ms: number) => (now += ms) };
}

const condition = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof StanzaError ? error.condition : String(error)),
  );

describe('registrar', () => {
  it('refuses JIDs outside the allowed domains with not-allowed', async () => {
    const { registrar, jobs } = setup({ allowedDomains: ['Example.com'] });
    expect(await condition(registrar.claim('eve@evil.example', { phone: '+15551234567' }))).toBe(
      'not-allowed',
    );
    expect(jobs).toHaveLength(0);
    expect((await registrar.claim('juliet@example.com', { phone: '+15551234567' })).kind).toBe('code-sent');
  });

  it('texts a code bound to the JID that expires after ten minutes', async () => {
    const { registrar, jobs, advance } = setup();
    await registrar.claim('juliet@example.com', { phone: '+15551234567' });
    const code = jobs[0]!.sms.text.slice(0, 6);
    expect(jobs[0]!.sms).toMatchObject({ to: '+15551234567' });
    // Another JID cannot use the code.
    expect(await condition(registrar.claim('romeo@example.com', { phone: '+15551234567', code }))).toBe(
      'not-acceptable',
    );
    advance(DEFAULT_VERIFICATION.codeTtlMs + 1);
    expect(await condition(registrar.claim('juliet@example.com', { phone: '+15551234567', code }))).toBe(
      'not-acceptable',
    );
    await registrar.claim('juliet@example.com', { phone: '+15551234567' });
    const fresh = jobs[1]!.sms.text.slice(0, 6);
    const outcome = await registrar.claim('juliet@example.com', { phone: '', code: fresh });
    expect(outcome).toMatchObject({ kind: 'registered', created: true });
  });
});
