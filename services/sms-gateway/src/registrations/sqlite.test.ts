import { afterEach } from 'vitest';
import { registrationsContract } from './registrations.contract.js';
import type { Registrations } from './registrations.js';
import { openSqliteRegistrations } from './sqlite.js';

const opened: Registrations[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => r.close()));
});

registrationsContract('sqlite', () => {
  const store = openSqliteRegistrations({ path: ':memory:' });
  opened.push(store);
  return Promise.resolve(store);
});
