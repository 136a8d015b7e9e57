import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { newestFirst, type RoomMembership, type RoomMemberships } from './memberships.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS room_memberships (
  phone TEXT NOT NULL,
  room TEXT NOT NULL,
  membership TEXT NOT NULL,
  PRIMARY KEY (phone, room)
);
CREATE TABLE IF NOT EXISTS phone_last_number (
  phone TEXT PRIMARY KEY,
  via TEXT NOT NULL
);
`;

/** The embedded driver; it may share the registrations' SQLite file (its own table). */
export function openSqliteRoomMemberships(options: { readonly path: string }): RoomMemberships {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  const upsert = db.prepare<[string, string, string]>(
    'INSERT INTO room_memberships (phone, room, membership) VALUES (?, ?, ?) ON CONFLICT (phone, room) DO UPDATE SET membership = excluded.membership',
  );
  const selectOne = db.prepare<[string, string], { membership: string }>(
    'SELECT membership FROM room_memberships WHERE phone = ? AND room = ?',
  );
  const selectPhone = db.prepare<[string], { membership: string }>(
    'SELECT membership FROM room_memberships WHERE phone = ?',
  );
  const selectAll = db.prepare<[], { membership: string }>('SELECT membership FROM room_memberships');
  const deleteOne = db.prepare<[string, string]>('DELETE FROM room_memberships WHERE phone = ? AND room = ?');
  const upsertLast = db.prepare<[string, string]>(
    'INSERT INTO phone_last_number (phone, via) VALUES (?, ?) ON CONFLICT (phone) DO UPDATE SET via = excluded.via',
  );
  const selectLast = db.prepare<[string], { via: string }>(
    'SELECT via FROM phone_last_number WHERE phone = ?',
  );
  const parse = (row: { membership: string }): RoomMembership => JSON.parse(row.membership) as RoomMembership;

  return {
    put(membership) {
      upsert.run(membership.phone, membership.room, JSON.stringify(membership));
      return Promise.resolve();
    },
    get(phone, room) {
      const row = selectOne.get(phone, room);
      return Promise.resolve(row === undefined ? null : parse(row));
    },
    byPhone: (phone) => Promise.resolve(selectPhone.all(phone).map(parse).sort(newestFirst)),
    all: () => Promise.resolve(selectAll.all().map(parse)),
    remove: (phone, room) => Promise.resolve(deleteOne.run(phone, room).changes > 0),
    noteConversation(phone, via) {
      upsertLast.run(phone, via);
      return Promise.resolve();
    },
    lastNumber: (phone) => Promise.resolve(selectLast.get(phone)?.via ?? null),
    close() {
      if (db.open) db.close();
      return Promise.resolve();
    },
  };
}
