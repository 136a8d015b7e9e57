import { parseElement, type Element } from '@switchboard/xml';

export const CSI_NS = 'urn:xmpp:csi:0';

/** A stanza held back while the client is inactive. */
export interface HeldStanza {
  readonly id: string;
  readonly xml: string;
  readonly ts: number;
}

/** Payloads that make a message worth waking the client for, besides a body (as Prosody's mod_csi_simple). */
const URGENT_PAYLOADS: ReadonlySet<string> = new Set([
  'eu.siacs.conversations.axolotl', // OMEMO
  'urn:xmpp:omemo:2',
  'urn:xmpp:jingle-message:0', // call proposals
  'urn:xmpp:jingle-message:1',
]);

/** Held stanzas beyond this are flushed: inactivity must not cost unbounded memory. */
export const MAX_HELD = 256;

/**
 * Whether a stanza must reach an inactive client at once (XEP-0352 §5): IQs (someone awaits the
 * answer), errors, and messages with a body or an encrypted or call payload, also inside a carbon
 * or forward. Presence and chat states without a body wait.
 */
export function isUrgent(el: Element): boolean {
  if (el.getName() === 'iq') return true;
  if (el.attrs['type'] === 'error') return true;
  if (el.getName() !== 'message') return false;
  return hasUrgentContent(el, 0);
}

function hasUrgentContent(message: Element, depth: number): boolean {
  for (const child of message.getChildElements()) {
    if (child.getName() === 'body' || child.getName() === 'subject') return true;
    const ns = child.getNS();
    if (URGENT_PAYLOADS.has(ns)) return true;
    // XEP-0280 carbons, XEP-0297 forwards, XEP-0313 results: look at the message inside.
    if (depth < 3) {
      for (const inner of child.getChildElements()) {
        if (inner.getName() === 'message' && hasUrgentContent(inner, depth + 1)) return true;
        if (inner.getName() === 'forwarded') {
          const wrapped = inner.getChild('message');
          if (wrapped !== undefined && hasUrgentContent(wrapped, depth + 1)) return true;
        }
      }
    }
  }
  return false;
}

/**
 * What an inactive client is spared (XEP-0352 §5): presence is coalesced to the latest per
 * sender, other stanzas wait in order; everything goes out, in order, on `active` or with the
 * next urgent stanza.
 */
export class CsiBuffer {
  private held: HeldStanza[] = [];
  /** Sender of a held presence → its entry, to replace it with a newer one. */
  private readonly presenceFrom = new Map<string, HeldStanza>();

  get size(): number {
    return this.held.length;
  }

  /** Holds `stanza` unless it is urgent; false when it must go out now (after what is held). */
  hold(stanza: HeldStanza): boolean {
    let el: Element;
    try {
      el = parseElement(stanza.xml);
    } catch {
      return false;
    }
    if (isUrgent(el) || this.held.length >= MAX_HELD) return false;
    if (el.getName() === 'presence') {
      const from = el.attrs['from'] ?? '';
      const older = this.presenceFrom.get(from);
      if (older !== undefined) this.held = this.held.filter((h) => h !== older);
      this.presenceFrom.set(from, stanza);
    }
    this.held.push(stanza);
    return true;
  }

  /** Everything held, in order; the buffer is empty afterwards. */
  drain(): HeldStanza[] {
    const out = this.held;
    this.held = [];
    this.presenceFrom.clear();
    return out;
  }
}
