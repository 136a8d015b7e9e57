// Same contract as the SMS gateway's transports; services never import each other (ARCHITECTURE.md, "Layout").
import type { Element } from '@switchboard/xml';

/** Facts about one incoming stanza the translation needs beyond the XML. */
export interface Incoming {
  /**
   * Unique per stanza and stable across redeliveries: the envelope id on the
   * bus, a digest of sender and stanza id over XEP-0114. Used to tell redeliveries apart.
   */
  readonly id: string;
}

/**
 * How stanzas reach the gateway and leave it (ARCHITECTURE.md, "Gateways"):
 * the translation code in src/core sees only this.
 */
export interface Transport {
  /**
   * Starts delivering stanzas addressed to the gateway's domain. A stanza
   * counts as handled when `onStanza` resolves; a rejection means "deliver again" where the transport can.
   */
  start(onStanza: (el: Element, incoming: Incoming) => Promise<void>): Promise<void>;
  /** Sends a stanza into the XMPP network; `from` must be set. */
  send(el: Element): Promise<void>;
  stop(): Promise<void>;
}
