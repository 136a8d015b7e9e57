import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  NumberTakenError,
  type PendingVerification,
  type Registration,
  type Registrations,
  type SentRecord,
} from './registrations.js';

export interface SqliteRegistrationsOptions {
  /** SQLite file (its directory is created), or `:memory:`. */
  readonly path: string;
  /** Clock for sent-record, verification and rate-limit expiry; default Date.now. */
  readonly now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registrations (
  jid TEXT PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,
  account TEXT
);
CREATE TABLE IF NOT EXISTS opt_outs (
  contact TEXT NOT NULL,
  own TEXT NOT NULL,
  PRIMARY KEY (contact, own)
);
CREATE TABLE IF NOT EXISTS verifications (
  jid TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  expires INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS code_sends (
  jid TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS help (
  contact TEXT NOT NULL,
  own TEXT NOT NULL,
  at INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (contact, own)
);
CREATE TABLE IF NOT EXISTS sent (
  provider_id TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  expires INTEGER NOT NULL
);
`;

interface RegistrationRow {
  jid: string;
  number: string;
  account: string | null;
}

/** The embedded driver: one SQLite file, survives restarts like the embedded store. */
export function openSqliteRegistrations(options: SqliteRegistrationsOptions): Registrations {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  const now = options.now ?? Date.now;

  const selectByJid = db.prepare<[string], RegistrationRow>(
    'SELECT jid, number, account FROM registrations WHERE jid = ?',
  );
  const selectByNumber = db.prepare<[string], RegistrationRow>(
    'SELECT jid, number, account FROM registrations WHERE number = ?',
  );
  const upsert = db.prepare<[string, string, string | null]>(
    'INSERT INTO registrations (jid, number, account) VALUES (?, ?, ?) ON CONFLICT (jid) DO UPDATE SET number = excluded.number, account = excluded.account',
  );
  const selectAll = db.prepare<[], RegistrationRow>('SELECT jid, number, account FROM registrations');
  const deleteJid = db.prepare<[string]>('DELETE FROM registrations WHERE jid = ?');
  const upsertVerification = db.prepare<[string, string, number]>(
    'INSERT OR REPLACE INTO verifications (jid, record, expires, failures) VALUES (?, ?, ?, 0)',
  );
  const selectVerification = db.prepare<[string, number], { record: string; failures: number }>(
    'SELECT record, failures FROM verifications WHERE jid = ? AND expires > ?',
  );
  const bumpFailures = db.prepare<[string, number], { failures: number }>(
    'UPDATE verifications SET failures = failures + 1 WHERE jid = ? AND expires > ? RETURNING failures',
  );
  const deleteVerification = db.prepare<[string]>('DELETE FROM verifications WHERE jid = ?');
  const purgeVerifications = db.prepare<[number]>('DELETE FROM verifications WHERE expires <= ?');
  const selectCodeSends = db.prepare<[string], { window_start: number; count: number }>(
    'SELECT window_start, count FROM code_sends WHERE jid = ?',
  );
  const upsertCodeSends = db.prepare<[string, number, number]>(
    'INSERT OR REPLACE INTO code_sends (jid, window_start, count) VALUES (?, ?, ?)',
  );
  const upsertHelp = db.prepare<[string, string, number]>(
    'INSERT INTO help (contact, own, at, count) VALUES (?, ?, ?, 1) ON CONFLICT (contact, own) DO UPDATE SET at = excluded.at, count = count + 1',
  );
  const selectHelp = db.prepare<[string, string], { at: number; count: number }>(
    'SELECT at, count FROM help WHERE contact = ? AND own = ?',
  );
  const insertOptOut = db.prepare<[string, string]>(
    'INSERT OR IGNORE INTO opt_outs (contact, own) VALUES (?, ?)',
  );
  const deleteOptOut = db.prepare<[string, string]>('DELETE FROM opt_outs WHERE contact = ? AND own = ?');
  const selectOptOuts = db.prepare<[], { contact: string; own: string }>(
    'SELECT contact, own FROM opt_outs ORDER BY contact, own',
  );
  const selectOptOut = db.prepare<[string, string], { one: number }>(
    'SELECT 1 AS one FROM opt_outs WHERE contact = ? AND own = ?',
  );
  const insertSent = db.prepare<[string, string, number]>(
    'INSERT OR REPLACE INTO sent (provider_id, record, expires) VALUES (?, ?, ?)',
  );
  const selectSent = db.prepare<[string, number], { record: string }>(
    'SELECT record FROM sent WHERE provider_id = ? AND expires > ?',
  );
  const deleteSent = db.prepare<[string]>('DELETE FROM sent WHERE provider_id = ?');
  const purgeSent = db.prepare<[number]>('DELETE FROM sent WHERE expires <= ?');

  const put = db.transaction((registration: Registration) => {
    const holder = selectByNumber.get(registration.number);
    if (holder !== undefined && holder.jid !== registration.jid)
      throw new NumberTakenError(registration.number);
    upsert.run(
      registration.jid,
      registration.number,
      registration.account === undefined ? null : JSON.stringify(registration.account),
    );
  });
  const take = db.transaction((providerId: string): SentRecord | null => {
    const row = selectSent.get(providerId, now());
    if (row === undefined) return null;
    const record = JSON.parse(row.record) as SentRecord;
    for (const id of record.providerMessageIds) deleteSent.run(id);
    deleteSent.run(providerId);
    return record;
  });
  const remember = db.transaction((record: SentRecord, ttlMs: number) => {
    purgeSent.run(now());
    const json = JSON.stringify(record);
    for (const id of record.providerMessageIds) insertSent.run(id, json, now() + ttlMs);
  });

  const countCodeSend = db.transaction((jid: string, windowMs: number): number => {
    const row = selectCodeSends.get(jid);
    const at = now();
    const fresh = row === undefined || row.window_start + windowMs <= at;
    const count = fresh ? 1 : row.count + 1;
    upsertCodeSends.run(jid, fresh ? at : row.window_start, count);
    return count;
  });

  return {
    get: (jid) => Promise.resolve(toRegistration(selectByJid.get(jid))),
    list: () => Promise.resolve(selectAll.all().map((row) => toRegistration(row)!)),
    listOptOuts: () => Promise.resolve(selectOptOuts.all().map(({ contact, own }) => ({ contact, own }))),
    byNumber: (number) => Promise.resolve(toRegistration(selectByNumber.get(number))),
    put: (registration) => {
      // Sync SQLite throws; the interface is async, so its error becomes a rejection.
      return new Promise<void>((resolve) => {
        put(registration);
        resolve();
      });
    },
    remove: (jid) => Promise.resolve(deleteJid.run(jid).changes > 0),
    setOptOut: (contact, own, optedOut) => {
      if (optedOut) insertOptOut.run(contact, own);
      else deleteOptOut.run(contact, own);
      return Promise.resolve();
    },
    isOptedOut: (contact, own) => Promise.resolve(selectOptOut.get(contact, own) !== undefined),
    rememberSent: (record, ttlMs) => {
      remember(record, ttlMs);
      return Promise.resolve();
    },
    takeSent: (providerId) => Promise.resolve(take(providerId)),
    putVerification: (pending) => {
      purgeVerifications.run(now());
      upsertVerification.run(pending.jid, JSON.stringify(pending), pending.expiresAt);
      return Promise.resolve();
    },
    getVerification: (jid) => {
      const row = selectVerification.get(jid, now());
      if (row === undefined) return Promise.resolve(null);
      const pending = JSON.parse(row.record) as PendingVerification;
      return Promise.resolve({ ...pending, failures: row.failures });
    },
    failVerification: (jid) => Promise.resolve(bumpFailures.get(jid, now())?.failures ?? 0),
    removeVerification: (jid) => {
      deleteVerification.run(jid);
      return Promise.resolve();
    },
    countCodeSend: (jid, windowMs) => Promise.resolve(countCodeSend(jid, windowMs)),
    recordHelp: (contact, own, at) => {
      upsertHelp.run(contact, own, at);
      return Promise.resolve();
    },
    lastHelp: (contact, own) => Promise.resolve(selectHelp.get(contact, own) ?? null),
    close: () => {
      if (db.open) db.close();
      return Promise.resolve();
    },
  };
}

function toRegistration(row: RegistrationRow | undefined): Registration | null {
  if (row === undefined) return null;
  return {
    jid: row.jid,
    number: row.number,
    ...(row.account === null ? {} : { account: JSON.parse(row.account) as Record<string, string> }),
  };
}
