import { parseJid, JidError, type Jid } from '@switchboard/jid';
import type { Element } from '@switchboard/xml';
import { NS, xml, type StreamErrorCondition } from '@switchboard/xml';

export const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** The stanza error conditions the edge raises itself (RFC 6120 §8.3.3). */
export type EdgeStanzaCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'internal-server-error'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'service-unavailable';

/** RFC 6120 §8.3.3: the error type each condition usually carries. */
const ERROR_TYPES: Readonly<Record<EdgeStanzaCondition, string>> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  'internal-server-error': 'wait',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'service-unavailable': 'cancel',
};

/** A stanza refused with a stanza error: the stream goes on (RFC 6120 §8.3). */
export class StanzaError extends Error {
  override readonly name = 'StanzaError';
  constructor(
    readonly condition: EdgeStanzaCondition,
    readonly text?: string,
  ) {
    super(text === undefined ? condition : `${condition}: ${text}`);
  }
}

/** A stanza that breaks a stream-level rule: the stream is closed with `condition`. */
export class StanzaStreamViolation extends Error {
  override readonly name = 'StanzaStreamViolation';
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text: string,
  ) {
    super(`${condition}: ${text}`);
  }
}

export type StanzaKind = 'message' | 'presence' | 'iq';

/** RFC 6120 §8.2.2 for message and presence (as defined by RFC 6121 §5.2.2, §4.7.1), §8.2.3 for iq. */
const TYPES: Readonly<Record<StanzaKind, ReadonlySet<string>>> = {
  message: new Set(['chat', 'error', 'groupchat', 'headline', 'normal']),
  presence: new Set([
    'error',
    'probe',
    'subscribe',
    'subscribed',
    'unavailable',
    'unsubscribe',
    'unsubscribed',
  ]),
  iq: new Set(['get', 'set', 'result', 'error']),
};

/** The routing facts of a checked client stanza. */
export interface CheckedStanza {
  readonly kind: StanzaKind;
  readonly type: string;
  readonly id: string;
  /** Normalized 'to', '' when absent. */
  readonly to: string;
  readonly toJid: Jid | null;
}

/**
 * Checks a stanza from an authenticated, bound client (RFC 6120 §8) and stamps `from` with the
 * session's full JID (§8.1.2.1). Throws StanzaStreamViolation for stream-level faults and
 * StanzaError for faults answered with a stanza error.
 */
export function checkClientStanza(el: Element, session: Jid): CheckedStanza {
  const name = el.getName();
  if (name !== 'message' && name !== 'presence' && name !== 'iq') {
    // RFC 6120 §4.9.3.24.
    throw new StanzaStreamViolation('unsupported-stanza-type', `<${el.name}/> is not a stanza`);
  }
  if (el.getPrefix() !== '' || el.getNS() !== NS.CLIENT) {
    // RFC 6120 §4.9.3.10: stanzas of a client stream are qualified by jabber:client.
    throw new StanzaStreamViolation('invalid-namespace', `<${name}/> is not in ${NS.CLIENT}`);
  }
  const claimed = el.attrs['from'];
  if (claimed !== undefined) {
    const from = tryJid(claimed);
    // RFC 6120 §4.9.3.9 (invalid-from): a client may only name its own full or bare JID.
    if (from === null || !(from.equals(session) || from.equals(session.bare()))) {
      throw new StanzaStreamViolation('invalid-from', `'from' ${claimed} is not this session's JID`);
    }
  }
  // RFC 6120 §8.1.2.1: the server stamps the full JID whatever the client put there.
  el.attrs['from'] = session.toString();

  const rawTo = el.attrs['to'];
  let toJid: Jid | null = null;
  if (rawTo !== undefined) {
    try {
      toJid = parseJid(rawTo);
    } catch (error) {
      if (error instanceof JidError) throw new StanzaError('jid-malformed', error.message); // RFC 6120 §8.3.3.8
      throw error;
    }
  }
  const type = el.attrs['type'] ?? '';
  const id = el.attrs['id'] ?? '';
  if (type !== '' && !TYPES[name].has(type))
    throw new StanzaError('bad-request', `unknown ${name} type '${type}'`);
  if (name === 'iq') {
    // RFC 6120 §8.2.3: id and type are required; get/set carry exactly one payload, result at most one.
    if (id === '') throw new StanzaError('bad-request', 'iq without id');
    if (type === '') throw new StanzaError('bad-request', 'iq without type');
    const payloads = el.getChildElements().length;
    if ((type === 'get' || type === 'set') && payloads !== 1) {
      throw new StanzaError('bad-request', `iq ${type} with ${payloads} payload elements`);
    }
    if (type === 'result' && payloads > 1)
      throw new StanzaError('bad-request', 'iq result with several payloads');
  }
  return { kind: name, type, id, to: toJid === null ? '' : toJid.toString(), toJid };
}

function tryJid(value: string): Jid | null {
  try {
    return parseJid(value);
  } catch (error) {
    if (error instanceof JidError) return null;
    throw error;
  }
}

/**
 * The error reply to `stanza` (RFC 6120 §8.3.1): same kind and id, type 'error', addressed back to
 * the sender. Null for stanzas of type 'error', which are never answered with errors.
 */
export function stanzaErrorReply(
  stanza: Element,
  error: StanzaError,
  senderJid: string | null,
): Element | null {
  if (stanza.attrs['type'] === 'error') return null;
  const name = stanza.getName();
  const kind = name === 'message' || name === 'presence' || name === 'iq' ? name : 'iq';
  const to = stanza.attrs['to'];
  return xml(
    kind,
    {
      xmlns: NS.CLIENT,
      type: 'error',
      id: stanza.attrs['id'],
      from: to !== undefined && tryJid(to) !== null ? to : undefined,
      to: senderJid ?? undefined,
    },
    xml(
      'error',
      { type: ERROR_TYPES[error.condition] },
      xml(error.condition, { xmlns: STANZAS_NS }),
      error.text === undefined ? undefined : xml('text', { xmlns: STANZAS_NS }, error.text),
    ),
  );
}

/** An `<iq type='result'/>` answering `request`. */
export function iqResult(
  request: Element,
  from: string | undefined,
  to: string | undefined,
  ...payload: Element[]
): Element {
  return xml('iq', { xmlns: NS.CLIENT, type: 'result', id: request.attrs['id'], from, to }, ...payload);
}
