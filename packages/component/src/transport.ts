import type { Element } from '@switchboard/xml';

/** Facts about one incoming stanza the service needs beyond the XML. */
export interface Incoming {
  /**
   * Unique per stanza and stable across redeliveries: the envelope id on the
   * bus, a digest of sender and stanza id over XEP-0114. Services key work by
   * it (the SMS gateway's outbound jobs) or tell redeliveries apart with it.
   */
  readonly id: string;
}

/**
 * How stanzas reach a component service (a gateway, the MUC service, the
 * upload service) and leave it (ARCHITECTURE.md, "Gateways"): the service's
 * own logic sees only this.
 */
export interface Transport {
  /**
   * Starts delivering stanzas addressed to the service's domain. A stanza
   * counts as handled when `onStanza` resolves; a rejection means "deliver
   * again" where the transport can. Whether a call waits for the previous one
   * is the transport's option (`BusTransportOptions.dispatch`).
   */
  start(onStanza: (el: Element, incoming: Incoming) => Promise<void>, hooks?: TransportHooks): Promise<void>;
  /** Sends a stanza into the XMPP network; `from` (and on the bus `to`) must be set. */
  send(el: Element): Promise<void>;
  stop(): Promise<void>;
}

export interface TransportHooks {
  /**
   * The service can reach the XMPP network (again): once after start on the
   * bus, after every (re)connect over XEP-0114. The SMS gateway rejoins rooms here.
   */
  online?(): void;
}
