import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import {
  NS,
  StreamParser,
  escapeXml,
  type Attrs,
  type Element,
  type StreamError,
  type StreamParserHandlers,
  type XmlLimits,
} from '@switchboard/xml';
import type { StreamSink, Transport } from './transport.js';

/**
 * A client stream over TCP: plain with STARTTLS (RFC 6120 §5) or TLS from the first byte
 * (XEP-0368). Bytes go through the streaming parser; the stream header is written as an open tag.
 */
export class SocketTransport implements Transport {
  readonly kind: 'tcp' | 'tls';
  readonly remoteAddress: string;
  private socket: Socket;
  private sink: StreamSink | null = null;
  private readonly events: ParserEvents;
  private readonly parser: StreamParser;
  private handshaking = false;
  private disconnected = false;

  constructor(
    socket: Socket,
    private readonly secureContext: SecureContext | null,
    limits: Partial<XmlLimits>,
  ) {
    this.socket = socket;
    this.kind = socket instanceof TLSSocket ? 'tls' : 'tcp';
    this.remoteAddress = socket.remoteAddress ?? '';
    this.events = new ParserEvents();
    this.parser = new StreamParser(this.events, limits);
  }

  isSecure(): boolean {
    return this.socket instanceof TLSSocket && !this.handshaking;
  }

  tlsSocket(): TLSSocket | null {
    return this.socket instanceof TLSSocket && !this.handshaking ? this.socket : null;
  }

  canStartTls(): boolean {
    return this.secureContext !== null && !(this.socket instanceof TLSSocket);
  }

  attach(sink: StreamSink): void {
    this.sink = sink;
    this.events.sink = sink;
    this.listen(this.socket);
  }

  private readonly onData = (chunk: Buffer): void => {
    const sink = this.sink;
    if (sink === null || !sink.onBytes(chunk.length)) return;
    try {
      this.parser.write(chunk);
    } catch (error) {
      sink.onFault(error);
    }
  };

  private readonly onEnd = (): void => {
    this.parser.end();
    // The peer will send nothing more; what we still write is flushed and then the socket closes.
    this.socket.end();
  };

  private readonly onClose = (): void => {
    if (this.disconnected) return;
    this.disconnected = true;
    this.sink?.onDisconnect();
  };

  private readonly onError = (): void => {
    // 'close' follows; a reset or a failed handshake needs no stream error.
  };

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  private unlisten(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    socket.off('error', this.onError);
  }

  sendOpen(attrs: Record<string, string>): void {
    let header = "<?xml version='1.0'?><stream:stream";
    for (const [k, v] of Object.entries(attrs)) header += ` ${k}="${escapeXml(v)}"`;
    this.write(`${header} xmlns:stream="${NS.STREAMS}">`);
  }

  sendElement(serialized: string): void {
    this.write(serialized);
  }

  sendClose(): void {
    this.write('</stream:stream>');
  }

  sendKeepalive(): void {
    this.write(' ');
  }

  private write(data: string): void {
    if (!this.socket.writable) return;
    this.socket.write(data);
  }

  startTls(onSecure: () => void): void {
    if (this.secureContext === null) throw new Error('STARTTLS without a certificate');
    const raw = this.socket;
    this.unlisten(raw);
    // Bytes that came with <starttls/> were sent in the clear: never read them as part of the TLS stream.
    this.parser.reset();
    this.handshaking = true;
    const secure = new TLSSocket(raw, { isServer: true, secureContext: this.secureContext });
    this.socket = secure;
    this.listen(secure);
    secure.once('secure', () => {
      this.handshaking = false;
      onSecure();
    });
  }

  restart(): void {
    this.parser.reset();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  bufferedBytes(): number {
    return this.socket.writableLength;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }
}

/** The parser's events, passed to the stream: one small object per connection, not four closures. */
class ParserEvents implements StreamParserHandlers {
  sink: StreamSink | null = null;

  streamStart(attrs: Attrs): void {
    this.sink?.onOpen(attrs);
  }

  stanza(el: Element): void {
    this.sink?.onElement(el);
  }

  streamEnd(): void {
    this.sink?.onStreamEnd();
  }

  error(err: StreamError): void {
    this.sink?.onParseError(err);
  }
}
