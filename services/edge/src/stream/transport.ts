import type { TLSSocket } from 'node:tls';
import type { Attrs, Element, StreamError } from '@switchboard/xml';

export type TransportKind = 'tcp' | 'tls' | 'websocket';

/** What a transport reports to the stream it carries, already framed into XMPP events. */
export interface StreamSink {
  /** Raw bytes arrived; false when the stream refuses them (a limit was hit, it is closing). */
  onBytes(count: number): boolean;
  /** A stream header (`<stream:stream>` on TCP, `<open/>` on WebSocket, RFC 7395 §3.3.2). */
  onOpen(attrs: Attrs): void;
  onElement(el: Element): void;
  /** The peer closed the stream (`</stream:stream>`, `<close/>`). */
  onStreamEnd(): void;
  /** The input broke an XML rule or a limit. */
  onParseError(error: StreamError): void;
  /** Handling the input threw something unexpected; the stream closes with internal-server-error. */
  onFault(error: unknown): void;
  /** The connection is gone, for whatever reason. Called once. */
  onDisconnect(): void;
}

/**
 * One client connection below the XMPP stream: TCP (with STARTTLS), direct TLS (XEP-0368) or
 * WebSocket (RFC 7395). It frames input into stream events and output into the transport's syntax.
 */
export interface Transport {
  readonly kind: TransportKind;
  readonly remoteAddress: string;
  /** Whether passwords may travel: TLS on this connection, or a TLS proxy the config vouches for. */
  isSecure(): boolean;
  /** The TLS connection the client sees, for channel binding; null when TLS ends elsewhere. */
  tlsSocket(): TLSSocket | null;
  /** STARTTLS can be offered now (RFC 6120 §5). */
  canStartTls(): boolean;
  attach(sink: StreamSink): void;
  /** The response stream header. */
  sendOpen(attrs: Record<string, string>): void;
  /** One serialized top-level element. */
  sendElement(serialized: string): void;
  /** The closing tag of the stream (`</stream:stream>`, `<close/>`). */
  sendClose(): void;
  /** RFC 6120 §4.6.1 whitespace keepalive, or a WebSocket ping (RFC 7395 §3.4 forbids whitespace). */
  sendKeepalive(): void;
  /**
   * After `<proceed/>` is written: ignores what is left of the input, upgrades to TLS and calls
   * `onSecure` when the handshake is done (RFC 6120 §5.4.3.3).
   */
  startTls(onSecure: () => void): void;
  /** A new stream follows on the same connection (after SASL success, RFC 6120 §6.4.6). */
  restart(): void;
  /** Closes gracefully once queued output is written. */
  end(): void;
  destroy(): void;
  /** Bytes queued for the socket and not yet written. */
  bufferedBytes(): number;
  /**
   * Holds output until `uncork()`, so several stanzas delivered in one batch leave
   * as one TLS record and one write instead of one each.
   */
  cork(): void;
  uncork(): void;
}
