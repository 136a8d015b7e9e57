/** Namespaces the XMPP core specifications define (RFC 6120, RFC 7395, XEP-0114). */
export const NS = {
  /** The stream element and stream-level children such as features and error (RFC 6120 §4.8.1). */
  STREAMS: 'http://etherx.jabber.org/streams',
  /** Defined stream error conditions (RFC 6120 §4.9.3). */
  STREAM_ERRORS: 'urn:ietf:params:xml:ns:xmpp-streams',
  /** Content namespaces of client, server and component streams (RFC 6120 §4.8.3, XEP-0114). */
  CLIENT: 'jabber:client',
  SERVER: 'jabber:server',
  COMPONENT: 'jabber:component:accept',
  /** WebSocket framing `<open/>` and `<close/>` (RFC 7395 §3.3.2). */
  FRAMING: 'urn:ietf:params:xml:ns:xmpp-framing',
  /** The `xml:` prefix, bound by definition (Namespaces in XML 1.0 §3). */
  XML: 'http://www.w3.org/XML/1998/namespace',
} as const;
