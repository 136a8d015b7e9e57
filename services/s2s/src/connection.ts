import type { Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect, type SecureContext } from 'node:tls';
import {
  NS,
  StreamError,
  StreamParser,
  escapeXml,
  streamErrorElement,
  type Attrs,
  type Element,
  type StreamErrorCondition,
} from '@switchboard/xml';
import { NS_DIALBACK } from './dialback.js';

export interface StreamEvents {
  streamStart(attrs: Attrs): void;
  element(el: Element): void;
  /** The stream or socket ended; `error` when a stream error or socket error ended it. */
  closed(reason: Error | null): void;
}

/** Parser limits for server streams: larger stanzas than clients, still bounded. */
const LIMITS = { maxStanzaBytes: 512 * 1024 };

/**
 * One server-to-server TCP connection (RFC 6120 §4): a streaming parser on the
 * socket, stream headers in jabber:server with the dialback prefix declared
 * (XEP-0220 §2.1), STARTTLS upgrade on either side, and stream errors.
 */
export class ServerConnection {
  socket: Socket;
  private parser: StreamParser;
  private ended = false;
  private events: StreamEvents | null = null;
  /** Stream restarts discard what followed in the chunk: set while upgrading. */
  private upgrading = false;

  constructor(socket: Socket) {
    this.socket = socket;
    this.parser = this.newParser();
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket;
  }

  get tls(): TLSSocket | null {
    return this.socket instanceof TLSSocket ? this.socket : null;
  }

  attach(events: StreamEvents): void {
    this.events = events;
    this.listen(this.socket);
  }

  private newParser(): StreamParser {
    return new StreamParser(
      {
        streamStart: (attrs) => this.events?.streamStart(attrs),
        stanza: (el) => this.events?.element(el),
        streamEnd: () => this.close(null),
        error: (err) => this.fail(err),
      },
      LIMITS,
    );
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.upgrading) return;
    try {
      this.parser.write(chunk);
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  };
  private readonly onEnd = (): void => this.finish(null, false);
  private readonly onError = (error: Error): void => this.finish(error, false);

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private unlisten(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onEnd);
    socket.off('error', this.onError);
  }

  /** Opens our stream (RFC 6120 §4.7): `id` only when we are the receiving side. */
  open(attrs: { from: string; to: string; id?: string }): void {
    const id = attrs.id === undefined ? '' : ` id='${escapeXml(attrs.id)}'`;
    this.write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAMS}' ` +
        `xmlns:db='${NS_DIALBACK}' from='${escapeXml(attrs.from)}' to='${escapeXml(attrs.to)}'${id} ` +
        `version='1.0'>`,
    );
  }

  /** `onWritten` runs once the bytes are handed to the kernel, or with an error when they never will be. */
  send(el: Element | string, onWritten?: (error?: Error | null) => void): void {
    this.write(typeof el === 'string' ? el : el.toString(), onWritten);
  }

  private write(text: string, onWritten?: (error?: Error | null) => void): void {
    if (this.ended || this.socket.destroyed) {
      onWritten?.(new Error('the stream is closed'));
      return;
    }
    this.socket.write(text, onWritten);
  }

  /** Starts a new stream on the same connection (RFC 6120 §5.4.3.3, §6.4.6). */
  restart(): void {
    this.parser.reset();
  }

  /** Receiving side of STARTTLS (RFC 6120 §5.4.3.3): answers proceed, then handshakes as the TLS server. */
  upgradeAsServer(context: SecureContext, onSecure: () => void): void {
    this.upgrading = true;
    this.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    const plain = this.socket;
    this.unlisten(plain);
    const tls = new TLSSocket(plain, {
      isServer: true,
      secureContext: context,
      // RFC 7590 §3.4 / XEP-0178: ask for the peer's certificate; dialback covers a missing or bad one.
      requestCert: true,
      rejectUnauthorized: false,
    });
    this.swap(tls, 'secure', onSecure);
  }

  /** Initiating side of STARTTLS: after proceed, handshakes as the TLS client with SNI = the remote domain. */
  upgradeAsClient(context: SecureContext, servername: string, onSecure: () => void): void {
    this.upgrading = true;
    const plain = this.socket;
    this.unlisten(plain);
    const tls = tlsConnect({
      socket: plain,
      secureContext: context,
      servername,
      // Validation is ours (RFC 6125 via identity.ts); a failure must not fall back to cleartext.
      rejectUnauthorized: false,
    });
    this.swap(tls, 'secureConnect', onSecure);
  }

  private swap(tls: TLSSocket, event: 'secure' | 'secureConnect', onSecure: () => void): void {
    this.socket = tls;
    this.parser = this.newParser();
    const onHandshakeError = (error: Error): void => this.finish(error, false);
    tls.once('error', onHandshakeError);
    tls.once(event, () => {
      tls.off('error', onHandshakeError);
      this.upgrading = false;
      this.listen(tls);
      onSecure();
    });
  }

  /** Ends the stream with a stream error (RFC 6120 §4.9.1.1) and closes. */
  streamError(condition: StreamErrorCondition, text?: string): void {
    this.write(streamErrorElement(condition, text).toString());
    this.close(new StreamError(condition, text));
  }

  /** Closes our stream and the socket; `reason` is reported to the events. */
  close(reason: Error | null = null): void {
    if (this.ended) return;
    this.write('</stream:stream>');
    this.finish(reason, true);
  }

  private fail(error: Error): void {
    if (error instanceof StreamError) this.streamError(error.condition, error.text);
    else this.streamError('internal-server-error');
  }

  private finish(reason: Error | null, graceful: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (graceful) this.socket.end();
    else this.socket.destroy();
    // A peer that never closes its side does not keep the socket.
    setTimeout(() => this.socket.destroy(), 5000).unref();
    this.events?.closed(reason);
  }

  get closed(): boolean {
    return this.ended;
  }
}
