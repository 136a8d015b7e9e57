import { randomBytes } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { Keys } from '@switchboard/protocol';
import { blockCandidates, compareUtf8, domainOf, utf8Bytes } from './addresses.js';
import {
  AccountExistsError,
  AccountNotFoundError,
  BlocklistFullError,
  OfflineFullError,
  PrivateStorageFullError,
  RosterFullError,
  TooLargeError,
} from './errors.js';
import { mobileKeysOf, redisMobileStores } from './redis-mobile.js';
import { canonicalItem, EMPTY_ROSTER_VERSION, formatVersion, parseVersion, sameItem } from './roster-item.js';
import { sanitizeCredentials } from './scram.js';
import {
  resolveLimits,
  type Account,
  type Credentials,
  type OfflineMessage,
  type RosterItem,
  type Store,
  type StoreLimits,
} from './store.js';
import { Script } from './redis-script.js';

export type RedisStoreOptions = StoreLimits &
  (
    | { /** The store opens its own connection and closes it in `close()`. */ readonly url: string }
    | { /** A connection owned by the caller; `close()` leaves it open. */ readonly client: Redis | Cluster }
  );

/**
 * Key names of one user's data. All of them go through `Keys.user`, so they
 * carry the `{bare JID}` hash tag and share one Redis Cluster slot: every
 * script and MULTI below touches the keys of a single user only.
 */
export function userKeys(user: string) {
  return {
    /** Hash: credentials (JSON), createdAt. */
    account: Keys.user(user, 'account'),
    /** Hash: contact → `{"v":<version>,"item":<canonical item>}`. */
    roster: Keys.user(user, 'roster'),
    /** Hash: epoch, version (counter), base (oldest version a delta can start from). */
    rosterMeta: Keys.user(user, 'roster:meta'),
    /** Sorted set: removed contact, scored by the version it was removed in. */
    rosterRemoved: Keys.user(user, 'roster:removed'),
    /** Hash: envelope id → `{"xml":…,"ts":…}`. */
    offline: Keys.user(user, 'offline'),
    /** Sorted set: envelope id scored by arrival sequence. */
    offlineOrder: Keys.user(user, 'offline:order'),
    /** Counter for arrival sequence numbers. */
    offlineSeq: Keys.user(user, 'offline:seq'),
    /** Hash: "name namespace" → XML. */
    privateXml: Keys.user(user, 'private'),
    /** String: the vCard XML. */
    vcard: Keys.user(user, 'vcard'),
    /** Sorted set (all scores 0, so ordered by bytes): blocked JIDs. */
    blocklist: Keys.user(user, 'blocklist'),
  };
}

/**
 * Account indexes for listing: all accounts, and the accounts of one domain.
 * They live outside the user's slot, so they are written by separate
 * commands; see `accounts.create` for the order that keeps them a superset.
 */
export const AccountIndexKeys = {
  all: (): string => 'accounts',
  domain: (domain: string): string => `accounts:{${domain}}`,
} as const;

const ROSTER_CAS = `
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return {'conflict'} end
if ARGV[3] ~= '' and cur == '' and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return {'full'} end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'epoch', ARGV[6], 'version', 0, 'base', 0)
end
local v = redis.call('HINCRBY', KEYS[2], 'version', 1)
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[3], v, ARGV[1])
  local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
  if excess > 0 then
    local popped = redis.call('ZPOPMIN', KEYS[3], excess)
    local newest = tonumber(popped[#popped])
    if newest > tonumber(redis.call('HGET', KEYS[2], 'base')) then redis.call('HSET', KEYS[2], 'base', newest) end
  end
else
  redis.call('HSET', KEYS[1], ARGV[1], '{"v":' .. v .. ',"item":' .. ARGV[3] .. '}')
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return {'ok', epoch, v}
`;

const ACCOUNT_CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'credentials', ARGV[1], 'createdAt', ARGV[2])
return 1
`;

const ACCOUNT_SET_CREDENTIALS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'credentials', ARGV[1])
return 1
`;

const DELETE_USER = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', unpack(KEYS))
return existed
`;

const OFFLINE_PUSH = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

const OFFLINE_LIST = `
local ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]))
local out = {}
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[1], id)
end
return out
`;

const OFFLINE_REMOVE = `
local n = 0
for i, id in ipairs(ARGV) do
  if redis.call('HDEL', KEYS[1], id) == 1 then
    redis.call('ZREM', KEYS[2], id)
    n = n + 1
  end
end
return n
`;

const PRIVATE_SET = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

const BLOCKLIST_ADD = `
local fresh = 0
for i = 2, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then fresh = fresh + 1 end
end
if redis.call('ZCARD', KEYS[1]) + fresh > tonumber(ARGV[1]) then return 0 end
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 0, ARGV[i]) end
return 1
`;

const scripts = {
  rosterCas: new Script(ROSTER_CAS),
  accountCreate: new Script(ACCOUNT_CREATE),
  accountSetCredentials: new Script(ACCOUNT_SET_CREDENTIALS),
  deleteUser: new Script(DELETE_USER),
  offlinePush: new Script(OFFLINE_PUSH),
  offlineList: new Script(OFFLINE_LIST),
  offlineRemove: new Script(OFFLINE_REMOVE),
  privateSet: new Script(PRIVATE_SET),
  blocklistAdd: new Script(BLOCKLIST_ADD),
};

/** Results of a MULTI, failing on the first command error. */
async function execMulti(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const results = await multi.exec();
  if (results === null) throw new Error('MULTI aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

function newEpoch(): string {
  return randomBytes(4).toString('hex');
}

interface StoredItem {
  readonly v: number;
  readonly item: RosterItem;
}

function metaVersion(epoch: unknown, version: unknown): string {
  return typeof epoch === 'string' && typeof version === 'string'
    ? formatVersion(epoch, Number(version))
    : EMPTY_ROSTER_VERSION;
}

/** Optimistic retries only lose to writers that succeeded, so this is never reached in practice. */
const MAX_ROSTER_ATTEMPTS = 10_000;

/**
 * The Redis driver for the cluster. Atomic operations are Lua scripts or
 * MULTI blocks over one user's keys; the roster update is optimistic: read,
 * run the mutation in JS, then a compare-and-set script that retries when
 * another writer changed the item in between. It works on a shared
 * connection (unlike WATCH) and on Redis Cluster. The account indexes are
 * the one place where a crash between two commands shows: `count()` may
 * include an account whose creation never completed (`list()` skips it).
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const limits = resolveLimits(options);
  const owned = 'url' in options;
  const client: Redis | Cluster = 'url' in options ? new Redis(options.url) : options.client;
  let closed = false;

  const readAccount = async (jid: string): Promise<Account | null> => {
    const hash = await client.hgetall(userKeys(jid).account);
    if (hash['credentials'] === undefined || hash['createdAt'] === undefined) return null;
    return {
      jid,
      credentials: JSON.parse(hash['credentials']) as Credentials,
      createdAt: Number(hash['createdAt']),
    };
  };

  const listIndex = async (key: string, prefix: string, after: string | undefined, limit: number) => {
    const max = prefix === '' ? '+' : Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]);
    const out: string[] = [];
    let cursor = after;
    while (out.length < limit) {
      const min =
        cursor !== undefined && compareUtf8(cursor, prefix) >= 0
          ? `(${cursor}`
          : prefix === ''
            ? '-'
            : `[${prefix}`;
      const want = limit - out.length;
      const page = await client.zrangebylex(key, min, max, 'LIMIT', 0, want);
      // The index may name an account whose creation crashed half-way; skip it.
      const exists = await Promise.all(page.map((jid) => client.exists(userKeys(jid).account)));
      page.forEach((jid, i) => {
        if (exists[i] === 1) out.push(jid);
      });
      if (page.length < want) break;
      cursor = page[page.length - 1];
    }
    return out;
  };

  return {
    accounts: {
      async create(jid, credentials) {
        const clean = sanitizeCredentials(credentials);
        const createdAt = Date.now();
        // Index first: a crash in between leaves an index entry without an
        // account (skipped by list) rather than an account nobody can list.
        await Promise.all([
          client.zadd(AccountIndexKeys.all(), 0, jid),
          client.zadd(AccountIndexKeys.domain(domainOf(jid)), 0, jid),
        ]);
        const created = await scripts.accountCreate.run(
          client,
          [userKeys(jid).account],
          [JSON.stringify(clean), createdAt],
        );
        if (created !== 1) throw new AccountExistsError(jid);
        return { jid, credentials: clean, createdAt };
      },
      get: readAccount,
      async setCredentials(jid, credentials) {
        const clean = sanitizeCredentials(credentials);
        const ok = await scripts.accountSetCredentials.run(
          client,
          [userKeys(jid).account],
          [JSON.stringify(clean)],
        );
        if (ok !== 1) throw new AccountNotFoundError(jid);
      },
      async delete(jid) {
        const existed = await scripts.deleteUser.run(
          client,
          [...Object.values(userKeys(jid)), ...(await mobileKeysOf(client, jid))],
          [],
        );
        await Promise.all([
          client.zrem(AccountIndexKeys.all(), jid),
          client.zrem(AccountIndexKeys.domain(domainOf(jid)), jid),
        ]);
        return existed === 1;
      },
      async list(opts = {}) {
        const key = opts.domain === undefined ? AccountIndexKeys.all() : AccountIndexKeys.domain(opts.domain);
        return listIndex(key, opts.prefix ?? '', opts.after, opts.limit ?? 100);
      },
      async count(domain) {
        return client.zcard(domain === undefined ? AccountIndexKeys.all() : AccountIndexKeys.domain(domain));
      },
    },

    rosters: {
      async get(user) {
        const k = userKeys(user);
        const [meta, hash] = (await execMulti(
          client.multi().hmget(k.rosterMeta, 'epoch', 'version').hgetall(k.roster),
        )) as [(string | null)[], Record<string, string>];
        const items = Object.keys(hash)
          .sort(compareUtf8)
          .map((contact) => (JSON.parse(hash[contact]!) as StoredItem).item);
        return { version: metaVersion(meta[0], meta[1]), items };
      },
      async getItem(user, contact) {
        const raw = await client.hget(userKeys(user).roster, contact);
        return raw === null ? null : (JSON.parse(raw) as StoredItem).item;
      },
      async update(user, contact, fn) {
        const k = userKeys(user);
        for (let attempt = 0; attempt < MAX_ROSTER_ATTEMPTS; attempt++) {
          const [raw, meta] = (await execMulti(
            client.multi().hget(k.roster, contact).hmget(k.rosterMeta, 'epoch', 'version'),
          )) as [string | null, (string | null)[]];
          const current = raw === null ? null : (JSON.parse(raw) as StoredItem).item;
          const returned = fn(current);
          const next = returned === null ? null : canonicalItem(contact, returned);
          if (sameItem(current, next)) {
            return { item: current, version: metaVersion(meta[0], meta[1]), changed: false };
          }
          const result = (await scripts.rosterCas.run(
            client,
            [k.roster, k.rosterMeta, k.rosterRemoved],
            [
              contact,
              raw ?? '',
              next === null ? '' : JSON.stringify(next),
              limits.rosterCap,
              limits.rosterTombstoneCap,
              newEpoch(),
            ],
          )) as [string, string?, number?];
          if (result[0] === 'conflict') continue;
          if (result[0] === 'full') throw new RosterFullError(user, limits.rosterCap);
          return { item: next, version: formatVersion(result[1]!, result[2]!), changed: true };
        }
        throw new Error(`roster update of ${user}/${contact} kept conflicting`);
      },
      async changesSince(user, version) {
        const parsed = parseVersion(version);
        if (parsed === null && version !== EMPTY_ROSTER_VERSION) return null;
        const k = userKeys(user);
        const [meta, hash, removed] = (await execMulti(
          client
            .multi()
            .hmget(k.rosterMeta, 'epoch', 'version', 'base')
            .hgetall(k.roster)
            .zrangebyscore(k.rosterRemoved, `(${parsed?.counter ?? 0}`, '+inf'),
        )) as [(string | null)[], Record<string, string>, string[]];
        const [epoch, current, base] = meta;
        if (epoch === null || epoch === undefined || current === null || current === undefined) {
          return version === EMPTY_ROSTER_VERSION ? { version, items: [], removed: [] } : null;
        }
        if (parsed === null || parsed.epoch !== epoch) return null;
        if (parsed.counter < Number(base) || parsed.counter > Number(current)) return null;
        const items = Object.keys(hash)
          .sort(compareUtf8)
          .map((contact) => JSON.parse(hash[contact]!) as StoredItem)
          .filter((s) => s.v > parsed.counter)
          .map((s) => s.item);
        return { version: formatVersion(epoch, Number(current)), items, removed: removed.sort(compareUtf8) };
      },
    },

    offline: {
      async push(user, message) {
        const k = userKeys(user);
        const result = await scripts.offlinePush.run(
          client,
          [k.offline, k.offlineOrder, k.offlineSeq],
          [message.id, JSON.stringify({ xml: message.xml, ts: message.ts }), limits.offlineCap],
        );
        if (result === -1) throw new OfflineFullError(user, limits.offlineCap);
        return result === 1;
      },
      async list(user, limit) {
        if (limit !== undefined && limit <= 0) return [];
        const k = userKeys(user);
        const flat = (await scripts.offlineList.run(
          client,
          [k.offline, k.offlineOrder],
          [limit === undefined ? -1 : limit - 1],
        )) as string[];
        const out: OfflineMessage[] = [];
        for (let i = 0; i < flat.length; i += 2) {
          const body = JSON.parse(flat[i + 1]!) as { xml: string; ts: number };
          out.push({ id: flat[i]!, xml: body.xml, ts: body.ts });
        }
        return out;
      },
      async remove(user, ids) {
        if (ids.length === 0) return 0;
        const k = userKeys(user);
        return (await scripts.offlineRemove.run(
          client,
          [k.offline, k.offlineOrder],
          [...new Set(ids)],
        )) as number;
      },
      async count(user) {
        return client.hlen(userKeys(user).offline);
      },
    },

    privateXml: {
      async get(user, key) {
        return client.hget(userKeys(user).privateXml, key);
      },
      async set(user, key, xml) {
        const bytes = utf8Bytes(xml);
        if (bytes > limits.privateXmlMaxBytes)
          throw new TooLargeError('private', bytes, limits.privateXmlMaxBytes);
        const ok = await scripts.privateSet.run(
          client,
          [userKeys(user).privateXml],
          [key, xml, limits.privateXmlCap],
        );
        if (ok !== 1) throw new PrivateStorageFullError(user, limits.privateXmlCap);
      },
      async delete(user, key) {
        await client.hdel(userKeys(user).privateXml, key);
      },
    },

    vcards: {
      async get(user) {
        return client.get(userKeys(user).vcard);
      },
      async set(user, xml) {
        const bytes = utf8Bytes(xml);
        if (bytes > limits.vcardMaxBytes) throw new TooLargeError('vcard', bytes, limits.vcardMaxBytes);
        await client.set(userKeys(user).vcard, xml);
      },
      async delete(user) {
        await client.del(userKeys(user).vcard);
      },
    },

    blocklists: {
      async list(user) {
        return client.zrange(userKeys(user).blocklist, 0, -1);
      },
      async add(user, jids) {
        if (jids.length === 0) return;
        const ok = await scripts.blocklistAdd.run(
          client,
          [userKeys(user).blocklist],
          [limits.blocklistCap, ...new Set(jids)],
        );
        if (ok !== 1) throw new BlocklistFullError(user, limits.blocklistCap);
      },
      async remove(user, jids) {
        if (jids.length === 0) return;
        await client.zrem(userKeys(user).blocklist, ...jids);
      },
      async clear(user) {
        await client.del(userKeys(user).blocklist);
      },
      async isBlocked(user, jid) {
        const key = userKeys(user).blocklist;
        const scores = await execMulti(
          blockCandidates(jid).reduce((m, candidate) => m.zscore(key, candidate), client.multi()),
        );
        return scores.some((s) => s !== null);
      },
    },

    ...redisMobileStores(client),

    async close() {
      if (closed) return;
      closed = true;
      if (owned) await client.quit();
    },
  };
}
