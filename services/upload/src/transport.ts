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

/** How stanzas reach the upload service and leave it; the slot logic sees only this. */
export interface Transport {
  /** Calls `onStanza` for each stanza addressed to the service; handled once it resolves. */
  start(onStanza: (el: Element) => Promise<void>): Promise<void>;
  /** Sends a stanza into the XMPP network; `from` and `to` must be set. */
  send(el: Element): Promise<void>;
  stop(): Promise<void>;
}

export interface BusTransportOptions {
  readonly bus: Bus;
  /** The service's domain: stanzas to it are read from `svc:{domain}`. */
  readonly domain: string;
  readonly partitions: number;
  /** Consumer name, stable across restarts so unacked entries come back to this process. */
  readonly consumer: string;
  readonly logger: Logger;
}

const KINDS: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);

/**
 * Reads `svc:{domain}` in the service group (replicas share it: slot requests
 * need no state beyond the quota ledger) and acks a batch once every stanza
 * of it was answered; replies go to the recipient's route partition.
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
        handler: async (entries) => {
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
            handled.push(onStanza(el));
          }
          await Promise.all(handled);
        },
        onError: (error) => logger.warn({ err: error }, 'service stream consumer error'),
      });
      return Promise.resolve();
    },
    async send(el) {
      const to = el.attrs['to'];
      const from = el.attrs['from'];
      if (to === undefined || from === undefined)
        throw new Error('an upload service stanza needs from and to');
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
        // No stage: the router routes a component's stanza itself, to its users or to another component.
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
