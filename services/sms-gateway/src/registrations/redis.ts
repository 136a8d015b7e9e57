import type { Redis } from 'ioredis';
import {
  NumberTakenError,
  type PendingVerification,
  type Registration,
  type Registrations,
  type SentRecord,
} from './registrations.js';

// Compare-and-delete, so a number another user claimed meanwhile stays theirs.
const RELEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

// Counts a wrong code only while the verification exists (HINCRBY alone would recreate it without a TTL).
const FAIL_VERIFICATION =
  "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HINCRBY', KEYS[1], 'failures', 1) end return 0";

// A fixed window that starts at its first code: INCR, and the expiry set with the first one.
const COUNT_CODE_SEND =
  "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

export interface RedisRegistrationsOptions {
  readonly redis: Redis;
  /** Key prefix; default `sms`. */
  readonly prefix?: string;
}

/**
 * Keys carry a hash tag per user or per number (ARCHITECTURE.md, "Delivery
 * guarantees"): no command spans two slots, so this runs on Redis Cluster.
 * The number index is claimed first with SET NX, which makes two users
 * racing for one number see exactly one winner.
 */
export function createRedisRegistrations(options: RedisRegistrationsOptions): Registrations {
  const redis = options.redis;
  const prefix = options.prefix ?? 'sms';
  const userKey = (jid: string): string => `${prefix}:user:{${jid}}:registration`;
  const numberKey = (number: string): string => `${prefix}:number:{${number}}:owner`;
  const optOutKey = (contact: string): string => `${prefix}:number:{${contact}}:opt-outs`;
  const sentKey = (providerId: string): string => `${prefix}:sent:{${providerId}}`;
  const verificationKey = (jid: string): string => `${prefix}:user:{${jid}}:verification`;
  const codeSendsKey = (jid: string): string => `${prefix}:user:{${jid}}:code-sends`;
  const helpKey = (contact: string): string => `${prefix}:number:{${contact}}:help`;
  /** Every registered JID: listing reads this set, not a SCAN of one node's keyspace. */
  const indexKey = `${prefix}:registered`;
  /** Contacts with at least one opt-out, so they can be listed without a SCAN. */
  const optedOutKey = `${prefix}:opted-out`;
  /** Set once the index holds what older versions wrote without it. */
  const indexedKey = `${prefix}:registered:backfilled`;

  /**
   * Registrations written before the index existed: found once with SCAN (of the node this
   * connection reaches), then indexed.
   */
  async function backfillIndex(): Promise<void> {
    let cursor = '0';
    const pattern = `${prefix}:user:{*}:registration`;
    const head = `${prefix}:user:{`;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      const jids = keys.map((k) => k.slice(head.length, k.length - '}:registration'.length));
      if (jids.length > 0) await redis.sadd(indexKey, ...jids);
    } while (cursor !== '0');
  }

  async function get(jid: string): Promise<Registration | null> {
    const raw = await redis.get(userKey(jid));
    return raw === null ? null : (JSON.parse(raw) as Registration);
  }

  return {
    get,
    async list() {
      if ((await redis.exists(indexedKey)) === 0) {
        await backfillIndex();
        await redis.set(indexedKey, '1');
      }
      // SSCAN in pages, and one GET per user key (each on its own slot, so this runs on a cluster).
      const registrations: Registration[] = [];
      let cursor = '0';
      do {
        const [next, jids] = await redis.sscan(indexKey, cursor, 'COUNT', 500);
        cursor = next;
        const found = await Promise.all(jids.map(get));
        const gone = jids.filter((_, i) => found[i] === null);
        // A JID indexed by a put that crashed before its registration was written, or removed since.
        if (gone.length > 0) await redis.srem(indexKey, ...gone);
        for (const registration of found) if (registration !== null) registrations.push(registration);
      } while (cursor !== '0');
      return registrations;
    },
    async byNumber(number) {
      const jid = await redis.get(numberKey(number));
      if (jid === null) return null;
      const registration = await get(jid);
      // A stale index entry (a crash between the two writes of put/remove) names nobody.
      return registration?.number === number ? registration : null;
    },
    async put(registration) {
      const claimed = await redis.set(numberKey(registration.number), registration.jid, 'NX');
      if (claimed === null) {
        const holder = await redis.get(numberKey(registration.number));
        if (holder !== registration.jid) {
          const current = holder === null ? null : await get(holder);
          if (current?.number === registration.number) throw new NumberTakenError(registration.number);
          await redis.set(numberKey(registration.number), registration.jid);
        }
      }
      const previous = await get(registration.jid);
      // Indexed first: a crash between the two writes leaves an index entry that list() drops.
      await redis.sadd(indexKey, registration.jid);
      await redis.set(userKey(registration.jid), JSON.stringify(registration));
      if (previous !== null && previous.number !== registration.number) await releaseNumber(previous);
    },
    async remove(jid) {
      const previous = await get(jid);
      if (previous === null) return false;
      await redis.del(userKey(jid));
      await redis.srem(indexKey, jid);
      await releaseNumber(previous);
      return true;
    },
    async setOptOut(contact, own, optedOut) {
      if (optedOut) {
        await redis.sadd(optedOutKey, contact);
        await redis.sadd(optOutKey(contact), own);
      } else {
        await redis.srem(optOutKey(contact), own);
      }
    },
    async listOptOuts() {
      const out: { contact: string; own: string }[] = [];
      let cursor = '0';
      do {
        const [next, contacts] = await redis.sscan(optedOutKey, cursor, 'COUNT', 500);
        cursor = next;
        const owns = await Promise.all(contacts.map((c) => redis.smembers(optOutKey(c))));
        // A contact that sent START for every number since: its set is gone (Redis drops empty sets).
        const cleared = contacts.filter((_, i) => owns[i]!.length === 0);
        if (cleared.length > 0) await redis.srem(optedOutKey, ...cleared);
        contacts.forEach((contact, i) => {
          for (const own of owns[i]!) out.push({ contact, own });
        });
      } while (cursor !== '0');
      return out.sort((a, b) => a.contact.localeCompare(b.contact) || a.own.localeCompare(b.own));
    },
    async isOptedOut(contact, own) {
      return (await redis.sismember(optOutKey(contact), own)) === 1;
    },
    async rememberSent(record, ttlMs) {
      const json = JSON.stringify(record);
      await Promise.all(record.providerMessageIds.map((id) => redis.set(sentKey(id), json, 'PX', ttlMs)));
    },
    async takeSent(providerId) {
      const raw = await redis.getdel(sentKey(providerId));
      if (raw === null) return null;
      const record = JSON.parse(raw) as SentRecord;
      const siblings = record.providerMessageIds.filter((id) => id !== providerId);
      await Promise.all(siblings.map((id) => redis.del(sentKey(id))));
      return record;
    },
    async putVerification(pending) {
      const key = verificationKey(pending.jid);
      await redis
        .multi()
        .del(key)
        .hset(key, { record: JSON.stringify(pending), failures: 0 })
        .pexpireat(key, pending.expiresAt)
        .exec();
    },
    async getVerification(jid) {
      const [record, failures] = await redis.hmget(verificationKey(jid), 'record', 'failures');
      if (record === null || record === undefined) return null;
      const pending = JSON.parse(record) as PendingVerification;
      // PEXPIREAT has millisecond precision but expiry is lazy: check the clock too.
      if (pending.expiresAt <= Date.now()) return null;
      return { ...pending, failures: Number(failures ?? 0) };
    },
    async failVerification(jid) {
      return Number(await redis.eval(FAIL_VERIFICATION, 1, verificationKey(jid)));
    },
    async removeVerification(jid) {
      await redis.del(verificationKey(jid));
    },
    async countCodeSend(jid, windowMs) {
      return Number(await redis.eval(COUNT_CODE_SEND, 1, codeSendsKey(jid), windowMs));
    },
    async recordHelp(contact, own, at) {
      await redis
        .multi()
        .hset(helpKey(contact), `${own}:at`, at)
        .hincrby(helpKey(contact), `${own}:count`, 1)
        .exec();
    },
    async lastHelp(contact, own) {
      const [at, count] = await redis.hmget(helpKey(contact), `${own}:at`, `${own}:count`);
      if (at === null || at === undefined) return null;
      return { at: Number(at), count: Number(count ?? 0) };
    },
    close: () => Promise.resolve(),
  };

  /** Drops the number index only if it still names this user. */
  async function releaseNumber(registration: Registration): Promise<void> {
    await redis.eval(RELEASE, 1, numberKey(registration.number), registration.jid);
  }
}
