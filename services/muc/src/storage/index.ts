export type {
  Affiliation,
  ArchivePage,
  ArchiveQuery,
  ArchivedMessage,
  MucStorage,
  PmPolicy,
  Role,
  RoomConfig,
  RoomRecord,
  RoomSubject,
} from './storage.js';
export { openSqliteMucStorage, type SqliteMucStorageOptions } from './sqlite.js';
export { createRedisMucStorage, type RedisMucStorageOptions } from './redis.js';
