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
  /** The service's component domain: stanzas to it are read from `svc:{domain}`. */
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
  /**
   * How the stanzas of one batch are handed over. `sequential` (default):
   * each `onStanza` resolves before the next is called. `concurrent`: all are
   * called in stream order without waiting, for a service that orders work
   * itself (the MUC service queues per room); the batch is acked once all resolved.
   */
  readonly dispatch?: 'sequential' | 'concurrent';
  /**
   * Stamp the outgoing envelopes' `stage` (packages/protocol Envelope.stage).
   * Unset (default): the router routes a component's stanza itself, to
   * inbound processing for its users or to another component's stream (a MUC
   * room); `in`: straight to inbound processing, the way the edge's XEP-0114
   * listener does for components. The router routes correctly either way.
   */
  readonly stage?: 'in';
  /**
   * Collect the stanzas sent in the same tick (a room broadcast) and publish
   * them in one `publishBatch` round trip instead of one `publish` each.
   */
  readonly batchSends?: boolean;
}

/** A decoded service-stream entry: the envelope and its stanza with `from` stamped from the envelope. */
export interface ServiceStanza {
  readonly envelope: Envelope;
  readonly el: Element;
}

const KINDS: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);
const CLAIM_BATCH = 100;

/**
 * Decodes one entry of a `svc:{domain}` stream, or null for an entry that can
 * never be processed (logged; the caller lets the batch ack it) or is no stanza.
 */
export function decodeServiceEntry(entry: BusEntry, logger: Logger): ServiceStanza | null {
  let envelope: Envelope;
  let el: Element;
  try {
    envelope = decodeEnvelope(entry.payload);
    if (!KINDS.has(envelope.kind)) return null;
    el = parseElement(envelope.xml);
  } catch (error) {
    if (!(error instanceof EnvelopeError) && !(error instanceof Error)) throw error;
    logger.warn({ err: error, entryId: entry.id }, 'unreadable entry on the service stream');
    return null;
  }
  // The envelope's from is stamped by the edge; the stanza's own claim does not count.
  el.attrs['from'] = envelope.from;
  return { envelope, el };
}

/** The route-partition publish item carrying `el` as a component's envelope (`from` and `to` must be set). */
export function routeItem(el: Element, partitions: number, stage?: 'in'): PublishItem {
  const to = el.attrs['to'];
  const from = el.attrs['from'];
  if (to === undefined || from === undefined) throw new Error('a component stanza needs from and to');
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
    ...(stage === undefined ? {} : { stage }),
  };
  return { stream: Streams.route(partitionOf(bareJid(to), partitions)), payload: encodeEnvelope(envelope) };
}

/**
 * The cluster transport: reads `svc:{domain}` in the service group and acks
 * a batch once every stanza of it was handled; writes the service's stanzas
 * as envelopes to the recipient's route partition, from where the router
 * delivers them to its users or forwards them to other components.
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
    const handled: Promise<void>[] = [];
    for (const entry of entries) {
      const stanza = decodeServiceEntry(entry, logger);
      if (stanza === null) continue;
      const done = onStanza(stanza.el, { id: stanza.envelope.id });
      if (options.dispatch === 'concurrent') handled.push(done);
      else await done;
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
    async start(onStanza, hooks) {
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
      // The bus keeps what is published while the router is away: online from the start.
      hooks?.online?.();
    },
    async send(el) {
      const item = routeItem(el, options.partitions, options.stage);
      if (options.batchSends !== true) {
        await bus.publish(item.stream, item.payload);
        return;
      }
      outbox.push(item);
      await flush();
    },
    async stop() {
      await consumer?.stop();
      await flushing;
    },
  };
}
