import type { Cluster, Redis } from 'ioredis';
import { Keys } from '@switchboard/protocol';
import { compareUtf8 } from './addresses.js';
import { pageBounds, selectIds } from './archive-page.js';
import { PepNodeNotFoundError } from './errors.js';
import type {
  ArchivedMessage,
  ArchivePrefs,
  ArchiveStore,
  PepItem,
  PepNodeConfig,
  PepStore,
  PushRegistration,
  PushStore,
} from './store.js';
import { Script } from './redis-script.js';

/**
 * Keys of one user's archive, PEP and push data; all carry the `{bare JID}`
 * hash tag (ARCHITECTURE.md), so every script below stays in one slot.
 */
export function mobileKeys(user: string) {
  return {
    /** Hash: archive id → message XML. */
    archive: Keys.user(user, 'archive'),
    /** Hash: archive id → `<ts> <with>`, what queries filter on without reading the XML. */
    archiveMeta: Keys.user(user, 'archive:meta'),
    /** Sorted set: archive id scored by arrival sequence. */
    archiveOrder: Keys.user(user, 'archive:order'),
    archiveSeq: Keys.user(user, 'archive:seq'),
    /** String: XEP-0313 preferences (JSON). */
    archivePrefs: Keys.user(user, 'archive:prefs'),
    /** Hash: PEP node → config (JSON). */
    pepNodes: Keys.user(user, 'pep:nodes'),
    pepSeq: Keys.user(user, 'pep:seq'),
    /** Hash: `<jid>\n<node>` → `{formXml, resource}` (JSON). */
    push: Keys.user(user, 'push'),
  };
}

/** Hash of one PEP node's items: item id → `<seq> <JSON {xml, ts}>`. */
export function pepItemsKey(user: string, node: string): string {
  return Keys.user(user, `pep:items:${node}`);
}

const ARCHIVE_APPEND = `
local nb = tonumber(ARGV[5])
if nb then
  -- Retention: entries arrive in time order, so expired ones are at the front.
  while true do
    local first = redis.call('ZRANGE', KEYS[3], 0, 0)
    if #first == 0 then break end
    local meta = redis.call('HGET', KEYS[2], first[1])
    if meta and tonumber(string.sub(meta, 1, string.find(meta, ' ', 1, true) - 1)) >= nb then break end
    redis.call('ZREM', KEYS[3], first[1])
    redis.call('HDEL', KEYS[1], first[1])
    redis.call('HDEL', KEYS[2], first[1])
  end
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])
if excess > 0 then
  local old = redis.call('ZPOPMIN', KEYS[3], excess)
  for i = 1, #old, 2 do
    redis.call('HDEL', KEYS[1], old[i])
    redis.call('HDEL', KEYS[2], old[i])
  end
end
return 1
`;

// Returns the ids passing the filters, in archive order; ARGV: with ('' for any), start, end.
const ARCHIVE_FILTER = `
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
local w, s, e = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, #ids, 500 do
  local chunk = {}
  for j = i, math.min(i + 499, #ids) do chunk[#chunk + 1] = ids[j] end
  local metas = redis.call('HMGET', KEYS[1], unpack(chunk))
  for j = 1, #chunk do
    local meta = metas[j]
    if meta then
      local sp = string.find(meta, ' ', 1, true)
      local ts = tonumber(string.sub(meta, 1, sp - 1))
      if (w == '' or string.sub(meta, sp + 1) == w) and ts >= s and ts <= e then out[#out + 1] = chunk[j] end
    end
  end
end
return out
`;

const ARCHIVE_PURGE = `
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
local nb = tonumber(ARGV[1])
local n = 0
for _, id in ipairs(ids) do
  local meta = redis.call('HGET', KEYS[2], id)
  if meta and tonumber(string.sub(meta, 1, string.find(meta, ' ', 1, true) - 1)) < nb then
    redis.call('ZREM', KEYS[3], id)
    redis.call('HDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    n = n + 1
  end
end
return n
`;

// Keeps the newest ARGV[1] items of the node hash KEYS[1] (values start with their sequence number).
const TRIM = `
local function trim(key, keep)
  local all = redis.call('HGETALL', key)
  local n = #all / 2
  if n <= keep then return end
  local entries = {}
  for i = 1, #all, 2 do
    entries[#entries + 1] = { all[i], tonumber(string.sub(all[i + 1], 1, string.find(all[i + 1], ' ', 1, true) - 1)) }
  end
  table.sort(entries, function(a, b) return a[2] < b[2] end)
  for i = 1, n - keep do redis.call('HDEL', key, entries[i][1]) end
end
`;

const PEP_PUT_NODE = `${TRIM}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
trim(KEYS[2], tonumber(ARGV[3]))
return 1
`;

const PEP_PUBLISH = `${TRIM}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return -1 end
local config = cjson.decode(raw)
local keep = 1
if config.persistItems then keep = config.maxItems end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], ARGV[2], seq .. ' ' .. ARGV[3])
trim(KEYS[2], keep)
return 1
`;

const scripts = {
  archiveAppend: new Script(ARCHIVE_APPEND),
  archiveFilter: new Script(ARCHIVE_FILTER),
  archivePurge: new Script(ARCHIVE_PURGE),
  pepPutNode: new Script(PEP_PUT_NODE),
  pepPublish: new Script(PEP_PUBLISH),
};

function parseStoredItem(id: string, raw: string): PepItem & { seq: number } {
  const space = raw.indexOf(' ');
  const body = JSON.parse(raw.slice(space + 1)) as { xml: string; ts: number };
  return { id, xml: body.xml, ts: body.ts, seq: Number(raw.slice(0, space)) };
}

/** Every key of a user's in these stores, PEP node item hashes included (account deletion). */
export async function mobileKeysOf(client: Redis | Cluster, user: string): Promise<string[]> {
  const k = mobileKeys(user);
  const nodes = await client.hkeys(k.pepNodes);
  return [...Object.values(k), ...nodes.map((node) => pepItemsKey(user, node))];
}

/** The archive, PEP and push stores of the Redis driver. */
export function redisMobileStores(client: Redis | Cluster): {
  archive: ArchiveStore;
  pep: PepStore;
  push: PushStore;
} {
  const archive: ArchiveStore = {
    async append(user, m, options) {
      const k = mobileKeys(user);
      const added = await scripts.archiveAppend.run(
        client,
        [k.archive, k.archiveMeta, k.archiveOrder, k.archiveSeq],
        [m.id, m.xml, `${m.ts} ${m.with}`, options.cap, options.notBefore ?? ''],
      );
      return added === 1;
    },
    async appendMany(entries, options) {
      // Sent back to back without awaiting each: one pipeline on the connection.
      const results = await Promise.all(entries.map((e) => archive.append(e.user, e.message, options)));
      return results.filter(Boolean).length;
    },
    async query(user, q) {
      const k = mobileKeys(user);
      const ids = selectIds(
        (await scripts.archiveFilter.run(
          client,
          [k.archiveMeta, k.archiveOrder],
          [q.with ?? '', q.start ?? -1e300, q.end ?? 1e300],
        )) as string[],
        q,
      );
      const bounds = pageBounds(ids, q);
      const page = ids.slice(bounds.from, bounds.to);
      const messages: ArchivedMessage[] = [];
      if (page.length > 0) {
        const [xmls, metas] = await Promise.all([
          client.hmget(k.archive, ...page),
          client.hmget(k.archiveMeta, ...page),
        ]);
        page.forEach((id, i) => {
          const meta = metas[i];
          const xml = xmls[i];
          if (meta == null || xml == null) return;
          const space = meta.indexOf(' ');
          messages.push({ id, ts: Number(meta.slice(0, space)), with: meta.slice(space + 1), xml });
        });
      }
      return { messages, count: ids.length, firstIndex: bounds.from, complete: bounds.complete };
    },
    async purge(user, before) {
      const k = mobileKeys(user);
      return (await scripts.archivePurge.run(
        client,
        [k.archive, k.archiveMeta, k.archiveOrder],
        [before],
      )) as number;
    },
    count: (user) => client.zcard(mobileKeys(user).archiveOrder),
    async getPrefs(user) {
      const raw = await client.get(mobileKeys(user).archivePrefs);
      return raw === null ? null : (JSON.parse(raw) as ArchivePrefs);
    },
    async setPrefs(user, prefs) {
      await client.set(mobileKeys(user).archivePrefs, JSON.stringify(prefs));
    },
  };

  const pep: PepStore = {
    async getNode(user, node) {
      const raw = await client.hget(mobileKeys(user).pepNodes, node);
      return raw === null ? null : (JSON.parse(raw) as PepNodeConfig);
    },
    async listNodes(user) {
      const all = await client.hgetall(mobileKeys(user).pepNodes);
      return Object.keys(all)
        .sort(compareUtf8)
        .map((node) => ({ node, config: JSON.parse(all[node]!) as PepNodeConfig }));
    },
    async putNode(user, node, config) {
      await scripts.pepPutNode.run(
        client,
        [mobileKeys(user).pepNodes, pepItemsKey(user, node)],
        [node, JSON.stringify(config), config.persistItems ? config.maxItems : 1],
      );
    },
    async deleteNode(user, node) {
      const [removed] = await Promise.all([
        client.hdel(mobileKeys(user).pepNodes, node),
        client.del(pepItemsKey(user, node)),
      ]);
      return removed > 0;
    },
    async publish(user, node, item) {
      const k = mobileKeys(user);
      const result = await scripts.pepPublish.run(
        client,
        [k.pepNodes, pepItemsKey(user, node), k.pepSeq],
        [node, item.id, JSON.stringify({ xml: item.xml, ts: item.ts })],
      );
      if (result === -1) throw new PepNodeNotFoundError(user, node);
    },
    async items(user, node, max) {
      if (max !== undefined && max <= 0) return [];
      const all = await client.hgetall(pepItemsKey(user, node));
      const items = Object.entries(all)
        .map(([id, raw]) => parseStoredItem(id, raw))
        .sort((a, b) => b.seq - a.seq)
        .slice(0, max ?? Infinity);
      return items.map(({ id, xml, ts }) => ({ id, xml, ts }));
    },
    async item(user, node, id) {
      const raw = await client.hget(pepItemsKey(user, node), id);
      if (raw === null) return null;
      const { xml, ts } = parseStoredItem(id, raw);
      return { id, xml, ts };
    },
    async retract(user, node, id) {
      return (await client.hdel(pepItemsKey(user, node), id)) > 0;
    },
  };

  const push: PushStore = {
    async list(user) {
      const all = await client.hgetall(mobileKeys(user).push);
      const out: PushRegistration[] = Object.entries(all).map(([field, raw]) => {
        const nl = field.indexOf('\n');
        const { formXml, resource } = JSON.parse(raw) as { formXml: string; resource: string };
        return { jid: field.slice(0, nl), node: field.slice(nl + 1), formXml, resource };
      });
      return out.sort((a, b) => compareUtf8(a.jid, b.jid) || compareUtf8(a.node, b.node));
    },
    async put(user, reg) {
      await client.hset(
        mobileKeys(user).push,
        `${reg.jid}\n${reg.node}`,
        JSON.stringify({ formXml: reg.formXml, resource: reg.resource }),
      );
    },
    async remove(user, jid, node) {
      const key = mobileKeys(user).push;
      const fields =
        node === undefined
          ? (await client.hkeys(key)).filter((f) => f.startsWith(`${jid}\n`))
          : [`${jid}\n${node}`];
      return fields.length === 0 ? 0 : client.hdel(key, ...fields);
    },
  };

  return { archive, pep, push };
}
