import { afterEach } from 'vitest';
import { membershipsContract } from './memberships.contract.js';
import type { Memberships } from './memberships.js';
import { openSqliteMemberships } from './sqlite.js';

const opened: Memberships[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((m) => m.close()));
});

membershipsContract('sqlite', () => {
  const store = openSqliteMemberships({ path: ':memory:' });
  opened.push(store);
  return Promise.resolve(store);
});
