import type { BusEntry, Consumer } from '@switchboard/bus';
import { decodeServiceEntry, type Transport } from '@switchboard/component';
import { bareJid } from '@switchboard/jid';
import { Groups, Streams } from '@switchboard/protocol';
import { ownerOf, type ReplicaSet } from '../cluster/ownership.js';
import { busTransport, type BusTransportOptions } from './bus.js';

export interface ShardedBusTransportOptions extends Omit<BusTransportOptions, 'consumer'> {
  readonly replicas: ReplicaSet;
  /** How often dead replicas' work is looked for. Default a third of the replicas' ttl. */
  readonly recoverEveryMs?: number;
  /**
   * Entries pending at least this long are claimed from dead replicas (XAUTOCLAIM min-idle-time):
   * shorter than any live replica's batch may take would claim work in progress. Default the replicas' ttl.
   */
  readonly claimIdleMs?: number;
}

/** The stream one replica reads the stanzas other replicas forward to it. */
export const replicaStream = (domain: string, replica: string): string =>
  `${Streams.service(domain)}:replica:${replica}`;

/**
 * The cluster transport with connection ownership sharded across replicas:
 * every replica reads `svc:{domain}` in the service group, keeps the stanzas
 * of the users it owns (rendezvous hash of the sender's bare JID over the
 * live replicas) and forwards the rest, entry unchanged, to the owner's own
 * stream, which only the owner reads. Replies go out as with `busTransport`.
 *
 * Work a replica dies with is recovered by the live ones: they also read the
 * streams of known dead replicas (entries forwarded to it but never read)
 * and XAUTOCLAIM what the dead one read but never acked there and on
 * `svc:{domain}`, then route each entry again by the current owners. Entries
 * idle for less than `claimIdleMs` are left alone, so a live replica's
 * batch in progress is not taken from it.
 */
export function shardedBusTransport(options: ShardedBusTransportOptions): Transport {
  const { bus, logger, replicas, domain } = options;
  const self = replicas.self;
  const own = replicaStream(domain, self);
  const claimIdleMs = options.claimIdleMs ?? replicas.ttlMs;
  const out = busTransport({ ...options, consumer: self });
  let consumer: Consumer | undefined;
  let handle: ((entries: readonly BusEntry[]) => Promise<void>) | undefined;
  let recoverTimer: NodeJS.Timeout | undefined;
  let recovering: Promise<void> | undefined;
  let stopped = false;
  /** Dead replicas whose streams this one reads, with when it first saw them dead. */
  const adopted = new Map<string, number>();

  const streams = (): string[] => [
    Streams.service(domain),
    own,
    ...[...adopted.keys()].map((r) => replicaStream(domain, r)),
  ];

  /** Reads dead replicas' streams and claims their unacked entries; forgets a dead replica once drained. */
  async function recover(): Promise<void> {
    const live = replicas.live();
    if (live.length === 0 || handle === undefined || consumer === undefined) return;
    const dead = (await replicas.known()).filter((r) => r !== self && !live.includes(r));
    const now = Date.now();
    for (const replica of adopted.keys()) if (!dead.includes(replica)) adopted.delete(replica);
    for (const replica of dead) if (!adopted.has(replica)) adopted.set(replica, now);
    const want = streams();
    if (want.join('\u0000') !== consumer.streams.join('\u0000')) consumer.setStreams(want);
    const main = Streams.service(domain);
    const candidates = [...adopted.keys()].map((r) => replicaStream(domain, r));
    // svc:{domain} is read by every replica: claim only when a dead one has entries pending there.
    const pendingMain = await bus.pending(main, Groups.service);
    if (Object.keys(pendingMain.consumers).some((c) => c !== self && !live.includes(c)))
      candidates.push(main);
    for (const stream of candidates) {
      for (;;) {
        const claimed = await bus.claimStale(stream, Groups.service, self, claimIdleMs, 100);
        if (claimed.length === 0) break;
        logger.info({ stream, count: claimed.length }, 'claimed entries a dead gateway replica left');
        await handle(claimed);
        await bus.ackEntries(Groups.service, claimed);
      }
    }
    // A drained stream of a replica dead for a while (no forwarder still aims at it) is forgotten.
    for (const [replica, since] of adopted) {
      if (now - since < 2 * replicas.ttlMs) continue;
      const stream = replicaStream(domain, replica);
      await bus.trim(stream);
      const [pending, length] = await Promise.all([bus.pending(stream, Groups.service), bus.length(stream)]);
      if (pending.count > 0 || length > 0) continue;
      await replicas.forget(replica);
      adopted.delete(replica);
      consumer.setStreams(streams());
    }
  }

  const recoverSoon = (): void => {
    if (stopped || recovering !== undefined) return;
    recovering = recover()
      .catch((error: unknown) => logger.warn({ err: error }, 'recovering a dead replica’s entries failed'))
      .finally(() => {
        recovering = undefined;
      });
  };

  return {
    start(onStanza) {
      handle = async (entries) => {
        const forward: { stream: string; payload: string }[] = [];
        for (const entry of entries) {
          const decoded = decodeServiceEntry(entry, logger);
          if (decoded === null) continue;
          if (entry.stream !== own) {
            const owner = ownerOf(bareJid(decoded.envelope.from), replicas.live());
            if (owner !== undefined && owner !== self) {
              forward.push({ stream: replicaStream(domain, owner), payload: entry.payload });
              continue;
            }
          }
          await onStanza(decoded.el, { id: decoded.envelope.id });
        }
        if (forward.length > 0) await bus.publishBatch(forward);
      };
      consumer = bus.consume({
        streams: streams(),
        group: Groups.service,
        consumer: self,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
        handler: handle,
        onError: (error) => logger.warn({ err: error }, 'service stream consumer error'),
      });
      replicas.onChange(recoverSoon);
      const every = options.recoverEveryMs ?? Math.max(50, Math.floor(replicas.ttlMs / 3));
      const tick = (): void => {
        if (stopped) return;
        recoverSoon();
        recoverTimer = setTimeout(tick, every);
        recoverTimer.unref();
      };
      tick();
      return Promise.resolve();
    },
    send: (el) => out.send(el),
    async stop() {
      stopped = true;
      if (recoverTimer !== undefined) clearTimeout(recoverTimer);
      await recovering;
      await consumer?.stop();
    },
  };
}
