import { randomUUID } from 'node:crypto';
import type { Bus, Consumer } from '@switchboard/bus';
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
import type { Transport } from './transport.js';

export interface BusTransportOptions {
  readonly bus: Bus;
  /** The gateway's component domain: stanzas to it are read from `svc:{domain}`. */
  readonly domain: string;
  readonly partitions: number;
  /** Consumer name, stable across restarts so unacked entries come back to this gateway. */
  readonly consumer: string;
  readonly logger: Logger;
  readonly batchSize?: number;
}

const KINDS: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);

/**
 * The cluster transport: reads `svc:{domain}` in the service group and acks
 * a batch once every stanza of it was handled (stanzas handed to the gateway); writes the
 * gateway's stanzas to the recipient's route partition for inbound
 * processing, the way the edge's XEP-0114 listener does for components.
 */
export function busTransport(options: BusTransportOptions): Transport {
  const { bus, logger } = options;
  let consumer: Consumer | undefined;
  return {
    start(onStanza) {
      consumer = bus.consume({
        streams: [Streams.service(options.domain)],
        group: Groups.service,
        consumer: options.consumer,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
        handler: async (entries) => {
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
            await onStanza(el, { id: envelope.id });
          }
        },
        onError: (error) => logger.warn({ err: error }, 'service stream consumer error'),
      });
      return Promise.resolve();
    },
    async send(el) {
      const to = el.attrs['to'];
      const from = el.attrs['from'];
      if (to === undefined || from === undefined) throw new Error('a gateway stanza needs from and to');
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
      await bus.publish(
        Streams.route(partitionOf(bareJid(to), options.partitions)),
        encodeEnvelope(envelope),
      );
    },
    async stop() {
      await consumer?.stop();
    },
  };
}
