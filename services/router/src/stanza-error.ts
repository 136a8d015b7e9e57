import { xml, type Element } from '@switchboard/xml';

/** Defined stanza error conditions (RFC 6120 §8.3.3). */
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

/** RFC 6120 §8.3.2. */
export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

// The type each condition carries in the RFC 6120 §8.3.3 examples.
const DEFAULT_TYPES: { readonly [C in StanzaErrorCondition]: StanzaErrorType } = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

export const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** A stanza error as a value; `toElement` is the one place it becomes XML. */
export class StanzaError extends Error {
  override readonly name = 'StanzaError';
  readonly type: StanzaErrorType;

  constructor(
    readonly condition: StanzaErrorCondition,
    type?: StanzaErrorType,
    readonly text?: string,
    /** An application-specific condition element (RFC 6120 §8.3.4), e.g. XEP-0191's `<blocked/>`. */
    readonly appCondition?: Element,
  ) {
    super(text === undefined ? condition : `${condition}: ${text}`);
    this.type = type ?? DEFAULT_TYPES[condition];
  }

  /** The `<error/>` child of an error stanza (RFC 6120 §8.3.2). */
  toElement(by?: string): Element {
    return xml(
      'error',
      { type: this.type, by },
      xml(this.condition, { xmlns: STANZAS_NS }),
      this.text === undefined ? undefined : xml('text', { xmlns: STANZAS_NS }, this.text),
      this.appCondition?.clone(),
    );
  }
}

/**
 * The error stanza answering `original` (RFC 6120 §8.3.1): addresses
 * swapped, same id, type 'error'. Messages and presence keep their payload so
 * the sender can tell which one bounced; IQ errors carry only the error.
 */
export function errorReply(original: Element, error: StanzaError): Element {
  const reply = xml(original.name, {
    from: original.attrs['to'],
    to: original.attrs['from'],
    type: 'error',
    id: original.attrs['id'],
  });
  if (original.name !== 'iq') {
    for (const child of original.children) {
      if (typeof child !== 'string' && child.getName() !== 'error') reply.append(child.clone());
    }
  }
  reply.append(error.toElement());
  return reply;
}
