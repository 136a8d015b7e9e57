import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { DeliveryStatus } from './provider.js';
import { DEFAULT_LEDGER_TTL_MS, decide, partKey, type SendLedger, type Settlement } from './ledger.js';

export interface SqliteLedgerOptions {
  /** SQLite file (its directory is created), or `:memory:`. */
  readonly path: string;
  readonly ttlMs?: number;
  readonly now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS send_jobs (
  job_id TEXT PRIMARY KEY,
  total INTEGER NOT NULL,
  settled INTEGER NOT NULL DEFAULT 0,
  expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS send_parts (
  part_key TEXT PRIMARY KEY,
  provider_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS send_parts_job ON send_parts (job_id);
`;

/** The embedded ledger: a table pair in the gateway's SQLite file, so receipts still add up after a restart. */
export function openSqliteLedger(options: SqliteLedgerOptions): SendLedger {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  const ttlMs = options.ttlMs ?? DEFAULT_LEDGER_TTL_MS;
  const now = options.now ?? Date.now;

  const selectParts = db.prepare<[string], { idx: number; provider_id: string }>(
    'SELECT idx, provider_id FROM send_parts WHERE job_id = ?',
  );
  const upsertJob = db.prepare<[string, number, number]>(
    'INSERT INTO send_jobs (job_id, total, expires) VALUES (?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET total = excluded.total',
  );
  const upsertPart = db.prepare<[string, string, string, number]>(
    'INSERT OR REPLACE INTO send_parts (part_key, provider_id, job_id, idx) VALUES (?, ?, ?, ?)',
  );
  const selectPart = db.prepare<
    [string],
    { provider_id: string; job_id: string; idx: number; total: number; settled: number }
  >(
    'SELECT p.provider_id, p.job_id, p.idx, j.total, j.settled FROM send_parts p JOIN send_jobs j ON j.job_id = p.job_id WHERE p.part_key = ?',
  );
  const markDelivered = db.prepare<[string]>('UPDATE send_parts SET delivered = 1 WHERE part_key = ?');
  const countDelivered = db.prepare<[string], { n: number }>(
    'SELECT COUNT(*) AS n FROM send_parts WHERE job_id = ? AND delivered = 1',
  );
  const markSettled = db.prepare<[string]>('UPDATE send_jobs SET settled = 1 WHERE job_id = ?');
  const purgeParts = db.prepare<[number]>(
    'DELETE FROM send_parts WHERE job_id IN (SELECT job_id FROM send_jobs WHERE expires <= ?)',
  );
  const purgeJobs = db.prepare<[number]>('DELETE FROM send_jobs WHERE expires <= ?');

  const accept = db.transaction((jobId: string, index: number, total: number, providerId: string) => {
    const t = now();
    purgeParts.run(t);
    purgeJobs.run(t);
    upsertJob.run(jobId, total, t + ttlMs);
    upsertPart.run(partKey(providerId), providerId, jobId, index);
  });
  const settle = db.transaction((candidates: readonly string[], status: DeliveryStatus): Settlement => {
    for (const candidate of candidates) {
      const key = partKey(candidate);
      const row = selectPart.get(key);
      if (row === undefined) continue;
      if (status === 'delivered' && row.settled === 0) markDelivered.run(key);
      const delivered = countDelivered.get(row.job_id)?.n ?? 0;
      const kind = decide(row.total, delivered, row.settled === 1, status);
      if (kind === 'final') {
        markSettled.run(row.job_id);
        return { kind, providerId: row.provider_id, status };
      }
      return { kind, providerId: row.provider_id };
    }
    return { kind: 'unknown' };
  });

  return {
    accepted: (jobId) =>
      Promise.resolve(new Map(selectParts.all(jobId).map((row) => [row.idx, row.provider_id] as const))),
    accept: (jobId, index, total, providerId) =>
      new Promise<void>((resolve) => {
        accept(jobId, index, total, providerId);
        resolve();
      }),
    settle: (candidates, status) => new Promise<Settlement>((resolve) => resolve(settle(candidates, status))),
    close: () => {
      if (db.open) db.close();
      return Promise.resolve();
    },
  };
}
