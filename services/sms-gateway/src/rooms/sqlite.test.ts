import { afterEach } from 'vitest';
import { roomMembershipsContract } from './memberships.contract.js';
import type { RoomMemberships } from './memberships.js';
import { openSqliteRoomMemberships } from './sqlite.js';

const opened: RoomMemberships[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

roomMembershipsContract('sqlite', () => {
  const store = openSqliteRoomMemberships({ path: ':memory:' });
  opened.push(store);
  return Promise.resolve(store);
});
