export type { Membership, Memberships, ServerSettings } from './memberships.js';
export { channelKey } from './memberships.js';
export { openSqliteMemberships } from './sqlite.js';
export { createRedisMemberships } from './redis.js';
