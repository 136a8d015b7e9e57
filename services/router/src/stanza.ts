import type { Envelope } from '@switchboard/protocol';
import { parseElement, type Element } from '@switchboard/xml';
import { splitAddress, type Address } from './address.js';

/**
 * Which side of the walk a stanza is on: 'out' in the sender's partition
 * (what the sender's server does, RFC 6121), 'in' in the recipient's.
 */
export type Stage = 'out' | 'in';

/**
 * An envelope being processed. Addresses come from the envelope's routing
 * facts; the XML is parsed only when a handler asks for `el`
 * (ARCHITECTURE.md, "Performance budget").
 */
export class Stanza {
  readonly from: Address;
  /** For a stanza without 'to', the sender's own bare JID (RFC 6120 §10.3). */
  readonly to: Address;
  #el: Element | undefined;
  #derived = 0;
  /**
   * An error the server generated about the user's own stanza: it reaches
   * the user even from an address the user blocks (XEP-0191 §3.5 needs the
   * not-acceptable error to arrive). Not carried across routers.
   */
  skipGuards = false;

  constructor(
    readonly env: Envelope,
    readonly stage: Stage,
    from?: Address,
    to?: Address,
    el?: Element,
  ) {
    this.from = from ?? splitAddress(env.from);
    this.to = to ?? (env.to === '' ? splitAddress(this.from.bare) : splitAddress(env.to));
    this.#el = el;
  }

  get kind(): Envelope['kind'] {
    return this.env.kind;
  }

  get type(): string {
    return this.env.type;
  }

  /** The stanza had no 'to': it is addressed to the sender's own account (RFC 6120 §10.3). */
  get toSelf(): boolean {
    return this.env.to === '';
  }

  /** The stanza parsed; parsed once, on first use. */
  get el(): Element {
    this.#el ??= parseElement(this.env.xml);
    return this.#el;
  }

  /** The same stanza handed to the recipient's side. */
  inbound(): Stanza {
    return new Stanza(this.env, 'in', this.from, this.to, this.#el);
  }

  /**
   * Envelope id for the n-th stanza this one causes. Deterministic, so a
   * redelivered envelope produces the same ids and the edge drops repeats.
   */
  childId(): string {
    return `${this.env.id}.${++this.#derived}`;
  }
}

/** The first child element: the payload of an IQ (RFC 6120 §8.2.3). */
export function payloadOf(el: Element): Element | undefined {
  for (const child of el.children) if (typeof child !== 'string') return child;
  return undefined;
}
