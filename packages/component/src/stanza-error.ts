import { xml, type Element } from '@switchboard/xml';

/** The RFC 6120 §8.3.3 conditions the component services use. */
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'recipient-unavailable'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable';

/** RFC 6120 §8.3.2. */
export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

// The types of the RFC 6120 §8.3.3 examples.
const DEFAULT_TYPES: { readonly [C in StanzaErrorCondition]: StanzaErrorType } = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'recipient-unavailable': 'wait',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
};

const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** A stanza error as a value; `toElement` is the one place it becomes XML. */
export class StanzaError extends Error {
  override readonly name = 'StanzaError';
  readonly type: StanzaErrorType;

  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
    type?: StanzaErrorType,
  ) {
    super(text === undefined ? condition : `${condition}: ${text}`);
    this.type = type ?? DEFAULT_TYPES[condition];
  }

  toElement(): Element {
    return xml(
      'error',
      { type: this.type },
      xml(this.condition, { xmlns: STANZAS_NS }),
      this.text === undefined ? null : xml('text', { xmlns: STANZAS_NS, 'xml:lang': 'en' }, this.text),
    );
  }
}

export interface ErrorReplyOptions {
  /**
   * Presence to the service is a MUC join (XEP-0045 §7.2.1): its error
   * carries the MUC extension `<x xmlns='http://jabber.org/protocol/muc'/>` back.
   */
  readonly mucJoin?: boolean;
}

/** The error reply to `stanza` (RFC 6120 §8.2): addresses swapped, same id, type error. */
export function errorReply(stanza: Element, error: StanzaError, options: ErrorReplyOptions = {}): Element {
  return xml(
    stanza.name,
    { from: stanza.attrs['to'], to: stanza.attrs['from'], id: stanza.attrs['id'], type: 'error' },
    options.mucJoin === true && stanza.name === 'presence'
      ? xml('x', { xmlns: 'http://jabber.org/protocol/muc' })
      : null,
    error.toElement(),
  );
}
