import { Script, type ScriptClient } from '@switchboard/lease';
import { Keys } from '@switchboard/protocol';
import {
  GONE_TTL_MS,
  type PushOutcome,
  type ResumptionStore,
  type TakeResult,
  type UnackedStanza,
} from './store.js';

/** The commands the store needs; an ioredis `Redis` satisfies it. */
export type ResumptionRedis = ScriptClient;

// KEYS: state hash, unacked list, tombstone. Every script keeps all three on one slot ({sessionId}).
const CREATE = new Script(`redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'bare', ARGV[1], 'jid', ARGV[2], 'edge', ARGV[3], 'epoch', 1, 'in', 0, 'acked', 0, 'sent', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`);

const PUSH = new Script(`local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {'gone'} end
if epoch ~= ARGV[1] then return {'moved', redis.call('HGET', KEYS[1], 'edge')} end
for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('HINCRBY', KEYS[1], 'sent', #ARGV - 2)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {'stored'}`);

const UPDATE = new Script(`if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('LTRIM', KEYS[2], ARGV[2], -1) end
redis.call('HSET', KEYS[1], 'acked', ARGV[3], 'in', ARGV[4])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'sent', ARGV[6]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return 1`);

const TAKE = new Script(`local s = redis.call('HMGET', KEYS[1], 'bare', 'jid', 'edge', 'in', 'acked', 'sent')
if not s[1] or s[1] ~= ARGV[1] then
  if s[1] then return {'gone', false} end
  return {'gone', redis.call('GET', KEYS[3])}
end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'edge', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return {'taken', s[2], s[3], tostring(epoch), s[4], s[5], s[6], redis.call('LRANGE', KEYS[2], 0, -1)}`);

const END = new Script(`if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return false end
local left = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('SET', KEYS[3], redis.call('HGET', KEYS[1], 'in'), 'PX', ARGV[2])
redis.call('DEL', KEYS[1], KEYS[2])
return left`);

const keysOf = (sessionId: string): string[] => [
  Keys.resumption(sessionId),
  Keys.resumptionQueue(sessionId),
  Keys.resumptionGone(sessionId),
];

const parseStanza = (raw: string): UnackedStanza => JSON.parse(raw) as UnackedStanza;

/**
 * The state in Redis (keys in `Keys.resumption*`, one hash slot per session): any edge of the
 * cluster can take a session over. The keys expire `ttlMs` after the last write: a long time
 * while a stream is attached, the resumption timeout once it is detached, so nothing outlives
 * a session that nobody ends.
 */
export function createRedisResumptionStore(redis: ResumptionRedis): ResumptionStore {
  return {
    async create(init, ttlMs) {
      await CREATE.run(redis, keysOf(init.sessionId), [
        init.bare,
        init.fullJid,
        init.edgeId,
        Math.ceil(ttlMs),
      ]);
      return 1;
    },
    async push(sessionId, epoch, stanzas, ttlMs): Promise<PushOutcome> {
      const reply = (await PUSH.run(redis, keysOf(sessionId), [
        String(epoch),
        Math.ceil(ttlMs),
        ...stanzas.map((s) => JSON.stringify(s)),
      ])) as [string, string?];
      if (reply[0] === 'stored') return { kind: 'stored' };
      if (reply[0] === 'moved') return { kind: 'moved', edgeId: reply[1] ?? '' };
      return { kind: 'gone' };
    },
    async update(sessionId, epoch, update, ttlMs) {
      await UPDATE.run(redis, keysOf(sessionId), [
        String(epoch),
        update.trim,
        update.acked,
        update.inbound,
        Math.ceil(ttlMs),
        update.sent === undefined ? '' : update.sent,
      ]);
    },
    async take(sessionId, bare, edgeId, ttlMs): Promise<TakeResult> {
      const reply = (await TAKE.run(redis, keysOf(sessionId), [bare, edgeId, Math.ceil(ttlMs)])) as unknown[];
      if (reply[0] !== 'taken') {
        const inbound = reply[1];
        return { kind: 'gone', inbound: typeof inbound === 'string' ? Number(inbound) : null };
      }
      const [, fullJid, previousEdgeId, epoch, inbound, acked, sent, unacked] = reply as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string[],
      ];
      return {
        kind: 'taken',
        state: {
          sessionId,
          fullJid,
          previousEdgeId,
          epoch: Number(epoch),
          inbound: Number(inbound),
          acked: Number(acked),
          sent: Number(sent),
          unacked: unacked.map(parseStanza),
        },
      };
    },
    async end(sessionId, epoch) {
      const reply = (await END.run(redis, keysOf(sessionId), [String(epoch), GONE_TTL_MS])) as
        string[] | null;
      return reply === null ? null : reply.map(parseStanza);
    },
  };
}
