import { RecentEncodings } from './recent-encodings.js';

/** Version of the envelope format; a consumer rejects envelopes of another major version. */
export const ENVELOPE_VERSION = 1;

/** What an envelope carries: a client stanza, or a session event the router must act on. */
export type EnvelopeKind =
  | 'message'
  | 'presence'
  | 'iq'
  /** A session bound a resource on an edge (RFC 6120 §7). */
  | 'session-start'
  /** A session ended (stream closed, socket lost, edge died). */
  | 'session-end'
  /**
   * A session's delivery state changed; `type` says how: 'detached' (connection lost, waiting for
   * a XEP-0198 resume), 'resumed', 'inactive' or 'active' (XEP-0352). For push (XEP-0357).
   */
  | 'session-state';

/**
 * The unit on every stream. It carries the routing facts (from, to, kind,
 * type, stanza id) so the router can route ordinary messages without
 * parsing `xml` (ARCHITECTURE.md, "Performance budget").
 */
export interface Envelope {
  readonly v: typeof ENVELOPE_VERSION;
  /** Unique per envelope; effects are keyed by it for idempotency. */
  readonly id: string;
  readonly kind: EnvelopeKind;
  /** Edge the stanza entered through ('' when it came from a service). */
  readonly edgeId: string;
  /** Session on that edge ('' when it came from a service). */
  readonly sessionId: string;
  /** Stamped by the edge or component connection; never the client's own claim. */
  readonly from: string;
  /** Empty for stanzas addressed to the sender's own account (RFC 6120 §10.3). */
  readonly to: string;
  /** The stanza's `type` attribute, '' when absent. */
  readonly type: string;
  /** The stanza's `id` attribute, '' when absent. */
  readonly stanzaId: string;
  /** The stanza serialized, with `from` already stamped. '' for session events. */
  readonly xml: string;
  /** Milliseconds since the epoch when the edge accepted it. */
  readonly ts: number;
  /**
   * Absent for what an edge or component publishes: the router does the
   * sender's (outbound) processing first. 'in' when a router forwards the
   * stanza to the recipient's partition for inbound processing
   * (ARCHITECTURE.md, "A stanza's walk", step 3).
   */
  readonly stage?: 'in';
}

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

const KINDS: ReadonlySet<string> = new Set<EnvelopeKind>([
  'message',
  'presence',
  'iq',
  'session-start',
  'session-end',
  'session-state',
]);

/** Enough for the in-process streams' backlog between a publish and its read. */
const recent = new RecentEncodings<Envelope>(16_384);

export function encodeEnvelope(envelope: Envelope): string {
  const text = JSON.stringify(envelope);
  recent.remember(text, envelope);
  return text;
}

/** Parses and checks an envelope read off a stream; throws EnvelopeError when it is not one. */
export function decodeEnvelope(raw: string): Envelope {
  // Encoded by this process from a typed, immutable envelope: already valid.
  const known = recent.take(raw);
  if (known !== undefined) return known;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new EnvelopeError('envelope is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new EnvelopeError('envelope is not an object');
  const e = value as Record<string, unknown>;
  if (e['v'] !== ENVELOPE_VERSION) throw new EnvelopeError(`unsupported envelope version ${String(e['v'])}`);
  if (typeof e['kind'] !== 'string' || !KINDS.has(e['kind'])) {
    throw new EnvelopeError(`unknown envelope kind ${String(e['kind'])}`);
  }
  for (const field of ['id', 'edgeId', 'sessionId', 'from', 'to', 'type', 'stanzaId', 'xml'] as const) {
    if (typeof e[field] !== 'string') throw new EnvelopeError(`envelope field ${field} is not a string`);
  }
  if (typeof e['ts'] !== 'number' || !Number.isFinite(e['ts']))
    throw new EnvelopeError('envelope ts is not a number');
  if (e['id'] === '') throw new EnvelopeError('envelope id is empty');
  if (e['stage'] !== undefined && e['stage'] !== 'in')
    throw new EnvelopeError(`unknown envelope stage ${JSON.stringify(e['stage'])}`);
  return value as Envelope;
}
