import type { Bus, BusEntry, PublishItem } from '@switchboard/bus';
import type { Logger } from '@switchboard/kit';
import {
  Script,
  release,
  removeIfSilent,
  renew,
  silentMembers,
  tryAcquire,
  type HeldLease,
  type LeaseKeys,
} from '@switchboard/lease';
import {
  Groups,
  Keys,
  Streams,
  decodeDelivery,
  encodeEnvelope,
  partitionOf,
  type Delivery,
  type Envelope,
} from '@switchboard/protocol';
import { parseElement, type Element } from '@switchboard/xml';
import type { Redis } from 'ioredis';

/**
 * XEP-0198 state (edge's sm/redis.ts) still held by the dead edge `ARGV[1]`: its unacked
 * stanzas, oldest first; false when the session resumed elsewhere or has none.
 */
const unackedOfDeadEdge = new Script(`if redis.call('HGET', KEYS[1], 'edge') ~= ARGV[1] then return false end
return redis.call('LRANGE', KEYS[2], 0, -1)`);

/** Deletes that state once its stanzas are re-routed, keeping the inbound count for a late <resume/>. */
const forgetResumption = new Script(`if redis.call('HGET', KEYS[1], 'edge') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], redis.call('HGET', KEYS[1], 'in') or '0', 'PX', ARGV[2])
redis.call('DEL', KEYS[1], KEYS[2])
return 1`);

/** How long a late resume still learns the inbound count of a session the janitor ended. */
const RESUMPTION_GONE_TTL_MS = 3600_000;

/** The one lease that makes a router the cluster's janitor. */
export const JANITOR_LEASE: LeaseKeys = { lease: 'lease:janitor', fence: 'fence:janitor' };

/** Consumer name under which the janitor reads a dead edge's `deliver:` stream. */
export const JANITOR_CONSUMER = 'janitor';

export interface JanitorOptions {
  readonly redis: Redis;
  readonly bus: Bus;
  /** Owner name on the janitor lease. */
  readonly routerId: string;
  readonly partitions: number;
  readonly logger: Logger;
  /** Sweep (and lease renewal) period. Default 2000. */
  readonly intervalMs?: number;
  /** An edge silent for this long is dead. Default 10000. */
  readonly edgeTimeoutMs?: number;
  /** Janitor lease lifetime. Default 3 × intervalMs. */
  readonly leaseTtlMs?: number;
  /** Deliveries drained per read. Default 100. */
  readonly batchSize?: number;
}

/** What one sweep did. */
export interface SweepReport {
  /** Edges found silent past the timeout. */
  readonly deadEdges: readonly string[];
  /** session-end envelopes published. */
  readonly sessionEnds: number;
  /** Deliveries taken from dead edges' streams and published again for routing. */
  readonly rerouted: number;
  /** Edges whose keys were deleted: nothing of them is left. */
  readonly forgotten: readonly string[];
}

export interface Janitor {
  /** Starts competing for the janitor lease and, while holding it, sweeping every `intervalMs`. */
  start(): void;
  /** Stops sweeping (a running sweep finishes) and releases the lease. Idempotent. */
  stop(): Promise<void>;
  /** Stops without releasing the lease, as a crash would. */
  abandon(): Promise<void>;
  /** Whether this router holds the janitor lease now. */
  readonly active: boolean;
  /** Fencing token of the janitor lease while held. */
  readonly token: number | undefined;
  /** Sweeps once now (whether or not the lease is held: the work is idempotent). */
  sweep(): Promise<SweepReport>;
  /** Called after each sweep the lease holder runs. */
  onSweep(listener: (report: SweepReport) => void): () => void;
  /** Called when this router gains or loses the janitor lease. */
  onActive(listener: (active: boolean) => void): () => void;
}

/**
 * Cleans up after dead edges (ARCHITECTURE.md, "Delivery guarantees"); one
 * router at a time runs it, through a fenced lease like the partitions'.
 *
 * For an edge silent past the timeout: a `session-end` for each of its
 * sessions goes to the user's partition (the owning router sends
 * unavailable presence, RFC 6121 §4.5.2); then whatever was still queued in
 * `deliver:{edge}`, pending or unread, goes back to the recipient's
 * partition for inbound routing. Both go in one batch, session-ends first,
 * so within a user's partition the session is gone before its stanzas come
 * back, and a message to the gone resource is handled as RFC 6121
 * §8.5.3.2.1 says (other resources or offline storage; IQ errors). The
 * edge's keys are deleted only after two sweeps in a row found no session
 * and nothing queued, so a router batch that was still delivering to the
 * edge is drained too. Every step can be redone: envelope ids derive from
 * the delivery entry ids and session ids, and a session-end for a session
 * already gone changes nothing.
 */
export function createJanitor(options: JanitorOptions): Janitor {
  const { redis, bus, routerId, partitions, logger } = options;
  const interval = options.intervalMs ?? 2000;
  const edgeTimeout = options.edgeTimeoutMs ?? 10_000;
  const ttl = options.leaseTtlMs ?? interval * 3;
  const batchSize = options.batchSize ?? 100;
  const log = logger.child({ component: 'janitor' });

  let lease: HeldLease | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  /** `${edgeId}/${sessionId}` whose session-end this janitor already published. */
  const announced = new Set<string>();
  /** Edges the previous sweep found empty. */
  const quiet = new Set<string>();
  const sweepListeners = new Set<(report: SweepReport) => void>();
  const activeListeners = new Set<(active: boolean) => void>();

  const setLease = (next: HeldLease | undefined): void => {
    const changed = (lease === undefined) !== (next === undefined);
    lease = next;
    if (changed) {
      log.info({ active: next !== undefined, token: next?.token }, 'janitor lease changed hands');
      for (const listener of activeListeners) listener(next !== undefined);
    }
  };

  /**
   * The unacked stanzas of a resumable session (XEP-0198) the dead edge held, as envelopes for
   * inbound routing after its session-end: other resources or offline storage, never lost.
   */
  const unackedOf = async (
    edgeId: string,
    sessionId: string,
    full: string,
    bare: string,
  ): Promise<{ id: string; item: PublishItem }[]> => {
    const keys = [
      Keys.resumption(sessionId),
      Keys.resumptionQueue(sessionId),
      Keys.resumptionGone(sessionId),
    ];
    const raw = (await unackedOfDeadEdge.run(redis, keys, [edgeId])) as string[] | null;
    if (raw === null) return [];
    const items: { id: string; item: PublishItem }[] = [];
    for (const json of raw) {
      let entry: { id: string; xml: string; ts: number };
      let el: Element;
      try {
        entry = JSON.parse(json) as { id: string; xml: string; ts: number };
        el = parseElement(entry.xml);
      } catch (error) {
        log.warn({ err: error, edgeId, sessionId }, 'dropping an unreadable unacked stanza of a dead edge');
        continue;
      }
      if (el.name !== 'message' && el.name !== 'presence' && el.name !== 'iq') continue;
      const env: Envelope = {
        v: 1,
        id: entry.id,
        kind: el.name,
        edgeId: '',
        sessionId: '',
        from: el.attrs['from'] ?? '',
        to: full,
        type: el.attrs['type'] ?? '',
        stanzaId: el.attrs['id'] ?? '',
        xml: entry.xml,
        ts: entry.ts,
        stage: 'in',
      };
      items.push({
        id: entry.id,
        item: { stream: Streams.route(partitionOf(bare, partitions)), payload: encodeEnvelope(env) },
      });
    }
    return items;
  };

  /** session-end envelopes for the edge's sessions still registered on it. */
  const sessionEnds = async (
    edgeId: string,
  ): Promise<{
    items: PublishItem[];
    keys: string[];
    left: number;
    resumptions: string[];
    /** `${sessionId} ${envelopeId}` of the unacked stanzas re-routed from resumption state. */
    unacked: Set<string>;
  }> => {
    const members = await redis.smembers(Keys.edgeSessions(edgeId));
    const unackedIds = new Set<string>();
    const items: PublishItem[] = [];
    const keys: string[] = [];
    const stale: string[] = [];
    const resumptions: string[] = [];
    const records = await Promise.all(
      members.map(async (full) => {
        const { bare, resource } = splitFull(full);
        const raw = resource === '' ? null : await redis.hget(Keys.sessions(bare), resource);
        return { full, bare, record: raw === null ? null : (JSON.parse(raw) as SessionFacts) };
      }),
    );
    for (const { full, bare, record } of records) {
      // Replaced by a session elsewhere, or already ended: nothing to end here.
      if (record === null || record.edgeId !== edgeId) {
        stale.push(full);
        continue;
      }
      const key = `${edgeId}/${record.sessionId}`;
      if (announced.has(key)) continue;
      keys.push(key);
      const env: Envelope = {
        v: 1,
        id: `janitor:${edgeId}:end:${record.sessionId}`,
        kind: 'session-end',
        edgeId,
        sessionId: record.sessionId,
        from: full,
        to: '',
        type: '',
        stanzaId: '',
        xml: '',
        ts: Date.now(),
      };
      items.push({ stream: Streams.route(partitionOf(bare, partitions)), payload: encodeEnvelope(env) });
      // In the same partition, after the session-end: handled as stanzas for a gone resource.
      const unacked = await unackedOf(edgeId, record.sessionId, full, bare);
      for (const { id } of unacked) unackedIds.add(`${record.sessionId} ${id}`);
      if (unacked.length > 0) items.push(...unacked.map((u) => u.item));
      resumptions.push(record.sessionId);
    }
    if (stale.length > 0) await redis.srem(Keys.edgeSessions(edgeId), ...stale);
    return { items, keys, left: members.length - stale.length, resumptions, unacked: unackedIds };
  };

  /** A queued stanza for a session of the dead edge, as an envelope for inbound routing. */
  const reroute = (
    edgeId: string,
    entry: BusEntry,
    unacked: ReadonlySet<string>,
  ): PublishItem | undefined => {
    let delivery: Delivery;
    let el: Element;
    try {
      delivery = decodeDelivery(entry.payload);
      // A close order is for a session that is gone anyway.
      if (delivery.kind !== 'stanza') return undefined;
      // Written to the client and recorded as unacked before the edge died, with its bus ack
      // still to come: the session's resumption state re-routes it already.
      if (unacked.has(`${delivery.sessionId} ${delivery.id}`)) return undefined;
      el = parseElement(delivery.xml);
    } catch (error) {
      log.warn({ err: error, edgeId, entryId: entry.id }, 'dropping undecodable delivery of a dead edge');
      return undefined;
    }
    if (el.name !== 'message' && el.name !== 'presence' && el.name !== 'iq') return undefined;
    const env: Envelope = {
      v: 1,
      // The original envelope id, which every delivery of it carries: a session that already got
      // this stanza (a bare-JID fan-out reached it too) drops the re-routed copy as a repeat, offline
      // storage keys it by the same id, and a janitor that redoes this sweep changes nothing.
      id: delivery.id,
      kind: el.name,
      edgeId: '',
      sessionId: '',
      from: el.attrs['from'] ?? '',
      to: delivery.to,
      type: el.attrs['type'] ?? '',
      stanzaId: el.attrs['id'] ?? '',
      xml: delivery.xml,
      ts: delivery.ts,
      stage: 'in',
    };
    return {
      stream: Streams.route(partitionOf(splitFull(delivery.to).bare, partitions)),
      payload: encodeEnvelope(env),
    };
  };

  /** Unread entries of the stream for the janitor consumer (they become pending under it). */
  const readNew = async (stream: string): Promise<BusEntry[]> => {
    const reply = (await redis.xreadgroup(
      'GROUP',
      Groups.edge,
      JANITOR_CONSUMER,
      'COUNT',
      batchSize,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    const out: BusEntry[] = [];
    for (const [, entries] of reply ?? []) {
      for (const [id, fields] of entries) {
        // The bus stores the payload under field 'p' (packages/bus, redis driver).
        const at = fields.indexOf('p');
        if (at >= 0 && at % 2 === 0) out.push({ stream, id, payload: fields[at + 1] ?? '' });
      }
    }
    return out;
  };

  const cleanEdge = async (
    edgeId: string,
  ): Promise<{ sessionEnds: number; rerouted: number; forgotten: boolean }> => {
    const ends = await sessionEnds(edgeId);
    const stream = Streams.deliver(edgeId);
    let rerouted = 0;
    let drained = 0;
    let first = true;
    const hasStream = (await redis.exists(stream)) === 1;
    if (hasStream) await bus.ensureGroup(stream, Groups.edge, '0');
    for (;;) {
      // Pending entries (read by the dead edge, or by a janitor that died) are older than unread ones.
      let entries = hasStream
        ? await bus.claimStale(stream, Groups.edge, JANITOR_CONSUMER, 0, batchSize)
        : [];
      if (entries.length === 0 && hasStream) entries = await readNew(stream);
      const items = first ? [...ends.items] : [];
      let routed = 0;
      for (const entry of entries) {
        const item = reroute(edgeId, entry, ends.unacked);
        if (item === undefined) continue;
        items.push(item);
        routed++;
      }
      if (items.length > 0) await bus.publishBatch(items);
      if (first) {
        for (const key of ends.keys) announced.add(key);
        for (const sessionId of ends.resumptions) {
          const keys = [
            Keys.resumption(sessionId),
            Keys.resumptionQueue(sessionId),
            Keys.resumptionGone(sessionId),
          ];
          await forgetResumption.run(redis, keys, [edgeId, RESUMPTION_GONE_TTL_MS]);
        }
      }
      first = false;
      if (entries.length === 0) break;
      await bus.ack(
        stream,
        Groups.edge,
        entries.map((e) => e.id),
      );
      drained += entries.length;
      rerouted += routed;
    }
    let forgotten = false;
    if (ends.left === 0 && drained === 0) {
      if (quiet.has(edgeId)) {
        await redis.del(stream, Keys.edgeSessions(edgeId));
        await removeIfSilent.run(redis, [Keys.edges()], [edgeId, edgeTimeout]);
        quiet.delete(edgeId);
        for (const key of announced) if (key.startsWith(`${edgeId}/`)) announced.delete(key);
        forgotten = true;
        log.info({ edgeId }, 'dead edge forgotten');
      } else {
        quiet.add(edgeId);
      }
    } else {
      quiet.delete(edgeId);
    }
    return { sessionEnds: ends.keys.length, rerouted, forgotten };
  };

  const sweep = async (): Promise<SweepReport> => {
    const dead = (await silentMembers.run(redis, [Keys.edges()], [edgeTimeout])) as string[];
    let ends = 0;
    let rerouted = 0;
    const forgotten: string[] = [];
    for (const edgeId of dead) {
      const done = await cleanEdge(edgeId);
      ends += done.sessionEnds;
      rerouted += done.rerouted;
      if (done.forgotten) forgotten.push(edgeId);
      if (done.sessionEnds > 0 || done.rerouted > 0) {
        log.info(
          { edgeId, sessionEnds: done.sessionEnds, rerouted: done.rerouted },
          'cleaned up after a dead edge',
        );
      }
    }
    return { deadEdges: dead, sessionEnds: ends, rerouted, forgotten };
  };

  const round = async (): Promise<void> => {
    if (lease !== undefined) {
      if (!(await renew(redis, lease, ttl))) setLease(undefined);
    } else {
      const taken = await tryAcquire(redis, JANITOR_LEASE, routerId, ttl);
      if (taken !== null && closed) await release(redis, taken);
      else if (taken !== null) setLease(taken);
    }
    if (lease === undefined || closed) return;
    const report = await sweep();
    for (const listener of sweepListeners) listener(report);
  };

  const tick = (): void => {
    if (closed || running !== undefined) return;
    running = round()
      .catch((error: unknown) => log.error({ err: error }, 'janitor round failed'))
      .finally(() => {
        running = undefined;
      });
  };

  const halt = async (): Promise<void> => {
    closed = true;
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    await running;
  };

  return {
    start() {
      if (timer !== undefined || closed) return;
      timer = setInterval(tick, interval);
      tick();
    },
    async stop() {
      await halt();
      const held = lease;
      if (held !== undefined) {
        setLease(undefined);
        await release(redis, held);
      }
    },
    abandon: halt,
    get active() {
      return lease !== undefined;
    },
    get token() {
      return lease?.token;
    },
    sweep,
    onSweep(listener) {
      sweepListeners.add(listener);
      return () => sweepListeners.delete(listener);
    },
    onActive(listener) {
      activeListeners.add(listener);
      return () => activeListeners.delete(listener);
    },
  };
}

/** The facts the janitor needs from a session record (sessions/registry.ts, SessionRecord). */
interface SessionFacts {
  readonly edgeId: string;
  readonly sessionId: string;
}

/** A normalized full JID split at its first slash (a resource may contain slashes, RFC 7622 §3.4). */
function splitFull(full: string): { bare: string; resource: string } {
  const slash = full.indexOf('/');
  return slash < 0
    ? { bare: full, resource: '' }
    : { bare: full.slice(0, slash), resource: full.slice(slash + 1) };
}
