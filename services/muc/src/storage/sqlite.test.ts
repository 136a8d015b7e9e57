import { afterEach } from 'vitest';
import { openSqliteMucStorage } from './sqlite.js';
import { mucStorageContract } from './storage.contract.js';
import type { MucStorage } from './storage.js';

const opened: MucStorage[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

mucStorageContract('sqlite', () => {
  const storage = openSqliteMucStorage({ path: ':memory:' });
  opened.push(storage);
  return Promise.resolve(storage);
});
