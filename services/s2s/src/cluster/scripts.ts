import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

// The lease scripts of the router's partition leases (services/router/src/cluster/scripts.ts),
// copied because services never import each other.

/** A Lua script run with EVALSHA, falling back to EVAL when the server does not know it yet. */
export class Script {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}

/** `SET lease owner:token NX PX ttl` with token = INCR fence, in one step; the token or null. */
export const acquireLease = new Script(`if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token`);

/** Extends a lease only while it still carries our value. 1 when renewed. */
export const renewLease = new Script(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`);

/** Deletes a lease only while it still carries our value. 1 when released. */
export const releaseLease = new Script(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`);

/**
 * Heartbeat on the Redis server's clock: scores ARGV[1] (unless ''), drops
 * members silent for ARGV[3] ms, returns those heard from within ARGV[2] ms.
 */
export const heartbeat = new Script(`local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[1], now, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')`);
