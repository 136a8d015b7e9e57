import { JidError, parseJid, type Jid } from '@switchboard/jid';
import type { EnvelopeKind } from '@switchboard/protocol';
import { NS, type Element } from '@switchboard/xml';
import { StanzaError, StanzaStreamViolation } from '../stream/stanza.js';

/** The routing facts of a checked component stanza. */
export interface CheckedComponentStanza {
  readonly kind: Extract<EnvelopeKind, 'message' | 'presence' | 'iq'>;
  readonly type: string;
  readonly id: string;
  readonly from: Jid;
  readonly to: Jid;
}

/** RFC 6120 §8.2.3 for iq; RFC 6121 §5.2.2 and §4.7.1 for message and presence. */
const TYPES: Readonly<Record<CheckedComponentStanza['kind'], ReadonlySet<string>>> = {
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

/**
 * Checks a stanza a component sent (XEP-0114 §3) and moves it into jabber:client, the namespace
 * every envelope's XML is in. Throws StanzaStreamViolation for stream-level faults and StanzaError
 * for faults answered with a stanza error. `domain` is the component's normalized domain.
 */
export function checkComponentStanza(el: Element, domain: string): CheckedComponentStanza {
  const name = el.getName();
  if (name !== 'message' && name !== 'presence' && name !== 'iq') {
    throw new StanzaStreamViolation('unsupported-stanza-type', `<${el.name}/> is not a stanza`); // RFC 6120 §4.9.3.24
  }
  const ns = el.getNS();
  // Prosody's mod_component takes both the stream's namespace and jabber:client.
  if (el.getPrefix() !== '' || (ns !== NS.COMPONENT && ns !== NS.CLIENT)) {
    throw new StanzaStreamViolation('invalid-namespace', `<${name}/> is not in ${NS.COMPONENT}`);
  }
  // XEP-0114 §3 (Example 4): stanzas carry 'from' and 'to'. A component speaks only for its own
  // domain (RFC 6120 §4.9.3.9 invalid-from); Prosody closes the stream the same way by default.
  const claimed = el.attrs['from'];
  const from = claimed === undefined ? null : tryJid(claimed);
  if (from === null || from.domain !== domain) {
    throw new StanzaStreamViolation(
      'invalid-from',
      `'from' ${claimed ?? '(missing)'} is not an address at ${domain}`,
    );
  }
  el.attrs['from'] = from.toString();
  el.attrs['xmlns'] = NS.CLIENT;

  const rawTo = el.attrs['to'];
  if (rawTo === undefined) throw new StanzaError('bad-request', "components must address stanzas with 'to'");
  let to: Jid;
  try {
    to = parseJid(rawTo);
  } catch (error) {
    if (error instanceof JidError) throw new StanzaError('jid-malformed', error.message); // RFC 6120 §8.3.3.8
    throw error;
  }
  el.attrs['to'] = to.toString();

  const type = el.attrs['type'] ?? '';
  const id = el.attrs['id'] ?? '';
  if (type !== '' && !TYPES[name].has(type))
    throw new StanzaError('bad-request', `unknown ${name} type '${type}'`);
  if (name === 'iq') {
    // RFC 6120 §8.2.3: an iq carries an id and a type.
    if (id === '') throw new StanzaError('bad-request', 'iq without id');
    if (type === '') throw new StanzaError('bad-request', 'iq without type');
  }
  return { kind: name, type, id, from, to };
}

// A serialized start tag cannot hold a raw '>' or a quote inside a value (both are escaped), so
// the first '>' ends the top-level start tag and this matches only its real xmlns attribute.
const CLIENT_XMLNS = / xmlns=(["'])jabber:client\1/;

/**
 * An envelope's stanza as it goes on a component stream: the top-level element moves from
 * jabber:client into the stream's namespace (XEP-0114 §3; Prosody drops the attribute likewise).
 * Nested elements that name jabber:client themselves (forwarded messages) are left alone.
 */
export function toComponentNamespace(stanza: string): string {
  const end = stanza.indexOf('>');
  if (end === -1) return stanza;
  const head = stanza.slice(0, end);
  const replaced = head.replace(CLIENT_XMLNS, '');
  return replaced === head ? stanza : replaced + stanza.slice(end);
}

function tryJid(value: string): Jid | null {
  try {
    return parseJid(value);
  } catch (error) {
    if (error instanceof JidError) return null;
    throw error;
  }
}
