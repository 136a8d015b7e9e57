import { Redis, type RedisOptions } from 'ioredis';
import {
  BusClosedError,
  BusFencedError,
  BusOverflowError,
  DEFAULT_MAX_LENGTH,
  type Bus,
  type BusEntry,
  type ConsumeOptions,
  type Consumer,
  type PendingSummary,
  type PublishItem,
  type PublishOptions,
} from './bus.js';
import { ConsumerLoop, type RawEntry, type ReadPort } from './consumer-loop.js';

export interface RedisBusOptions {
  /** `redis://host:port/db`; or leave it out and give `redis`. */
  readonly url?: string;
  /** ioredis options for every connection the bus opens. */
  readonly redis?: RedisOptions;
  /** Prepended to every stream name on the server (e.g. per tenant or per test); callers never see it. */
  readonly keyPrefix?: string;
  /** Cap on entries per stream; see {@link BusOverflowError}. Default {@link DEFAULT_MAX_LENGTH}. */
  readonly maxLength?: number;
  /** Connection errors (ioredis reconnects by itself); without it they are dropped. */
  readonly onConnectionError?: (error: Error) => void;
}

/** The field every entry's payload is stored under. */
const FIELD = 'p';

/**
 * Fenced publish: KEYS = the F fence keys, then one stream key per item;
 * ARGV = F, the F fence values, the field name, one payload per item.
 * Checks every fence, then appends, in one atomic step; a fence that does
 * not hold returns `{'FENCED', key}` and nothing is appended.
 */
const FENCED_PUBLISH = `local f = tonumber(ARGV[1])
for i = 1, f do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then return {'FENCED', KEYS[i]} end
end
local ids = {}
for i = f + 1, #KEYS do
  ids[#ids + 1] = redis.call('XADD', KEYS[i], '*', ARGV[f + 2], ARGV[i + 2])
end
return ids`;

/**
 * Trim past what every group has acked: KEYS = the stream. For each group the
 * oldest id it still needs is its oldest pending entry (XPENDING) or, with
 * nothing pending, the id after its last-delivered-id; XTRIM MINID cuts below
 * the smallest of those. A stream with no group is never trimmed. Reading the
 * groups and trimming happen in one atomic step. Returns `{trimmed, length}`.
 * Ids are compared and incremented as decimal strings: the sequence part is a
 * 64-bit number that Lua's doubles cannot hold exactly.
 */
const TRIM_ACKED = `if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local function cmpnum(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function split(id)
  local dash = string.find(id, '-', 1, true)
  return string.sub(id, 1, dash - 1), string.sub(id, dash + 1)
end
local function cmpid(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  local c = cmpnum(am, bm)
  if c ~= 0 then return c end
  return cmpnum(as, bs)
end
local function incr(n)
  local digits = {}
  for i = 1, #n do digits[i] = string.byte(n, i) - 48 end
  local i = #digits
  while i > 0 do
    if digits[i] < 9 then digits[i] = digits[i] + 1; break end
    digits[i] = 0
    i = i - 1
  end
  local out = i == 0 and '1' or ''
  for j = 1, #digits do out = out .. digits[j] end
  return out
end
local function nextid(id)
  local ms, seq = split(id)
  if seq == '18446744073709551615' then return incr(ms) .. '-0' end
  return ms .. '-' .. incr(seq)
end
local min = nil
for _, flat in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
  local keep = nil
  if tonumber(info['pending']) > 0 then
    keep = redis.call('XPENDING', KEYS[1], info['name'])[2]
  end
  if not keep then keep = nextid(info['last-delivered-id']) end
  if min == nil or cmpid(keep, min) < 0 then min = keep end
end
if min == nil then return {0, redis.call('XLEN', KEYS[1])} end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', min)
return {trimmed, redis.call('XLEN', KEYS[1])}`;

/**
 * The Redis Streams driver.
 *
 * - One shared command connection (auto-pipelined) for publish, ack, claim
 *   and trim; one dedicated connection per consumer for its blocking
 *   XREADGROUP, so a blocked read never delays anyone else's commands.
 * - ioredis reconnects after Redis restarts and re-sends what was in
 *   flight; consumer connections never give up (`maxRetriesPerRequest:
 *   null`). A group the server lost (no AOF) is created again.
 * - Cap check without a round trip per publish: `publishBatch` sends an
 *   XLEN per target stream in the same pipeline as its XADDs and remembers
 *   the length. Only when the remembered length plus the batch would pass
 *   the cap does it measure and trim first (extra round trips, only near
 *   the cap). The remembered length lags what other publishers added, so a
 *   stream can pass the cap by at most one in-flight batch per publisher
 *   process; it never drops an unacked entry.
 */
export function createRedisBus(options: RedisBusOptions): Bus {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  const prefix = options.keyPrefix ?? '';
  const key = (stream: string): string => prefix + stream;
  const unkey = (name: string): string => name.slice(prefix.length);
  const connect = (extra: RedisOptions): Redis => {
    const merged: RedisOptions = { ...options.redis, ...extra };
    const redis = options.url === undefined ? new Redis(merged) : new Redis(options.url, merged);
    redis.on('error', (error: Error) => options.onConnectionError?.(error));
    return redis;
  };

  const commands = connect({ enableAutoPipelining: true });
  // Sent as EVALSHA (ioredis loads the script on a NOSCRIPT reply), not its source every batch.
  commands.defineCommand('fencedPublish', { lua: FENCED_PUBLISH });
  commands.defineCommand('trimAcked', { lua: TRIM_ACKED });
  /** Last length seen per stream (server name), from the XLEN sent with each publish. */
  const lengths = new Map<string, number>();
  const consumers = new Set<Consumer>();
  let closed = false;

  const check = (): void => {
    if (closed) throw new BusClosedError();
  };

  const ensureGroups = async (streams: readonly string[], group: string, startId: string): Promise<void> => {
    const pipeline = commands.pipeline();
    for (const stream of streams) pipeline.xgroup('CREATE', key(stream), group, startId, 'MKSTREAM');
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error !== null && !error.message.startsWith('BUSYGROUP')) throw error;
  };

  const trim = async (stream: string): Promise<number> => {
    const name = key(stream);
    // One script: the groups are read and the stream trimmed in one atomic step, so a group
    // created (or a consumer reading) in between cannot have entries trimmed from under it.
    const reply = asArray(await (commands as unknown as TrimCommands).trimAcked(1, name));
    const [trimmed, length] = reply.map(Number);
    lengths.set(name, length!);
    return trimmed!;
  };

  /** Makes room for `count` more entries or throws BusOverflowError; only called near the cap. */
  const makeRoom = async (stream: string, count: number): Promise<void> => {
    const name = key(stream);
    let length = await commands.xlen(name);
    lengths.set(name, length);
    if (length + count <= maxLength) return;
    await trim(stream);
    length = lengths.get(name) ?? length;
    if (length + count > maxLength) throw new BusOverflowError(stream, length, maxLength);
  };

  const publishBatch = async (items: readonly PublishItem[], options?: PublishOptions): Promise<string[]> => {
    check();
    if (items.length === 0) return [];
    const counts = new Map<string, number>();
    for (const item of items) counts.set(item.stream, (counts.get(item.stream) ?? 0) + 1);
    for (const [stream, count] of counts) {
      const known = lengths.get(key(stream));
      if (known === undefined || known + count > maxLength) await makeRoom(stream, count);
    }
    const fences = options?.fences ?? [];
    const pipeline = commands.pipeline();
    if (fences.length > 0) {
      (pipeline as unknown as FencedPipeline).fencedPublish(
        fences.length + items.length,
        ...fences.map((fence) => fence.key),
        ...items.map((item) => key(item.stream)),
        fences.length,
        ...fences.map((fence) => fence.value),
        FIELD,
        ...items.map((item) => item.payload),
      );
    } else {
      for (const item of items) pipeline.xadd(key(item.stream), '*', FIELD, item.payload);
    }
    for (const stream of counts.keys()) pipeline.xlen(key(stream));
    const results = (await pipeline.exec()) ?? [];
    const ids: string[] = [];
    const written = fences.length > 0 ? 1 : items.length;
    if (fences.length > 0) {
      const [error, reply] = results[0] ?? [new Error('missing reply'), null];
      if (error !== null) throw error;
      const replies = asArray(reply);
      if (replies[0] === 'FENCED') throw new BusFencedError(String(replies[1]));
      for (const id of replies) ids.push(String(id));
    } else {
      for (let i = 0; i < items.length; i++) {
        const [error, id] = results[i] ?? [new Error('missing reply'), null];
        if (error !== null) throw error;
        ids.push(String(id));
      }
    }
    let i = written;
    for (const stream of counts.keys()) {
      const [error, length] = results[i++] ?? [null, null];
      if (error === null && typeof length === 'number') lengths.set(key(stream), length);
    }
    return ids;
  };

  const ackEntries = async (
    group: string,
    entries: readonly { stream: string; id: string }[],
  ): Promise<number> => {
    check();
    const byStream = new Map<string, string[]>();
    for (const entry of entries) {
      const ids = byStream.get(entry.stream);
      if (ids === undefined) byStream.set(entry.stream, [entry.id]);
      else ids.push(entry.id);
    }
    if (byStream.size === 0) return 0;
    const pipeline = commands.pipeline();
    for (const [stream, ids] of byStream) pipeline.xack(key(stream), group, ...ids);
    let acked = 0;
    for (const [error, count] of (await pipeline.exec()) ?? []) {
      if (error !== null) throw error;
      acked += Number(count);
    }
    return acked;
  };

  const port = (group: string, consumer: string): ReadPort => {
    const reader = connect({ maxRetriesPerRequest: null, enableAutoPipelining: false });
    /** CLIENT ID of the reader's current connection, to unblock it from the command connection. */
    let clientId: number | undefined;
    /** A read is in flight on `reader` (blocking or not). */
    let reading = false;
    let stopped = false;
    reader.on('close', () => (clientId = undefined));
    let readCount = 0;

    /**
     * CLIENT UNBLOCK from the command connection. It can reach the server before the read it
     * targets (another socket), and then it unblocks nothing (reply 0): try again for a while,
     * as long as that same read is still in flight.
     */
    const unblock = (read: number, attempt: number): void => {
      if (!reading || read !== readCount || clientId === undefined || stopped) return;
      commands.client('UNBLOCK', clientId).then(
        (done) => {
          if (Number(done) === 0 && attempt < 20) setTimeout(() => unblock(read, attempt + 1), 5);
        },
        () => undefined,
      );
    };

    const read = async (
      args: (string | number)[],
      streams: Iterable<[string, string]>,
    ): Promise<RawEntry[]> => {
      const names: string[] = [];
      const ids: string[] = [];
      for (const [stream, id] of streams) {
        names.push(key(stream));
        ids.push(id);
      }
      if (stopped) return [];
      reading = true;
      readCount++;
      try {
        const reply = await reader.call('XREADGROUP', [
          'GROUP',
          group,
          consumer,
          ...args,
          'STREAMS',
          ...names,
          ...ids,
        ]);
        return parseRead(reply, unkey);
      } finally {
        reading = false;
      }
    };

    return {
      ensureGroups: (streams) => ensureGroups(streams, group, '0'),
      readPending: (cursors, count) => read(['COUNT', count], cursors),
      async readNew(streams, count, blockMs) {
        if (clientId === undefined && !stopped) {
          reading = true;
          try {
            clientId = Number(await reader.client('ID'));
          } finally {
            reading = false;
          }
        }
        return read(
          ['COUNT', count, 'BLOCK', blockMs],
          streams.map((stream) => [stream, '>']),
        );
      },
      interrupt(stopping) {
        if (stopping) {
          stopped = true;
          // Abandons a read in flight at once (it may be blocked, or waiting for Redis to come
          // back); whatever it had been served stays pending under this consumer's name and is
          // re-read on its next start, or claimed by another.
          if (reading) reader.disconnect();
        } else {
          unblock(readCount, 0);
        }
      },
      ack: async (entries) => {
        await ackEntries(group, entries);
      },
      isGroupMissing: (error) => error instanceof Error && error.message.startsWith('NOGROUP'),
      close() {
        reader.disconnect();
        return Promise.resolve();
      },
    };
  };

  return {
    async publish(stream, payload) {
      const [id] = await publishBatch([{ stream, payload }]);
      return id!;
    },
    publishBatch,
    async ensureGroup(stream, group, startId = '0') {
      check();
      await ensureGroups([stream], group, startId);
    },
    consume(options: ConsumeOptions): Consumer {
      check();
      const loop: ConsumerLoop = new ConsumerLoop(options, port(options.group, options.consumer), () =>
        consumers.delete(loop),
      );
      consumers.add(loop);
      return loop;
    },
    async ack(stream, group, ids) {
      check();
      if (ids.length === 0) return 0;
      return Number(await commands.xack(key(stream), group, ...ids));
    },
    ackEntries,
    async claimStale(stream, group, consumer, minIdleMs, count) {
      check();
      const out: BusEntry[] = [];
      let cursor = '0-0';
      // XAUTOCLAIM scans at most COUNT×10 pending entries per call: continue until the cursor wraps.
      do {
        let reply: unknown[];
        try {
          reply = asArray(
            await commands.xautoclaim(
              key(stream),
              group,
              consumer,
              minIdleMs,
              cursor,
              'COUNT',
              count - out.length,
            ),
          );
        } catch (error) {
          if (error instanceof Error && error.message.startsWith('NOGROUP')) return out;
          throw error;
        }
        cursor = String(reply[0]);
        for (const entry of asArray(reply[1])) {
          const parsed = parseEntry(stream, entry);
          if (parsed !== undefined && parsed.payload !== null) {
            out.push({ stream, id: parsed.id, payload: parsed.payload });
          }
        }
      } while (cursor !== '0-0' && out.length < count);
      return out;
    },
    async removeConsumers(stream, group, keep) {
      check();
      let infos: unknown[];
      try {
        infos = asArray(await commands.xinfo('CONSUMERS', key(stream), group));
      } catch (error) {
        if (
          error instanceof Error &&
          (error.message.startsWith('NOGROUP') || /no such key/i.test(error.message))
        )
          return [];
        throw error;
      }
      const idle = infos
        .map((info) => fieldsOf(asArray(info)))
        .filter((info) => Number(info.get('pending')) === 0)
        .map((info) => String(info.get('name')))
        .filter((name) => !keep(name));
      if (idle.length === 0) return [];
      const pipeline = commands.pipeline();
      for (const name of idle) pipeline.xgroup('DELCONSUMER', key(stream), group, name);
      const results = (await pipeline.exec()) ?? [];
      // DELCONSUMER returns the pending count it dropped: a consumer that read something in between
      // loses nothing to this (the entries stay in the PEL, claimable), but it is not reported as removed.
      return idle.filter((_, i) => {
        const [error, dropped] = results[i] ?? [null, null];
        return error === null && Number(dropped) === 0;
      });
    },
    async pending(stream, group) {
      check();
      let reply: unknown[];
      try {
        reply = await commands.xpending(key(stream), group);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('NOGROUP')) return emptyPending();
        throw error;
      }
      const consumersOf: Record<string, number> = {};
      for (const row of asArray(reply[3])) {
        const [name, count] = asArray(row);
        consumersOf[String(name)] = Number(count);
      }
      const summary: PendingSummary = {
        count: Number(reply[0]),
        smallestId: typeof reply[1] === 'string' ? reply[1] : null,
        largestId: typeof reply[2] === 'string' ? reply[2] : null,
        consumers: consumersOf,
      };
      return summary;
    },
    async trim(stream) {
      check();
      return trim(stream);
    },
    async length(stream) {
      check();
      return commands.xlen(key(stream));
    },
    async close() {
      if (closed) return;
      await Promise.all([...consumers].map((consumer) => consumer.stop()));
      closed = true;
      if (commands.status === 'ready') await commands.quit().catch(() => commands.disconnect());
      else commands.disconnect();
    },
  };
}

/** The connection with the command defined from TRIM_ACKED. */
interface TrimCommands {
  trimAcked(numberOfKeys: number, stream: string): Promise<unknown>;
}

/** The pipeline with the command defined from FENCED_PUBLISH. */
interface FencedPipeline {
  fencedPublish(numberOfKeys: number, ...keysAndArgs: (string | number)[]): unknown;
}

function emptyPending(): PendingSummary {
  return { count: 0, smallestId: null, largestId: null, consumers: {} };
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

/** XINFO's flat `[field, value, …]` reply as a map. */
function fieldsOf(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}

/** `[id, [field, value, …]]`, or `[id, null]` for an entry deleted while pending. */
function parseEntry(stream: string, raw: unknown): RawEntry | undefined {
  if (!Array.isArray(raw)) return undefined;
  const [id, fields] = raw as [unknown, unknown];
  if (typeof id !== 'string') return undefined;
  if (!Array.isArray(fields)) return { stream, id, payload: null };
  const flat = fields as unknown[];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === FIELD) return { stream, id, payload: String(flat[i + 1]) };
  }
  return { stream, id, payload: null };
}

/** XREADGROUP's `[[stream, [entry, …]], …]` (or null on timeout). */
function parseRead(reply: unknown, unkey: (name: string) => string): RawEntry[] {
  const out: RawEntry[] = [];
  for (const streamReply of asArray(reply)) {
    const [name, entries] = asArray(streamReply);
    const stream = unkey(String(name));
    for (const raw of asArray(entries)) {
      const entry = parseEntry(stream, raw);
      if (entry !== undefined) out.push(entry);
    }
  }
  return out;
}
