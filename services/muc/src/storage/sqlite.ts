import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ArchivedMessage, MucStorage, RoomRecord } from './storage.js';

export interface SqliteMucStorageOptions {
  /** SQLite file (its directory is created), or `:memory:`. */
  readonly path: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rooms (
  jid TEXT PRIMARY KEY,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS archive (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  room TEXT NOT NULL,
  id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  nick TEXT NOT NULL,
  real_jid TEXT NOT NULL,
  xml TEXT NOT NULL,
  UNIQUE (room, id)
);
CREATE INDEX IF NOT EXISTS archive_room_seq ON archive (room, seq);
`;

interface ArchiveRow {
  id: string;
  ts: number;
  nick: string;
  real_jid: string;
  xml: string;
}

/** The embedded driver: one SQLite file under dataDir, survives restarts. */
export function openSqliteMucStorage(options: SqliteMucStorageOptions): MucStorage {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);

  const selectRoom = db.prepare<[string], { record: string }>('SELECT record FROM rooms WHERE jid = ?');
  const upsertRoom = db.prepare<[string, string]>(
    'INSERT INTO rooms (jid, record) VALUES (?, ?) ON CONFLICT (jid) DO UPDATE SET record = excluded.record',
  );
  const deleteRoomRow = db.prepare<[string]>('DELETE FROM rooms WHERE jid = ?');
  const deleteArchive = db.prepare<[string]>('DELETE FROM archive WHERE room = ?');
  const selectRooms = db.prepare<[], { record: string }>('SELECT record FROM rooms ORDER BY jid');
  const insertMessage = db.prepare<[string, string, number, string, string, string]>(
    'INSERT OR IGNORE INTO archive (room, id, ts, nick, real_jid, xml) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const selectSeq = db.prepare<[string, string], { seq: number }>(
    'SELECT seq FROM archive WHERE room = ? AND id = ?',
  );
  const removeRoom = db.transaction((jid: string) => {
    deleteRoomRow.run(jid);
    deleteArchive.run(jid);
  });

  return {
    getRoom: (jid) => {
      const row = selectRoom.get(jid);
      return Promise.resolve(row === undefined ? null : (JSON.parse(row.record) as RoomRecord));
    },
    putRoom: (record) => {
      upsertRoom.run(record.jid, JSON.stringify(record));
      return Promise.resolve();
    },
    deleteRoom: (jid) => {
      removeRoom(jid);
      return Promise.resolve();
    },
    listRooms: () => Promise.resolve(selectRooms.all().map((row) => JSON.parse(row.record) as RoomRecord)),
    appendMessage: (room, m) => {
      insertMessage.run(room, m.id, m.ts, m.nick, m.realJid, m.xml);
      return Promise.resolve();
    },
    hasMessage: (room, id) => Promise.resolve(selectSeq.get(room, id) !== undefined),
    queryArchive: (room, query) => {
      const where = ['room = ?'];
      const params: (string | number)[] = [room];
      if (query.start !== undefined) {
        where.push('ts >= ?');
        params.push(query.start);
      }
      if (query.end !== undefined) {
        where.push('ts <= ?');
        params.push(query.end);
      }
      if (query.with !== undefined) {
        where.push("(real_jid = ? OR ? = room || '/' || nick)");
        params.push(query.with, query.with);
      }
      if (query.after !== undefined) {
        where.push('seq > ?');
        params.push(selectSeq.get(room, query.after)?.seq ?? Number.MAX_SAFE_INTEGER);
      }
      if (query.before !== undefined && query.before !== '') {
        where.push('seq < ?');
        params.push(selectSeq.get(room, query.before)?.seq ?? 0);
      }
      // RSM: <before/> pages back from the end, everything else forward from the start.
      const backwards = query.before !== undefined;
      const rows = db
        .prepare<(string | number)[], ArchiveRow>(
          `SELECT id, ts, nick, real_jid, xml FROM archive WHERE ${where.join(' AND ')} ORDER BY seq ${
            backwards ? 'DESC' : 'ASC'
          } LIMIT ?`,
        )
        .all(...params, query.max + 1);
      const complete = rows.length <= query.max;
      const page = rows.slice(0, query.max).map(toMessage);
      if (backwards) page.reverse();
      return Promise.resolve({ messages: page, complete });
    },
    close: () => {
      if (db.open) db.close();
      return Promise.resolve();
    },
  };
}

function toMessage(row: ArchiveRow): ArchivedMessage {
  return { id: row.id, ts: row.ts, nick: row.nick, realJid: row.real_jid, xml: row.xml };
}
