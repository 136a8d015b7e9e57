import { tryParseJid } from '@switchboard/jid';
import { xml, type Element } from '@switchboard/xml';
import { NS } from './namespaces.js';

/** RFC 6120 §8.3.3 defined conditions the MUC service uses. */
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'registration-required'
  | 'service-unavailable';

/** RFC 6120 §8.3.2 error types, by condition (as XEP-0045's examples give them). */
const TYPES: Record<StanzaErrorCondition, 'auth' | 'cancel' | 'modify' | 'wait'> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'registration-required': 'auth',
  'service-unavailable': 'cancel',
};

/** A stanza error as a value; turned into XML in one place, {@link errorReply}. */
export class StanzaError extends Error {
  override readonly name = 'StanzaError';
  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
  ) {
    super(text ?? condition);
  }
}

/**
 * The error reply to `stanza` (RFC 6120 §8.3.1): from and to swapped, the
 * same id, type='error', the original payload kept (XEP-0045 examples echo
 * the `<x/>` of a refused join), then the `<error/>`.
 */
export function errorReply(stanza: Element, error: StanzaError, from?: string): Element {
  const sender = from ?? stanza.attrs['to'];
  // XEP-0045 examples: `by` names the room (its bare JID), also for errors from an occupant JID.
  const by = sender === undefined ? undefined : (tryParseJid(sender)?.bare().toString() ?? sender);
  const reply = xml(stanza.name, {
    from: sender,
    to: stanza.attrs['from'],
    id: stanza.attrs['id'],
    type: 'error',
  });
  if (stanza.name !== 'iq') for (const child of stanza.getChildElements()) reply.append(child.clone());
  reply.append(
    xml(
      'error',
      { type: TYPES[error.condition], by },
      xml(error.condition, { xmlns: NS.STANZAS }),
      error.text === undefined ? null : xml('text', { xmlns: NS.STANZAS }, error.text),
    ),
  );
  return reply;
}
