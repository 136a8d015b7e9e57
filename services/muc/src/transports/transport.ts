import type { Element } from '@switchboard/xml';

/** Facts about one incoming stanza beyond the XML. */
export interface Incoming {
  /** Unique per stanza and stable across redeliveries: the envelope id on the bus, a digest over XEP-0114. */
  readonly id: string;
}

/**
 * How stanzas reach the MUC service and leave it (ARCHITECTURE.md,
 * "Gateways"): the room logic in src/room sees only this.
 */
export interface Transport {
  /**
   * Starts delivering stanzas addressed to the service's domain, calling
   * `onStanza` in arrival order but possibly before earlier calls resolved
   * (the service orders per room itself). A stanza counts as handled when
   * `onStanza` resolves; a rejection means "deliver again" where the transport can.
   */
  start(onStanza: (el: Element, incoming: Incoming) => Promise<void>): Promise<void>;
  /** Sends a stanza into the XMPP network; `from` and `to` must be set. */
  send(el: Element): Promise<void>;
  stop(): Promise<void>;
}
