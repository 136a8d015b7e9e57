export { RoomBridge, defaultNick, OCCUPANT_RESOURCE, type RoomBridgeOptions } from './bridge.js';
export { LineBatcher, type BatchTarget, type LineBatcherOptions } from './batcher.js';
export { parseCommand, USAGE, type RoomCommand } from './commands.js';
export type { RoomMembership, RoomMemberships } from './memberships.js';
export { openSqliteRoomMemberships } from './sqlite.js';
export { createRedisRoomMemberships, type RedisRoomMembershipsOptions } from './redis.js';
