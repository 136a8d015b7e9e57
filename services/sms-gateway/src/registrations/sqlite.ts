import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { NumberTakenError, type Registration, type Registrations, type SentRecord } from './registrations.js';

export interface SqliteRegistrationsOptions {
  /** SQLite file (its directory is created), or `:memory:`. */
  readonly path: string;
  /** Clock for sent-record expiry; default Date.now. */
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
  const deleteJid = db.prepare<[string]>('DELETE FROM registrations WHERE jid = ?');
  const insertOptOut = db.prepare<[string, string]>(
    'INSERT OR IGNORE INTO opt_outs (contact, own) VALUES (?, ?)',
  );
  const deleteOptOut = db.prepare<[string, string]>('DELETE FROM opt_outs WHERE contact = ? AND own = ?');
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

  return {
    get: (jid) => Promise.resolve(toRegistration(selectByJid.get(jid))),
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
