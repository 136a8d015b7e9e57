import { randomUUID } from 'node:crypto';
import type { Bus, BusEntry, Consumer, PublishItem } from '@switchboard/bus';
import { bareJid } from '@switchboard/jid';
import type { Logger } from '@switchboard/kit';
import {
  ENVELOPE_VERSION,
  EnvelopeError,
  Groups,
  Streams,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
  type EnvelopeKind,
} from '@switchboard/protocol';
import { parseElement, serialize, type Element } from '@switchboard/xml';
import type { Incoming, Transport } from './transport.js';

export interface BusTransportOptions {
  readonly bus: Bus;
  /** The service's domain: stanzas to it are read from `svc:{domain}`. */
  readonly domain: string;
  readonly partitions: number;
  /** Consumer name, stable across restarts so unacked entries come back to this process. */
  readonly consumer: string;
  readonly logger: Logger;
  readonly batchSize?: number;
  /**
   * Take over every entry pending in the group (on any consumer) before
   * reading new ones: set when this process is the only active consumer
   * (it holds the lease), so a dead predecessor's unacked stanzas are not lost.
   */
  readonly claimPending?: boolean;
}

const KINDS: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);
const CLAIM_BATCH = 100;

/**
 * The cluster transport: reads `svc:{domain}` in the service group and acks
 * a batch once every stanza of it was handled; writes the service's stanzas
 * to the recipient's route partition for inbound processing (stage `in`),
 * the way the edge's XEP-0114 listener does for components. Stanzas sent in
 * the same tick (a room broadcast) go out in one publishBatch round trip.
 */
export function busTransport(options: BusTransportOptions): Transport {
  const { bus, logger } = options;
  const stream = Streams.service(options.domain);
  let consumer: Consumer | undefined;
  let outbox: PublishItem[] = [];
  let flushing: Promise<void> | undefined;

  async function handle(
    entries: readonly BusEntry[],
    onStanza: (el: Element, incoming: Incoming) => Promise<void>,
  ): Promise<void> {
    // Handed over in stream order without waiting for each: the service queues per room, so one
    // room's stanzas stay in order while different rooms proceed together.
    const handled: Promise<void>[] = [];
    for (const entry of entries) {
      let envelope: Envelope;
      let el: Element;
      try {
        envelope = decodeEnvelope(entry.payload);
        if (!KINDS.has(envelope.kind)) continue;
        el = parseElement(envelope.xml);
      } catch (error) {
        // A malformed entry can never be processed: log and let the batch ack it.
        if (!(error instanceof EnvelopeError) && !(error instanceof Error)) throw error;
        logger.warn({ err: error, entryId: entry.id }, 'unreadable entry on the service stream');
        continue;
      }
      // The envelope's from is stamped by the edge; the stanza's own claim does not count.
      el.attrs['from'] = envelope.from;
      handled.push(onStanza(el, { id: envelope.id }));
    }
    await Promise.all(handled);
  }

  function flush(): Promise<void> {
    flushing ??= Promise.resolve().then(async () => {
      const items = outbox;
      outbox = [];
      flushing = undefined;
      if (items.length > 0) await bus.publishBatch(items);
    });
    return flushing;
  }

  return {
    async start(onStanza) {
      if (options.claimPending === true) {
        await bus.ensureGroup(stream, Groups.service);
        for (;;) {
          const stale = await bus.claimStale(stream, Groups.service, options.consumer, 0, CLAIM_BATCH);
          if (stale.length === 0) break;
          await handle(stale, onStanza);
          await bus.ackEntries(Groups.service, stale);
        }
      }
      consumer = bus.consume({
        streams: [stream],
        group: Groups.service,
        consumer: options.consumer,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
        handler: (entries) => handle(entries, onStanza),
        onError: (error) => logger.warn({ err: error }, 'service stream consumer error'),
      });
    },
    send(el) {
      const to = el.attrs['to'];
      const from = el.attrs['from'];
      if (to === undefined || from === undefined) throw new Error('a MUC service stanza needs from and to');
      const envelope: Envelope = {
        v: ENVELOPE_VERSION,
        id: randomUUID(),
        kind: el.name as EnvelopeKind,
        edgeId: '',
        sessionId: '',
        from,
        to,
        type: el.attrs['type'] ?? '',
        stanzaId: el.attrs['id'] ?? '',
        xml: serialize(el),
        ts: Date.now(),
        stage: 'in',
      };
      outbox.push({
        stream: Streams.route(partitionOf(bareJid(to), options.partitions)),
        payload: encodeEnvelope(envelope),
      });
      return flush();
    },
    async stop() {
      await consumer?.stop();
      await flushing;
    },
  };
}
