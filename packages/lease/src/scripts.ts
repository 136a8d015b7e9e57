import { Script } from './script.js';

/** Redis server time in ms: every node compares heartbeats on one clock, whatever its own drift. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Takes a free lease: `SET key owner:token NX PX ttl` with token = INCR of
 * the fence key, in one step so a token is only spent on a lease that was
 * taken. Resolves to the token, or null when someone holds the lease.
 */
export const acquireLease = new Script(`if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token`);

/** Extends a lease only while it still carries our value (compare-and-pexpire). 1 when renewed. */
export const renewLease = new Script(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`);

/** Deletes a lease only while it still carries our value (compare-and-del). 1 when released. */
export const releaseLease = new Script(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`);

/**
 * Heartbeat into a sorted set of members: scores ARGV[1] (unless '') with the
 * server time, drops members silent for ARGV[3] ms, and returns the members
 * heard from within ARGV[2] ms, i.e. the live ones.
 */
export const heartbeat = new Script(`${NOW}
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[1], now, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')`);

/** Members of a heartbeat sorted set not heard from within ARGV[1] ms (server time). */
export const silentMembers = new Script(`${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))`);

/**
 * Removes ARGV[1] from a heartbeat sorted set unless it was heard from within
 * ARGV[2] ms (it came back meanwhile). 1 when removed. One key: the set's slot
 * differs from the member's own keys in Redis Cluster.
 */
export const removeIfSilent = new Script(`${NOW}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
if tonumber(score) >= now - tonumber(ARGV[2]) then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[1])`);
