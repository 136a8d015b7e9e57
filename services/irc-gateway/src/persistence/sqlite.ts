import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { channelKey, type Membership, type Memberships, type ServerSettings } from './memberships.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS irc_memberships (
  user TEXT NOT NULL,
  server TEXT NOT NULL,
  channel_key TEXT NOT NULL,
  membership TEXT NOT NULL,
  PRIMARY KEY (user, server, channel_key)
);
CREATE TABLE IF NOT EXISTS irc_settings (
  user TEXT NOT NULL,
  server TEXT NOT NULL,
  settings TEXT NOT NULL,
  PRIMARY KEY (user, server)
);
`;

/** The embedded driver: one SQLite file (its directory is created), or `:memory:`. */
export function openSqliteMemberships(options: { readonly path: string }): Memberships {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  const selectAll = db.prepare<[], { membership: string }>('SELECT membership FROM irc_memberships');
  const upsert = db.prepare<[string, string, string, string]>(
    'INSERT OR REPLACE INTO irc_memberships (user, server, channel_key, membership) VALUES (?, ?, ?, ?)',
  );
  const remove = db.prepare<[string, string, string]>(
    'DELETE FROM irc_memberships WHERE user = ? AND server = ? AND channel_key = ?',
  );
  const selectSettings = db.prepare<[string, string], { settings: string }>(
    'SELECT settings FROM irc_settings WHERE user = ? AND server = ?',
  );
  const upsertSettings = db.prepare<[string, string, string]>(
    'INSERT OR REPLACE INTO irc_settings (user, server, settings) VALUES (?, ?, ?)',
  );
  return {
    all: () => Promise.resolve(selectAll.all().map((row) => JSON.parse(row.membership) as Membership)),
    put(m) {
      upsert.run(m.user, m.server, channelKey(m.channel), JSON.stringify(m));
      return Promise.resolve();
    },
    remove(user, server, channel) {
      remove.run(user, server, channelKey(channel));
      return Promise.resolve();
    },
    settings(user, server) {
      const row = selectSettings.get(user, server);
      return Promise.resolve(row === undefined ? null : (JSON.parse(row.settings) as ServerSettings));
    },
    putSettings(user, server, settings) {
      upsertSettings.run(user, server, JSON.stringify(settings));
      return Promise.resolve();
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}
