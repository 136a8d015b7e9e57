export { startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.js';
export { Inbox } from './inbox.js';
