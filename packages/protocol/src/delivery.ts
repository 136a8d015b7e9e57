import { EnvelopeError } from './envelope.js';
import { RecentEncodings } from './recent-encodings.js';

/**
 * What the router writes to `deliver:{edgeId}`: a stanza for one session on
 * that edge, or an order to close a session (resource conflict, account
 * removed, shutdown). The edge writes `xml` to the socket as is.
 */
export type Delivery = StanzaDelivery | CloseDelivery | MovedDelivery;

export interface StanzaDelivery {
  readonly v: 1;
  readonly kind: 'stanza';
  /** Envelope id the stanza came in with; the edge drops a repeated id for the same session. */
  readonly id: string;
  /** Target session on this edge. */
  readonly sessionId: string;
  /** Target full JID (the session's). */
  readonly to: string;
  readonly xml: string;
  /** When the stanza entered the system, for delivery-lag metrics. */
  readonly ts: number;
}

export interface CloseDelivery {
  readonly v: 1;
  readonly kind: 'close';
  readonly id: string;
  readonly sessionId: string;
  readonly to: string;
  /** RFC 6120 §4.9.3 stream error condition to close with, e.g. 'conflict'. */
  readonly condition: string;
  readonly text: string;
  readonly ts: number;
}

/**
 * The session resumed on another edge (XEP-0198 §5): the edge that held it drops its copy without
 * ending the session, and closes the old stream if it is still open.
 */
export interface MovedDelivery {
  readonly v: 1;
  readonly kind: 'moved';
  readonly id: string;
  readonly sessionId: string;
  readonly to: string;
  /** The edge that holds the session now. */
  readonly edgeId: string;
  readonly ts: number;
}

const recent = new RecentEncodings<Delivery>(16_384);

export function encodeDelivery(delivery: Delivery): string {
  const text = JSON.stringify(delivery);
  recent.remember(text, delivery);
  return text;
}

export function decodeDelivery(raw: string): Delivery {
  // Encoded by this process from a typed, immutable delivery: already valid.
  const known = recent.take(raw);
  if (known !== undefined) return known;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new EnvelopeError('delivery is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new EnvelopeError('delivery is not an object');
  const d = value as Record<string, unknown>;
  if (d['v'] !== 1) throw new EnvelopeError(`unsupported delivery version ${String(d['v'])}`);
  const fields =
    d['kind'] === 'stanza'
      ? (['id', 'sessionId', 'to', 'xml'] as const)
      : d['kind'] === 'close'
        ? (['id', 'sessionId', 'to', 'condition', 'text'] as const)
        : d['kind'] === 'moved'
          ? (['id', 'sessionId', 'to', 'edgeId'] as const)
          : null;
  if (fields === null) throw new EnvelopeError(`unknown delivery kind ${String(d['kind'])}`);
  for (const f of fields)
    if (typeof d[f] !== 'string') throw new EnvelopeError(`delivery field ${f} is not a string`);
  if (typeof d['ts'] !== 'number') throw new EnvelopeError('delivery ts is not a number');
  return value as Delivery;
}
